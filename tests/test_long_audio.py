"""Long files on the firmware boards: the QEMU timeout follows the work, the firmware's progress
is reported, and the temporary PCM file is gone on every way out. (The streaming itself:
tests/test_windows.py, test_audio.py, test_embed_float.py, test_run_reference.py; an hour-long
soak: tests/test_soak.py; memory: bench/long_audio.py, reports/long_audio.md.)"""

import json
import os
import shutil
import tempfile

import numpy as np
import pytest

from exporter import ROOT, SAMPLE_RATE
from exporter.audio import example_clips
from exporter.boards import firmware_runner
from exporter.audio.files import to_pcm16
from exporter.boards import reference
from exporter.defaults import GENERATED_DIR
from exporter.errors import UserError
from exporter.quantization.graph import Graph
from exporter.float_model.windows import SCENE_HOP, TS_HOP


def test_instructions_per_sample_match_the_benchmark():
    """The timeout's estimate of the work is the benchmark's measurement (reports/bench.json,
    qemu-an386: exact instruction counts), within 10 %."""
    graph = Graph.load(GENERATED_DIR)
    measured = {r["mode"]: r for r in json.loads((ROOT / "reports" / "bench.json").read_text())["results"]
                if r["board"] == "qemu-an386"}
    ts = measured["timestamp"]["instructions"]["per_second_of_audio"] / SAMPLE_RATE
    assert firmware_runner.instructions_per_sample(graph, "timestamp") == pytest.approx(ts, rel=0.1)
    i = measured["scene"]["instructions"]  # one 10 s window; a long clip has one every 2.5 s
    per_window = i["frontend_per_window"] + i["network_per_window"]
    assert firmware_runner.instructions_per_sample(graph, "scene") * SCENE_HOP == pytest.approx(per_window, rel=0.1)


def test_timeout_follows_the_clip_with_a_cap():
    per_sample = firmware_runner.instructions_per_sample(Graph.load(GENERATED_DIR), "timestamp")
    hour = 3600 * SAMPLE_RATE
    timeouts = [firmware_runner.default_timeout(n, per_sample) for n in (0, 10 * SAMPLE_RATE, hour // 6, hour)]
    assert timeouts == sorted(timeouts) and timeouts[0] == firmware_runner.TIMEOUT_START_SECONDS
    # An hour of timestamps took 453 s in QEMU (issue 14): allowed several times that, not 20 hours.
    assert 4 * 453 < timeouts[-1] < 2 * 3600
    assert firmware_runner.default_timeout(1000 * hour, per_sample) == firmware_runner.TIMEOUT_CAP_SECONDS


@pytest.fixture(scope="module")
def an386_timestamp():
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.fail("qemu-system-arm / arm-none-eabi-gcc missing (bash ci/setup.sh)")
    return firmware_runner.build_embedder("qemu-an386", "timestamp", GENERATED_DIR)


@pytest.fixture
def own_tmp(tmp_path, monkeypatch):
    """Temporary files of this test go to a folder of its own, to see that none are left."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.slow
def test_progress_reports_the_samples_the_firmware_read(an386_timestamp, own_tmp, monkeypatch):
    """run_embedder(progress=...) follows the firmware through its PCM file (/proc: the offset of
    QEMU's descriptor), while it runs; the blocks are written as they come (a generator here)."""
    from exporter import subproc

    monkeypatch.setattr(subproc, "POLL_SECONDS", 0.05)
    clip = to_pcm16(np.concatenate([example_clips.speech_like(6.0), example_clips.music_like(6.0)]))
    seen = []
    run = firmware_runner.run_embedder("qemu-an386", an386_timestamp, (clip[i : i + 7000] for i in range(0, clip.size, 7000)),
                                       progress=seen.append)
    firmware_runner.check_run("qemu-an386", run, clip.size, "timestamp")
    assert run.n_samples == clip.size
    assert np.array_equal(np.stack(run.embeddings), reference.embed_clips([clip], "timestamp", GENERATED_DIR)[0])
    assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] <= clip.size
    assert seen[0] < clip.size and seen[-1] > 0  # seen while it ran
    assert list(own_tmp.iterdir()) == []


@pytest.mark.slow
def test_temporary_pcm_is_removed_on_every_way_out(an386_timestamp, own_tmp):
    embed = firmware_runner.embedder("qemu-an386", "timestamp", GENERATED_DIR)
    clip = to_pcm16(example_clips.noise(20.0))

    # finished
    assert embed(clip).shape == (clip.size // TS_HOP + 1, 184)
    assert list(own_tmp.iterdir()) == []
    # too short: the windows' error, before QEMU starts
    with pytest.raises(UserError, match="too short for timestamp embeddings"):
        embed(clip[:2000])
    assert list(own_tmp.iterdir()) == []
    # the audio fails half-way (an unreadable block of a file): nothing is run, nothing left

    def failing():
        yield clip[:32000]
        raise UserError("clip.wav: cannot read audio (damaged block)")

    with pytest.raises(UserError, match="damaged block"):
        embed(failing())
    assert list(own_tmp.iterdir()) == []
    # a timeout
    with pytest.raises(firmware_runner.FirmwareError, match="did not finish within"):
        firmware_runner.run_embedder("qemu-an386", an386_timestamp, clip, timeout=0.5)
    assert list(own_tmp.iterdir()) == []
    # an interruption while QEMU runs (Ctrl-C, SIGTERM: the CLI raises KeyboardInterrupt)
    qemu = []

    def interrupt(samples):
        qemu.extend(_qemu_reading(own_tmp))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed(clip, progress=interrupt)
    assert list(own_tmp.iterdir()) == []
    assert len(qemu) == 1 and not os.path.exists(f"/proc/{qemu[0]}")  # ended and reaped


def _qemu_reading(folder) -> list[int]:
    """QEMU processes with a file of ``folder`` open."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if not f.read().startswith("qemu-system"):
                    continue
            if any(os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(folder)) for fd in os.listdir(f"/proc/{pid}/fd")):
                out.append(int(pid))
        except OSError:
            continue
    return out
