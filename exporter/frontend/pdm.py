"""PDM -> PCM decimation: the bit-exact numpy twin of firmware/mic/pdm_decimate.c, and a
sigma-delta modulator that makes PDM test streams.

The C code is the device's (STM32F4-Discovery, MP45DT02 microphone: 1-bit PDM at
2.048 MHz); this module computes the same integers with whole-array numpy operations, so
the tests can compare the two bit for bit on any stream. Stages (see the C header):
CIC sinc^4 /16 -> half-band /2 -> 191-tap low-pass /2 with droop compensation -> DC blocker.
PDM bytes hold 8 samples, the first (oldest) in the least significant bit.
"""

from __future__ import annotations

import numpy as np

PDM_RATE = 2_048_000
PCM_RATE = 32_000
DECIMATION = PDM_RATE // PCM_RATE  # 64
BYTES_PER_SAMPLE = DECIMATION // 8

# Half-band, Q15 (sum 32768): firmware/mic/pdm_decimate.c pdm_hb_taps.
HB_TAPS = np.array([
    -2, 0, 52, 0, -274, 0, 924, 0, -2619, 0, 10111, 16384,
    10111, 0, -2619, 0, 924, 0, -274, 0, 52, 0, -2,
], dtype=np.int64)
# Low-pass, Q15, 191 taps: pdm_fir_taps.
FIR_TAPS = np.array([
    3, -20, -74, -118, -89, 0, 54, 19, -37, -24, 28, 28,
    -23, -31, 19, 35, -15, -39, 11, 44, -5, -49, -1, 53,
    9, -56, -18, 59, 28, -61, -39, 61, 52, -59, -65, 55,
    78, -49, -92, 41, 106, -30, -119, 16, 131, 1, -143, -20,
    152, 42, -160, -67, 164, 95, -166, -125, 163, 158, -157, -193,
    145, 229, -128, -267, 105, 306, -74, -346, 36, 385, 11, -424,
    -68, 462, 137, -499, -220, 534, 321, -566, -444, 595, 598, -619,
    -799, 639, 1073, -650, -1483, 648, 2183, -608, -3739, 353, 10613, 16252,
    10613, 353, -3739, -608, 2183, 648, -1483, -650, 1073, 639, -799, -619,
    598, 595, -444, -566, 321, 534, -220, -499, 137, 462, -68, -424,
    11, 385, 36, -346, -74, 306, 105, -267, -128, 229, 145, -193,
    -157, 158, 163, -125, -166, 95, 164, -67, -160, 42, 152, -20,
    -143, 1, 131, 16, -119, -30, 106, 41, -92, -49, 78, 55,
    -65, -59, 52, 61, -39, -61, 28, 59, -18, -56, 9, 53,
    -1, -49, -5, 44, 11, -39, -15, 35, 19, -31, -23, 28,
    28, -24, -37, 19, 54, 0, -89, -118, -74, -20, 3,
], dtype=np.int64)


def cic_taps(order: int = 4, decimation: int = 16) -> np.ndarray:
    """sinc^order as an FIR: ``order`` boxcars of ``decimation`` convolved (61 taps, sum 2^16)."""
    h = np.ones(1, dtype=np.int64)
    for _ in range(order):
        h = np.convolve(h, np.ones(decimation, dtype=np.int64))
    return h


def _sat16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -32768, 32767)


def decimate(pdm: np.ndarray) -> np.ndarray:
    """PDM bytes (uint8, a multiple of 8) -> int16 PCM at 32 kHz, equal to pdm_dec_process."""
    return Decimator().process(pdm)


