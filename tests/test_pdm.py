"""PDM -> PCM decimation (firmware/mic/pdm_decimate.c) against its numpy twin
(exporter/frontend/pdm.py) bit for bit on PDM made by a sigma-delta modulator, and the chain's
measured quality: passband, stopband, SNR, DC removal, full scale."""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from exporter import ROOT
from exporter.boards import cmake_build
from exporter.audio import example_clips
from exporter.frontend import pdm, sdm

FS = pdm.PDM_RATE


@pytest.fixture(scope="module")
def pdm_cli():
    return cmake_build.build("host", targets=["pdm_cli"]) / "firmware" / "mic" / "pdm_cli"


def run_c(cli: Path, data: np.ndarray, tmp_path: Path, chunk: int = 37, i2s: bool = False) -> np.ndarray:
    path = tmp_path / "in.bin"
    np.asarray(data).tofile(path)
    cmd = [str(cli), str(path), str(chunk)] + (["i2s"] if i2s else [])
    out = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(out, dtype="<i2")


def tone(freq: float, amp: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * FS)) / FS
    return amp * np.sin(2 * np.pi * freq * t)


def fit_tone(y: np.ndarray, freq: float, rate: int = pdm.PCM_RATE) -> tuple[float, float]:
    """Amplitude (of full scale) and SNR in dB of a sine in y (DC and the tone fitted)."""
    t = np.arange(y.size) / rate
    a = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t), np.ones_like(t)], 1)
    c, *_ = np.linalg.lstsq(a, y.astype(np.float64), rcond=None)
    fit = a[:, :2] @ c[:2]
    resid = y - a @ c
    return float(np.hypot(c[0], c[1]) / 32768), float(10 * np.log10(np.sum(fit**2) / np.sum(resid**2)))


def streams():
    """Named PDM streams: tones, a sweep, speech- and music-like clips (2nd-order modulator, and
    the MEMS-like 4th-order one), noise, edge cases."""
    rng = np.random.default_rng(7)
    sweep_t = np.arange(int(0.3 * FS)) / FS
    sweep = 0.6 * np.sin(2 * np.pi * (20 * sweep_t + (20000 - 20) / (2 * 0.3) * sweep_t**2))
    speech = pdm.upsample_to_pdm_rate(example_clips.speech_like(0.25) * 1.2)
    music = pdm.upsample_to_pdm_rate(example_clips.music_like(0.25))
    return {
        "sine 1 kHz -6 dBFS": pdm.sigma_delta(tone(1000, 0.5, 0.2)),
        "sine 14 kHz -3 dBFS": pdm.sigma_delta(tone(14000, 0.7, 0.1), seed=1),
        "sweep 20 Hz - 20 kHz": pdm.sigma_delta(sweep, seed=2),
        "speech-like": pdm.sigma_delta(speech, seed=3),
        "music-like": pdm.sigma_delta(music, seed=4),
        "music-like, MEMS-like modulator": sdm.modulate(music, seed=4),
        "random bits": rng.integers(0, 256, 8 * 4000, dtype=np.uint8),
        "all ones then all zeros": np.repeat(np.array([0xFF, 0x00], np.uint8), 8 * 1500),
        "silence pattern": np.full(8 * 2000, 0x55, np.uint8),
    }


STREAMS = streams()


@pytest.mark.parametrize("name", list(STREAMS))
def test_c_equals_twin_bit_for_bit(pdm_cli, tmp_path, name):
    data = STREAMS[name]
    want = pdm.decimate(data)
    assert want.size == data.size // 8
    for chunk in (1, 37, 320):
        got = run_c(pdm_cli, data, tmp_path, chunk)
        assert got.size == want.size
        diff = np.flatnonzero(got != want)
        assert diff.size == 0, f"{name}, chunk {chunk}: first difference at sample {diff[:1]}"


def test_stm32_halfword_order_equals_byte_order(pdm_cli, tmp_path):
    data = STREAMS["speech-like"]
    halfwords = pdm.i2s_halfwords(data)
    # the first PDM sample is bit 15 of the first halfword
    assert (halfwords[0] >> 15) == (data[0] & 1)
    got = run_c(pdm_cli, halfwords.astype("<u2"), tmp_path, 5, i2s=True)
    np.testing.assert_array_equal(got, pdm.decimate(data))


