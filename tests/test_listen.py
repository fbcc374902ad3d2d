"""`python -m exporter listen PORT`: the live stream of a flashed board decoded.

End to end: the normal embedder firmware in QEMU (qemu-an386) with its UART on a TCP socket,
read by the command; the embeddings it writes equal the reference board's for the audio the
firmware's microphone (semihosting) read. The decoder's problem reports (garbage, lost frames,
board errors) and the budget frame on a scripted byte stream."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from exporter import ROOT
from exporter.audio import example_clips
from exporter.audio.files import to_pcm16
from exporter.boards import firmware_runner, reference
from exporter.boards import uart_protocol as up
from exporter.boards.listener import Listener
from exporter.defaults import GENERATED_DIR


@pytest.fixture(scope="module")
def embedder_elf():
    return firmware_runner.build_embedder("qemu-an386", "timestamp", GENERATED_DIR)


@contextlib.contextmanager
def qemu_on_socket(elf, clip, tmp_path):
    """The embedder in QEMU reading ``clip`` as its microphone, its UART a TCP server that
    holds the guest until the listener connects; yields socket://127.0.0.1:PORT."""
    pcm = tmp_path / "mic.pcm"
    np.asarray(clip, dtype="<i2").tofile(pcm)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cmd = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none",
           "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on",
           "-semihosting-config", f"enable=on,target=native,arg=embedder,arg={pcm}", "-kernel", str(elf)]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:  # QEMU listens once the port is taken (connecting to find out would be the connection)
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"QEMU did not start: {p.stderr.read()}")
            try:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
            except OSError:
                break
            time.sleep(0.05)
        yield f"socket://127.0.0.1:{port}"
    finally:
        p.kill()
        p.wait()
        p.stderr.close()


