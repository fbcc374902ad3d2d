"""The frontend compiled for a Cortex-M4 (DSP path: SMMULR, UMLAL) and run in the unicorn
emulator gives the same bytes as the numpy twin (and so as the portable host build)."""

import numpy as np
import pytest

from exporter.audio.files import to_pcm16
from exporter.frontend import fixed, signals
from exporter.frontend import tables as tb


@pytest.fixture(scope="module")
def m4():
    from exporter.frontend.m4sim import M4

    return M4()


def check(m4, pcm, block):
    frames, mean, n = m4.logmel_q12(pcm, block)
    want = fixed.logmel_q12(pcm)
    assert n == want.shape[0]
    assert frames.tobytes() == want.tobytes()
    assert mean.tobytes() == fixed.mel_mean_q12(want).tobytes()


@pytest.mark.parametrize("block", [320, 777])
def test_golden_audio(m4, test_audio, block):
    check(m4, to_pcm16(test_audio), block)


@pytest.mark.parametrize("name", sorted(signals.CLASSES))
def test_signal_classes(m4, name):
    check(m4, signals.make(name, 6000, -3.0, seed=2), 1000)


def test_extremes_and_ties(m4):
    check(m4, np.tile(np.array([-32768, 32767], np.int16), 3000), 320)
    ties = np.zeros(8000, np.int16)
    ties[5::97] = -32768  # SMMULR rounding ties (see test_frontend_exact.test_rounding_ties)
    check(m4, ties, 320)
    check(m4, signals.make("white", tb.MIN_CLIP_SAMPLES, 0.0), 1)


def test_too_short(m4):
    frames, _, n = m4.logmel_q12(signals.make("white", tb.MIN_CLIP_SAMPLES - 1, 0.0), 320)
    assert n < 0 and frames.shape[0] == 0