class Decimator:
    """The chain with its state kept between calls, as pdm_dec: a stream may be given in
    pieces of any multiple of 8 bytes and gives the same samples as in one piece (so a long
    capture is decimated in bounded memory)."""

    def __init__(self):
        self.hist = np.full(6, 0x55, np.uint8)  # 6 bytes of PDM silence (density 1/2), as pdm_dec_init
        self.x1_hist = np.zeros(HB_TAPS.size - 1, np.int64)  # delay lines start at zero
        self.x2_hist = np.zeros(FIR_TAPS.size - 1, np.int64)
        self.dc_state = 0
        self.dc_prev = 0

    def process(self, pdm: np.ndarray) -> np.ndarray:
        pdm = np.asarray(pdm, dtype=np.uint8).ravel()
        if pdm.size % BYTES_PER_SAMPLE:
            raise ValueError(f"PDM length {pdm.size} is not a multiple of {BYTES_PER_SAMPLE} bytes")
        stream = np.concatenate([self.hist, pdm])
        self.hist = stream[-6:].copy()
        bits = np.unpackbits(stream, bitorder="little").astype(np.int64)
        # CIC: the newest bit of output m is stream bit 16m + 15 (48 history bits come first).
        s = np.convolve(bits, cic_taps())[48 + 15: bits.size: 16]
        x1 = _sat16(s - 32768)
        # Half-band: y[p] = sum_k g[k] x1[2p + 1 - k], rounded, saturated.
        x2 = _sat16((self._fir(x1, HB_TAPS, "x1_hist") + (1 << 14)) >> 15)
        # Low-pass: the same with 191 taps; kept as int32 (no saturation before the DC blocker).
        y = (self._fir(x2, FIR_TAPS, "x2_hist") + (1 << 14)) >> 15
        return self._dc_block(y)

    def _fir(self, x: np.ndarray, taps: np.ndarray, hist: str) -> np.ndarray:
        """Outputs at the odd inputs (2p + 1) of x, with the delay line's history before x."""
        line = np.concatenate([getattr(self, hist), x])
        setattr(self, hist, line[line.size - (taps.size - 1):].copy())
        return np.convolve(line, taps, mode="valid")[1::2]

    def _dc_block(self, y: np.ndarray) -> np.ndarray:
        out, self.dc_state, self.dc_prev = dc_block(y, self.dc_state, self.dc_prev)
        return out


def dc_block(y: np.ndarray, state: int = 0, prev: int = 0) -> tuple[np.ndarray, int, int]:
    """y[n] - y[n-1] + (1 - 2^-10) * state, state with 16 extra fraction bits, rounded and
    saturated to int16, as the C (pdm_decimate.c, i2s_pcm.c); returns (out, state, prev)."""
    out = np.empty(len(y), dtype=np.int16)
    for n, v in enumerate(np.asarray(y).tolist()):
        state += (v - prev) * 65536 - (state >> 10)
        prev = v
        o = (state + 32768) >> 16
        out[n] = 32767 if o > 32767 else -32768 if o < -32768 else o
    return out, state, prev


def i2s_halfwords(pdm: np.ndarray) -> np.ndarray:
    """PDM bytes -> the uint16 halfwords an STM32 SPI/I2S receives (first sample in bit 15)."""
    bits = np.unpackbits(np.asarray(pdm, dtype=np.uint8), bitorder="little")
    return np.packbits(bits, bitorder="big").view(">u2").astype(np.uint16)


def sigma_delta(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """PDM bytes from a signal at 2.048 MHz (``x`` in [-1, 1], density (1 + x) / 2): a
    second-order error-feedback modulator, noise transfer (1 - z^-1)^2 (in-band SNR 69 dB for a
    -6 dBFS tone, reports/pdm_decimator.md; stable up to |x| ~ 0.7), far noisier than a MEMS
    microphone: exporter/frontend/sdm.py is the 4th-order model. A tiny seeded dither breaks idle tones.
    Zero bits pad the stream to whole PCM samples (64 bits)."""
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    xs = (x + (rng.random(x.size) - 0.5) * 1e-3).tolist()
    bits = bytearray(len(xs))
    e1 = e2 = 0.0
    for i, v in enumerate(xs):
        u = v - 2.0 * e1 + e2  # y = u + e = x + e - 2 e[n-1] + e[n-2]
        y = 1.0 if u >= 0.0 else -1.0
        e2, e1 = e1, y - u
        bits[i] = y > 0.0
    b = np.frombuffer(bytes(bits), dtype=np.uint8)
    pad = (-b.size) % 64
    if pad:
        b = np.concatenate([b, np.zeros(pad, dtype=np.uint8)])
    return np.packbits(b, bitorder="little")


def upsample_to_pdm_rate(pcm: np.ndarray) -> np.ndarray:
    """A 32 kHz float signal at 2.048 MHz, band-limited (FFT zero padding; the clip is taken
    as periodic, so keep its ends quiet or ignore them)."""
    pcm = np.asarray(pcm, dtype=np.float64)
    spec = np.fft.rfft(pcm)
    n = pcm.size * DECIMATION
    return np.fft.irfft(spec, n) * DECIMATION


def response_db(freqs_hz: np.ndarray) -> np.ndarray:
    """The chain's magnitude response (dB) from its integer coefficients, at the PDM rate's
    input frequencies: CIC x half-band x low-pass (each at its own rate; aliasing not included)."""
    f = np.asarray(freqs_hz, dtype=np.float64)

    def mag(taps, fs):
        n = np.arange(taps.size)
        return np.abs(np.exp(-2j * np.pi * np.outer(f, n) / fs) @ taps.astype(np.float64))

    h = mag(cic_taps(), PDM_RATE) / 65536 * mag(HB_TAPS, 128_000) / 32768 * mag(FIR_TAPS, 64_000) / 32768
    return 20 * np.log10(np.maximum(h, 1e-12))
