"""The 126/125 resampler of the nRF52840-DK's I2S path (firmware/mic/resample_126_125.c)
against its numpy twin (exporter/frontend/resample.py) bit for bit, on the host and in a
Cortex-M4 emulator, on random and sine inputs cut at many places; the committed taps are the
design script's; the response and a tone through it."""

import importlib.util
import subprocess
from pathlib import Path

import numpy as np
import pytest

from exporter import ROOT
from exporter.boards import cmake_build
from exporter.frontend import resample as rs


@pytest.fixture(scope="module")
def cli():
    return cmake_build.build("host", targets=["resample_cli"]) / "firmware" / "mic" / "resample_cli"


def run_c(cli: Path, x: np.ndarray, tmp_path: Path, chunk: int, i2s: bool = False) -> np.ndarray:
    path = tmp_path / "in.pcm"
    np.asarray(x, dtype="<i4" if i2s else "<i2").tofile(path)
    cmd = [str(cli), str(path), str(chunk)] + (["i2s"] if i2s else [])
    out = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(out, dtype="<i2")


def sine(freq, amp, n, rate=rs.IN_RATE, phase=0.0):
    return np.round(amp * 32767 * np.sin(2 * np.pi * freq * np.arange(n) / rate + phase)).astype(np.int16)


def inputs():
    rng = np.random.default_rng(12)
    return {
        "random full scale": rng.integers(-32768, 32768, 9000).astype(np.int16),
        "sine 1 kHz -1 dBFS": sine(1000, 0.89, 7000),
        "sine 15.5 kHz full scale": sine(15500, 1.0, 5000, phase=0.3),  # near the band edge
        "square wave full scale": np.where(np.arange(6000) % 64 < 32, 32767, -32768).astype(np.int16),  # overshoot saturates
        "short": np.array([5, -7, 32767], np.int16),
    }


INPUTS = inputs()


@pytest.mark.parametrize("name", list(INPUTS))
def test_c_equals_twin_bit_for_bit(cli, tmp_path, name):
    x = INPUTS[name]
    want = rs.resample(x)
    assert want.size == -(-x.size * 126 // 125)
    for chunk in (1, 37, 320, 4096):
        got = run_c(cli, x, tmp_path, chunk)
        diff = np.flatnonzero(got != want) if got.size == want.size else [-1]
        assert got.size == want.size and len(diff) == 0, f"{name}, chunk {chunk}: first difference at {diff[:1]}"


def i2s_words():
    """24-bit I2S samples as the nRF52840 stores them: noise and a tone on a large DC offset
    (an SPH0645's), the extremes included."""
    rng = np.random.default_rng(5)
    t = np.arange(12000) / rs.IN_RATE
    w = 2_000_000 + 3_000_000 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 200_000, t.size)
    w = np.clip(np.round(w), -2**23, 2**23 - 1).astype(np.int32)
    w[100:110], w[200:210] = 2**23 - 1, -2**23
    return w


def test_i2s_path_c_equals_twin(cli, tmp_path):
    """The nRF52840-DK's whole interrupt DSP (i2s_pcm.c: 24 -> 16 bits, DC blocker; then the
    resampler) against its twin, cut at many places; the DC offset removed."""
    w = i2s_words()
    want = rs.nrf_mic_path(w)
    for chunk in (1, 320, 4096):
        np.testing.assert_array_equal(run_c(cli, w, tmp_path, chunk, i2s=True), want, err_msg=f"chunk {chunk}")
    # the DC offset (2,000,000 / 256 = 7,812) is gone (measured 9 left): DC and the tone fitted over the
    # last 3000 samples
    y = want[-3000:].astype(np.float64)
    t = (np.arange(want.size)[-3000:] - 24) / rs.OUT_RATE
    a = np.stack([np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 440 * t), np.ones_like(t)], 1)
    c, *_ = np.linalg.lstsq(a, y, rcond=None)
    assert abs(c[2]) < 20 and abs(np.hypot(c[0], c[1]) / (3_000_000 / 256) - 1) < 0.01


def test_twin_in_pieces_equals_whole():
    x = INPUTS["random full scale"]
    r = rs.Resampler()
    cuts = [0, 1, 2, 125, 126, 127, 400, 2000, x.size]
    parts = np.concatenate([r.process(x[a:b]) for a, b in zip(cuts, cuts[1:])])
    np.testing.assert_array_equal(parts, rs.resample(x))
    y = rs.resample(INPUTS["square wave full scale"]).astype(np.int64)
    assert y.max() == 32767 and y.min() == -32768  # the overshoot saturates, never wraps


def test_cortex_m4_build_equals_twin():
    """The target build (SMLAD, unaligned window loads, -O2 Cortex-M4) in unicorn, blocks of
    320 inputs as the I2S buffers: the twin's integers, at the cost docs/boards.md counts on
    (measured 134 instructions per output sample: 4.3 M per second of audio)."""
    from exporter.frontend.resample_m4 import ResamplerM4

    m4 = ResamplerM4()
    for name in ("random full scale", "sine 15.5 kHz full scale"):
        x = INPUTS[name]
        got = m4.resample(x, block=320)
        np.testing.assert_array_equal(got, rs.resample(x), err_msg=name)
        assert m4.instructions / got.size < 160
    # the whole interrupt DSP (measured 164 instructions per output sample: 5.2 M per second)
    w = i2s_words()
    got = m4.resample(w, block=320, i2s=True)
    np.testing.assert_array_equal(got, rs.nrf_mic_path(w))
    assert m4.instructions / got.size < 200


def test_taps_are_the_designs():
    spec = importlib.util.spec_from_file_location("resample_design", ROOT / "bench" / "resample_design.py")
    design = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(design)
    assert design.render(design.design()) == rs.HEADER.read_text()
    t = rs.taps()
    assert t.shape == (126, 48) and (t.sum(axis=1) == 16384).all()
    assert (np.abs(t).sum(axis=1) * 32768 + 8192 < 2**31).all()  # the C's int32 accumulator cannot overflow


def test_response():
    """Flat within 0.01 dB to 14 kHz, above -1 dB at 15 kHz; from 17.5 kHz (images of the input
    band folding back below 14.5 kHz) below -50 dB."""
    pb = rs.response_db(np.linspace(0, 14000, 1401))
    assert np.abs(pb).max() < 0.01
    assert rs.response_db(np.array([15000.0]))[0] > -1
    assert rs.response_db(np.linspace(17500, 200_000, 20000)).max() < -50


def test_tone_keeps_its_frequency_and_level():
    """A 1 kHz tone sampled at 31,746 Hz comes out as a 1 kHz tone at 32,000 Hz, level within
    0.01 dB, the rest more than 70 dB down (measured 75.0 dB: the Q14 taps' rounding; the int16
    input alone allows 92 dB; the microphones' own SNR is 65 dB)."""
    x = sine(1000, 0.5, 20000)
    y = rs.resample(x)[200:].astype(np.float64)  # past the start (zeros before the stream)
    t = (np.arange(y.size) + 200) / rs.OUT_RATE
    a = np.stack([np.sin(2 * np.pi * 1000 * t), np.cos(2 * np.pi * 1000 * t)], 1)
    c, *_ = np.linalg.lstsq(a, y, rcond=None)
    resid = y - a @ c
    assert abs(20 * np.log10(np.hypot(*c) / (0.5 * 32767))) < 0.01
    assert 10 * np.log10(np.sum((a @ c) ** 2) / np.sum(resid**2)) > 70