def test_full_scale_saturates_without_wrapping():
    y = pdm.decimate(STREAMS["all ones then all zeros"])
    # all ones is +full scale, all zeros -full scale; the DC blocker then pulls both to 0,
    # and the step between them would be 2x full scale: it must saturate, never wrap.
    assert y[:300].max() == 32767 and y.min() == -32768
    # the edges arrive 50 samples (1.6 ms, the group delay) late
    assert np.all(y[50:1550] > 0)  # +full scale, decaying
    assert np.all(y[1550:3000] < 0) and y[1550] == -32768  # a -2x full-scale step: saturated, no wrap


def test_coefficients_in_c_equal_the_twin():
    src = (ROOT / "firmware" / "mic" / "pdm_decimate.c").read_text()

    def table(name):
        body = re.search(rf"{name}\[[A-Z_]+\] = \{{(.*?)\}};", src, re.S).group(1)
        return np.array([int(v) for v in re.findall(r"-?\d+", body)])

    np.testing.assert_array_equal(table("pdm_hb_taps"), pdm.HB_TAPS)
    np.testing.assert_array_equal(table("pdm_fir_taps"), pdm.FIR_TAPS)
    assert pdm.HB_TAPS.sum() == 32768 and np.all(pdm.HB_TAPS[1::2][:5] == 0)
    assert np.array_equal(pdm.FIR_TAPS, pdm.FIR_TAPS[::-1])  # linear phase


def test_designed_response():
    """From the integer coefficients: passband 20 Hz-15 kHz within +-0.2 dB (measured +-0.14),
    stopband from 16 kHz to 1.024 MHz below -60 dB (measured -66.8), in the bands that fold
    onto 0-16 kHz at each decimation."""
    pb = pdm.response_db(np.linspace(20, 15000, 3000))
    assert np.ptp(pb) < 0.4 and np.abs(pb).max() < 0.2
    stop = pdm.response_db(np.linspace(16000, 1_024_000, 200_000))
    assert stop.max() < -60


def test_tone_level_and_snr():
    """A -6 dBFS 1 kHz tone comes out at -6 dBFS (+-0.2 dB) with an SNR (20 Hz-16 kHz, the
    second-order modulator's noise included) above 60 dB (measured 66.7)."""
    y = pdm.decimate(pdm.sigma_delta(tone(1000, 0.5, 0.6), seed=5))[9600:]
    amp, snr = fit_tone(y, 1000)
    assert abs(20 * np.log10(amp / 0.5)) < 0.2
    assert snr > 60


def test_out_of_band_tone_is_rejected():
    """20 kHz (folds to 12 kHz at 32 kHz) and 120 kHz (near the CIC's first alias band):
    attenuated by more than 55 dB."""
    for freq, alias in ((20000, 12000), (120000, 8000)):
        y = pdm.decimate(pdm.sigma_delta(tone(freq, 0.5, 0.3)))[3200:]
        amp, _ = fit_tone(y, alias)
        assert 20 * np.log10(amp / 0.5 + 1e-12) < -55, freq


def test_dc_is_removed():
    """A PDM stream with a 10 % density offset (a microphone's DC) plus a tone: after 0.3 s
    the output's mean is under 0.05 % of full scale, the tone intact."""
    y = pdm.decimate(pdm.sigma_delta(0.1 + tone(500, 0.3, 0.6)))
    tail = y[9600:]
    assert abs(tail.mean()) < 0.0005 * 32768
    amp, _ = fit_tone(tail, 500)
    assert abs(20 * np.log10(amp / 0.3)) < 0.2


def test_cortex_m4_build_equals_twin():
    """The target build (SMLALD low-pass, -O2 Cortex-M4) in unicorn, blocks of 320 samples
    like the DMA half-buffers, on STM32 halfwords: the twin's integers, at a cost within the
    budget docs/boards.md counts on (measured 892 instructions per PCM sample)."""
    from exporter.frontend.pdm_m4 import PdmM4

    m4 = PdmM4()
    data = STREAMS["music-like"][: 8 * 3200]
    got = m4.decimate(pdm.i2s_halfwords(data).astype("<u2"), block=320, i2s=True)
    np.testing.assert_array_equal(got, pdm.decimate(data))
    assert m4.instructions / 3200 < 1000


# The MEMS-like modulator model (exporter/frontend/sdm.py) and the embedding of decimated PDM.


