"""Validate on target: `run --board serial:PORT` and the validation firmware (firmware/app/validator.c).

The whole path host tool -> UART -> firmware -> UART -> host, with QEMU's UART on a
pseudo-terminal, for both QEMU boards; the host build of the firmware through pipes for the
protocol's failure cases (a damaged frame is sent again, garbage from the board is named);
a port that does not answer."""

import os
import select
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile

from exporter import ROOT
from exporter.audio import example_clips
from exporter.boards import firmware_runner
from exporter.boards import uart_protocol as up
from exporter.audio.files import to_pcm16
from exporter.boards import reference
from exporter.boards import serial as sb
from exporter.defaults import GENERATED_DIR
from exporter.errors import UserError

SR = 32000


def _clips():
    return {name: to_pcm16(example_clips.CLIPS[name](0.4)) for name in ("speech", "music")}


def _run_cli(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "exporter", "run", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)
    return proc, time.monotonic() - t


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["scene", "timestamp"])
@pytest.mark.parametrize("board", ["qemu-an386", "qemu-netduinoplus2"])
def test_validation_firmware_in_qemu_equals_reference(tmp_path, board, mode):
    clips = _clips()
    files = []
    for name, clip in clips.items():
        files.append(str(tmp_path / f"{name}.wav"))
        soundfile.write(files[-1], clip, SR, subtype="PCM_16")
    exe = firmware_runner.build_embedder(board, mode, GENERATED_DIR, target="validator")
    out = tmp_path / "r.npz"
    with firmware_runner.qemu_serial_pty(board, exe) as pty:
        proc, _ = _run_cli("--board", f"serial:{pty}", "--mode", mode, "--export", str(GENERATED_DIR),
                           *files, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for f in files:
        assert f"{f}: equal to the reference board" in proc.stdout
    # the integers written, checked against the reference board independently of the tool's comparison
    got = np.load(out)["embeddings_q"]
    for i, clip in enumerate(clips.values()):
        want = reference.embed_clips([clip], mode, GENERATED_DIR)[0]
        assert np.array_equal(got[i][: len(np.atleast_2d(want))] if mode == "timestamp" else got[i], want)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["scene", "timestamp"])
def test_validation_firmware_runs_the_heads(tmp_path, head_on_generated, mode):
    """An export with a task head: the validation firmware sends a scores frame per embedding, `run`
    checks them against the reference board and writes scores and labels (the reference board's, as
    the integers)."""
    from exporter.benchmark.heads import export_with_heads

    export = tmp_path / "export"
    export_with_heads(GENERATED_DIR, [head_on_generated], export)
    clip = _clips()["speech"]
    wav = str(tmp_path / "speech.wav")
    soundfile.write(wav, clip, SR, subtype="PCM_16")
    exe = firmware_runner.build_embedder("qemu-an386", mode, export, target="validator")
    out = tmp_path / "r.npz"
    with firmware_runner.qemu_serial_pty("qemu-an386", exe) as pty:
        proc, _ = _run_cli("--board", f"serial:{pty}", "--mode", mode, "--export", str(export), wav,
                           "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"{wav}: equal to the reference board" in proc.stdout and "the scores of 1 head(s)" in proc.stdout
    r = np.load(out)
    q, scores = reference.scores_embedder(mode, export)(clip)
    assert list(r["heads"]) == ["t"] and np.array_equal(r["scores_q.t"][0], scores["t"])
    assert np.array_equal(r["embeddings_q"][0], q)


def test_port_that_does_not_answer(tmp_path):
    master, slave = os.openpty()  # nothing reads or answers on the other side
    try:
        wav = tmp_path / "a.wav"
        soundfile.write(wav, _clips()["speech"], SR, subtype="PCM_16")
        proc, seconds = _run_cli("--board", f"serial:{os.ttyname(slave)}", "--export", str(GENERATED_DIR),
                                 str(wav), "--out", str(tmp_path / "r.npz"), timeout=120)
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode != 0
    assert "no answer within" in proc.stderr and "Traceback" not in proc.stderr
    assert seconds < 30  # the tool's start-up included; the wait itself is sb.HELLO_TIMEOUT


def test_missing_port_is_a_clear_error(tmp_path):
    wav = tmp_path / "a.wav"
    soundfile.write(wav, _clips()["speech"], SR, subtype="PCM_16")
    proc, _ = _run_cli("--board", f"serial:{tmp_path}/no-such-port", "--export", str(GENERATED_DIR), str(wav),
                       "--out", str(tmp_path / "r.npz"), timeout=120)
    assert proc.returncode != 0 and "cannot open serial port" in proc.stderr and "Traceback" not in proc.stderr


# ---- the host build of the validation firmware, through pipes ------------------------------------


class PipePort:
    """The host validator's standard input and output as a serial port; ``damage(data)`` may
    change what is written (the host -> board direction), ``noise`` is inserted into what is read."""

    in_waiting = 4096

    def __init__(self, proc, damage=None):
        self.proc, self.damage, self.noise = proc, damage, b""

    def write(self, data):
        self.proc.stdin.write(self.damage(data) if self.damage else data)

    def flush(self):
        self.proc.stdin.flush()

    def read(self, n):
        if self.noise:
            out, self.noise = self.noise, b""
            return out
        if not select.select([self.proc.stdout], [], [], 0.05)[0]:
            return b""
        return os.read(self.proc.stdout.fileno(), n)


@pytest.fixture(scope="module")
def host_validator():
    return firmware_runner.build_embedder("host", "timestamp", GENERATED_DIR, target="validator")


@pytest.fixture
def start(host_validator):
    procs = []

    def start(damage=None):
        p = subprocess.Popen([str(host_validator)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        procs.append(p)
        port = PipePort(p, damage)
        return port, sb.Session(sb.Link(port, "pipe"))

    yield start
    for p in procs:
        p.stdin.close()
        assert p.wait(timeout=30) == 0  # the validator ends with its input


def test_damaged_frame_is_sent_again(start):
    damaged = []

    def damage(data):  # flip a payload byte of the second pcm frame, once
        if data[5] == up.PCM and len(damaged) < 2:
            damaged.append(data)
            if len(damaged) == 2:
                return data[:20] + bytes([data[20] ^ 0xFF]) + data[21:]
        return data

    port, session = start(damage)
    clip = _clips()["speech"]
    got = sb.check_clip("pipe", session.hello, session.embed(clip), clip.size,
                        reference.embed_clips([clip], "timestamp", GENERATED_DIR)[0])
    assert len(damaged) == 2 and got.shape[0] == clip.size // 1600 + 1
    assert session.link.corruption() is None


def test_garbage_from_the_board_is_named(start):
    port, session = start()
    port.noise = b"\x00\xff garbage \xa5\x5a"  # between the board's frames
    session.embed(_clips()["speech"])
    assert "the board sent garbage" in session.link.corruption()


def test_first_difference_names_window_and_section(start):
    port, session = start()
    clip = _clips()["music"]
    result = session.embed(clip)
    want = reference.embed_clips([clip], "timestamp", GENERATED_DIR)[0].copy()
    assert sb.check_clip("pipe", session.hello, result, clip.size, want).shape == want.shape
    want[2, 128 + 8 + 3] += 1  # B11, the 4th channel, of window 2
    with pytest.raises(UserError, match=r"window 2, section B11, value 139: .* \(1 of \d+ values differ\)"):
        sb.check_clip("pipe", session.hello, result, clip.size, want)