def _listen(*args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # SIGINT as a terminal gives it (a test run in the background inherits it ignored)
    return subprocess.Popen([sys.executable, "-m", "exporter", "listen", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


@pytest.mark.slow
def test_qemu_board_stream_to_its_end(embedder_elf, tmp_path):
    clip = to_pcm16(example_clips.CLIPS["speech"](1.0))
    want = reference.embed_clips([clip], "timestamp", GENERATED_DIR)[0]
    out = tmp_path / "e.npz"
    with qemu_on_socket(embedder_elf, clip, tmp_path) as url:
        p = _listen(url, "--out", out)
        stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 0, stderr
    assert "hello: board qemu-an386, timestamp mode, 184 values" in stdout
    assert stdout.count(" embedding ") == len(want) and f"end: {clip.size} samples, {len(want)} embeddings" in stdout
    assert "the board's stream ended" in stderr and "garbage" not in stderr and "lost" not in stderr
    got = np.load(out)
    np.testing.assert_array_equal(got["embeddings_q"], want)
    np.testing.assert_array_equal(got["timestamps_ms"], 50 * np.arange(len(want)))
    assert str(got["board"]) == "qemu-an386" and got["embeddings"].dtype == np.float32


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["ctrl-c", "seconds"])
def test_qemu_board_stream_stopped(embedder_elf, tmp_path, stop):
    """Stopped mid-stream (Ctrl-C, or --seconds): the embeddings so far, equal to the
    reference board's first ones."""
    # 2 minutes: QEMU (up to 740 M instructions/s measured, reports/long_audio.md) needs more than 7 s
    clip = np.tile(to_pcm16(example_clips.CLIPS["music"](20.0)), 6)
    out = tmp_path / "e.npz"
    with qemu_on_socket(embedder_elf, clip, tmp_path) as url:
        if stop == "seconds":
            p = _listen(url, "--out", out, "--seconds", 2)
            stdout, stderr = p.communicate(timeout=300)
        else:
            p = _listen(url, "--out", out)
            lines = 0
            while lines < 5:  # hello and a few embeddings
                assert p.stdout.readline(), p.stderr.read()
                lines += 1
            p.send_signal(signal.SIGINT)
            stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 0, stderr
    assert ("Ctrl-C;" if stop == "ctrl-c" else ": 2 s;") in stderr
    got = np.load(out)["embeddings_q"]
    n_windows = clip.size // 1600 + 1
    assert 0 < len(got) < n_windows
    # a window reads only its own 160 ms: the reference of a prefix long enough gives the same first ones
    want = reference.embed_clips([clip[: (len(got) + 4) * 1600]], "timestamp", GENERATED_DIR)[0]
    np.testing.assert_array_equal(got, want[: len(got)])


# ---- the decoder on a scripted stream -------------------------------------------------------


class ScriptedPort:
    """Gives ``data`` in pieces of the sizes given (cycled; a piece is what one wait of the
    port brings: read(1), then in_waiting more), then nothing."""

    def __init__(self, data, pieces=(7, 300, 1, 64)):
        self.data, self.pieces, self.i, self.left = data, pieces, 0, 0

    @property
    def in_waiting(self):
        return self.left

    def read(self, n):
        if self.left == 0:
            self.left = self.pieces[self.i % len(self.pieces)]
            self.i += 1
        k = min(n, self.left, len(self.data))
        self.left = 0 if k == len(self.data) else self.left - k
        out, self.data = self.data[:k], self.data[k:]
        return out


def _hello():
    return up.Hello("timestamp", 8, 6, 4, 16, [up.Tap("B5", 0, 2, 0.05, -3)], "stm32f4-discovery")


def _stream():
    emb = lambda seq, t, v: up.encode_frame(up.EMBEDDING, np.full(6, v, "<i2").tobytes(), seq=seq, timestamp_ms=t)
    budget = up.Budget(168_000_000, 31_746_032, "timestamp", 32000, 21, 21 * 2_400_000, 28_600_000, 8_400_000, True)
    scores = up.Scores(0, "dog", False, 2, 0.5, 1, np.array([1, 3, 9], np.int8))
    bad = bytearray(emb(4, 100, 9))
    bad[20] ^= 0x40  # a damaged frame: wrong CRC
    return b"".join([
        b"\x13\x37 tail of a frame sent before the port opened",
        up.encode_frame(up.BUDGET, up.encode_budget(budget), seq=30),
        up.encode_frame(up.HELLO, up.encode_hello(_hello()), seq=31),
        emb(32, 0, 256), up.encode_frame(up.SCORES, up.encode_scores(scores), seq=33, timestamp_ms=0),
        emb(34, 50, 512),
        b"\x00\xffnoise\xa5\x5a",  # garbage between frames
        bytes(bad),
        emb(37, 150, 1024),  # 35 (and 36, the damaged one) lost
        up.encode_frame(up.ERROR, b"\x06\x00microphone overrun: 3 blocks dropped", seq=38),
    ])


def test_listener_names_problems_and_keeps_the_good_frames():
    said, problems = [], []
    lst = Listener(ScriptedPort(_stream()), "port", say=said.append, problem=problems.append, clock=lambda: 0.0)
    for _ in range(200):
        lst.poll()
    lst.finish()
    text = "\n".join(said)
    assert "budget: clock 168 MHz, microphone 31,746.0 Hz measured, timestamp mode: 2.40 M cycles per window" in text
    assert "real time" in text and "hello: board stm32f4-discovery, timestamp mode, 6 values (L 4, B5 2)" in text
    assert "head dog: top class 2 of 3 (logit +4.00)" in text
    assert [p.split(": ", 1)[1].split(":")[0] for p in problems] == [
        "garbage on the line", "2 frame(s) lost before frame 37 (a embedding frame)", "the board reported error 6"]
    # the noise, and the damaged frame after its first byte; not the tail before the first frame
    assert f"{9 + 30 - 1} stray bytes, 1 frames with a wrong CRC" in problems[0]
    a = lst.arrays()
    np.testing.assert_array_equal(a["embeddings_q"][:, 0], [256, 512, 1024])
    np.testing.assert_array_equal(a["timestamps_ms"], [0, 50, 150])
    np.testing.assert_array_equal(a["top_class"][:, 0], [2, -1, -1])
    assert a["budget_clock_hz"] == 168_000_000 and a["budget_realtime"]
    np.testing.assert_allclose(a["embeddings"][0], [1, 1, 1, 1, 259 * 0.05, 259 * 0.05], rtol=1e-6)


def test_wrong_baud_rate_is_named_once_per_second():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes()  # what a wrong baud rate reads
    t = [0.0]
    problems = []
    lst = Listener(ScriptedPort(noise, (500,)), "port", say=print, problem=problems.append, clock=lambda: t[0])
    for _ in range(40):
        lst.poll()
        t[0] += 0.1
    lst.finish()
    assert lst.frames == 0 and 4 <= len(problems) <= 6  # 4 s of reading: a line a second, and the last count
    assert all("garbage on the line" in p for p in problems)
    assert sum(int(p.split("garbage on the line: ")[1].split()[0]) for p in problems) == lst.garbage_bytes