@pytest.mark.parametrize("order", [4, 5])
def test_mems_modulator_c_helper_equals_python_loop(order):
    """The C helper's bits are the Python loop's, byte for byte (a speech-like clip's start)."""
    x = pdm.upsample_to_pdm_rate(example_clips.speech_like(0.02) * 1.2)
    got = sdm.modulate(x, order=order, seed=3)
    np.testing.assert_array_equal(got, sdm.modulate_python(x, order=order, seed=3))
    assert got.size == x.size // 8


def test_mems_modulator_noise_and_overload():
    """The 4th-order NTF: out-of-band gain 1.5, at most -70 dB in band (measured -73.5 at
    16 kHz); in-band SNR of a -6 dBFS tone above 100 dB
    through an ideal filter (measured 103.3) and above 85 dB through the decimator (measured
    88.0: the decimator's floor, 18 dB better than through the 2nd-order model); a sine beyond
    its stable range raises instead of giving garbage."""
    f = np.linspace(0, FS / 2, 20_000)
    assert abs(sdm.ntf_response(f).max() - 1.5) < 0.01
    assert sdm.ntf_response(np.linspace(20, 16000, 2000)).max() < 10 ** (-70 / 20)  # in band: -73.5 dB at worst
    x = tone(1000, 0.5, 0.5)
    bits = sdm.modulate(x)
    pm = np.unpackbits(bits, bitorder="little")[: x.size] * 2.0 - 1.0
    spec = np.abs(np.fft.rfft(pm * np.hanning(pm.size))) ** 2
    fr = np.fft.rfftfreq(pm.size, 1 / FS)
    band, near = (fr > 20) & (fr < 16000), np.abs(fr - 1000) < 30
    assert 10 * np.log10(spec[band & near].sum() / spec[band & ~near].sum()) > 100
    amp, snr = fit_tone(pdm.decimate(bits)[6400:], 1000)
    assert abs(20 * np.log10(amp / 0.5)) < 0.2 and snr > 85
    with pytest.raises(sdm.Overload):
        sdm.modulate(tone(1000, 0.8, 0.1))


@pytest.fixture(scope="module")
def embeddings():
    from exporter.benchmark import pdm_fidelity

    return pdm_fidelity.Embeddings(ROOT / "firmware" / "generated")


@pytest.mark.parametrize("clip,int8_min", [("music-like", 0.99), ("speech-like", 0.98)])
def test_embedding_of_decimated_pdm(embeddings, clip, int8_min):
    """Issue 12: the embedding of decimated PDM (MEMS-like modulator, the decimator's twin) vs
    that of the original PCM, delayed as the decimator's output is, default model, per section.
    The float network (on the firmware's fixed-point log-mel) sees no change: >= 0.999 (measured
    1.0000 on both clips). The int8 network: >= 0.99 on the music-like clip (measured 0.9961);
    on the speech-like clip its own sensitivity sets the floor: the modulator's dither seed alone
    (130 dB below full scale) moves B15 over 0.9862-0.9986, 1 LSB of white noise to 0.9918
    (reports/pdm_decimator.md); this seed measures 0.9862, asserted >= 0.98."""
    from exporter.audio.files import to_pcm16
    from exporter.benchmark import pdm_fidelity as pf

    x = (example_clips.speech_like if clip == "speech-like" else example_clips.music_like)(3.0) * pf.LEVEL
    ref = to_pcm16(pf.delayed(x, pf.GROUP_DELAY))
    got = pf.mic_path(x)
    fixed_float = embeddings.cosines(embeddings.fixed_float(ref), embeddings.fixed_float(got), False)
    assert min(fixed_float.values()) >= 0.999, fixed_float
    int8 = embeddings.cosines(embeddings.int8(ref), embeddings.int8(got), True)
    assert min(int8.values()) >= int8_min, int8


def test_the_reference_delay_is_the_decimators():
    """pdm_fidelity aligns by the decimator's output offset (49.73 samples): the decimated PDM
    of a clip matches the clip through the decimator's linear response to 70 dB, one sample
    off it does not (the old 51-sample shift was 1.3 samples off)."""
    from exporter.benchmark import pdm_fidelity as pf

    x = example_clips.music_like(0.5) * pf.LEVEL
    y = pf.mic_path(x).astype(np.float64)[500:-500]
    lin = pf.decimator_response(x)[500:-500] * 32768

    def snr(r):
        return 10 * np.log10(np.sum(r**2) / np.sum((y - r) ** 2))

    assert snr(lin) > 70
    assert snr(np.roll(lin, 1)) < 30 and snr(np.roll(lin, -1)) < 30
