"""Soak: ten minutes of varied sound streamed through the firmware in timestamp mode on
qemu-an386 (the shipped export, firmware/generated), every embedding equal to the reference
board's byte for byte, with the stack peak and the end frame's counters.

Ten minutes is 12,001 windows (the firmware's sample ring wraps over 5,000 times, the frames'
sequence number runs to 12,000). Measured CPU time for ten minutes: making the audio 14 s,
QEMU 40 s, the reference board 91 s; QEMU and the reference run in parallel, so about two
minutes on an idle 2-core machine (7 minutes on a shared one at load 11). The benchmark
(bench/long_audio.py, reports/long_audio.md) runs an hour, where the 16-bit sequence number wraps.
"""

import threading

import numpy as np
import pytest
import soundfile as sf

from exporter import SAMPLE_RATE
from exporter.boards import firmware_runner
from exporter.audio import synthetic as synthetic_audio
from exporter.audio.files import AudioStream, to_pcm16
from exporter.boards import reference
from exporter.defaults import GENERATED_DIR
from exporter.float_model.windows import TS_HOP

pytestmark = pytest.mark.slow

SOAK_SECONDS = 600.0
BOARD = "qemu-an386"


def _write_varied(path, seconds: float) -> int:
    """Every kind of exporter/audio/synthetic.py in turn, 20 s pieces, written piece by piece as
    16-bit 32 kHz (read back as the same int16): its length in samples."""
    n = 0
    with sf.SoundFile(path, "w", samplerate=SAMPLE_RATE, channels=1, subtype="PCM_16") as f:
        for _, x in synthetic_audio.pieces(seconds, piece_seconds=20.0, first_seed=1000):
            f.write(to_pcm16(x))
            n += len(x)
    return n


def test_ten_minutes_of_timestamps_on_qemu_equal_the_reference(tmp_path):
    exe = firmware_runner.build_embedder(BOARD, "timestamp", GENERATED_DIR)
    # The stack peak of a short clip: a long run must not go deeper (nothing accumulates).
    short = to_pcm16(synthetic_audio.clip(0, 2.0, "speech")[1])
    short_run = firmware_runner.run_embedder(BOARD, exe, short)
    firmware_runner.check_run(BOARD, short_run, short.size, "timestamp")

    path = tmp_path / "soak.wav"
    n = _write_varied(path, SOAK_SECONDS)
    assert n == SOAK_SECONDS * SAMPLE_RATE
    runs = {}

    def on_qemu():
        try:  # the file streamed into the firmware's PCM file, as `run` does
            runs["qemu"] = firmware_runner.run_embedder(BOARD, exe, AudioStream(path).pcm16())
        except BaseException as e:  # shown by the main thread
            runs["error"] = e

    qemu = threading.Thread(target=on_qemu)
    qemu.start()
    expected = reference.embedder("timestamp", GENERATED_DIR)(AudioStream(path).pcm16())
    qemu.join()
    if "error" in runs:
        raise runs["error"]
    run = runs["qemu"]

    n_windows = n // TS_HOP + 1
    firmware_runner.check_run(BOARD, run, n, "timestamp")  # hello, no CRC errors or stray bytes, timestamps 50 i ms
    assert run.n_samples == n and run.end.n_samples == n
    assert run.end.n_embeddings == len(run.embeddings) == n_windows == len(expected)
    got = np.stack(run.embeddings)
    differ = np.flatnonzero((got != expected).any(axis=1))
    assert differ.size == 0, f"{differ.size} of {n_windows} embeddings differ, the first at {50 * differ[0]} ms"
    assert run.timestamps_ms[-1] == 50 * (n_windows - 1)
    assert 0 < run.end.stack_used <= run.end.stack_size - 512
    assert run.end.stack_used == short_run.end.stack_used
