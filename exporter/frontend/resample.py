"""The 126/125 polyphase resampler: the bit-exact numpy twin of firmware/mic/resample_126_125.c
(the nRF52840-DK's I2S gives 32 MHz / 21 / 48 = 31,746.03 Hz; 32,000 / 31,746.03 = 126 / 125).

Output m is taken at input time 125 m / 126: phase p = 125 m mod 126 of a 126 x 48-tap
polyphase low-pass (Q14), applied to the 48 newest inputs (zeros before the stream), rounded
(+2^13, >> 14) and saturated to int16. The taps are read from the C header the firmware
compiles (bench/resample_design.py writes it), so both use one table.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from exporter import FIRMWARE_DIR

L, M = 126, 125
IN_RATE = 32_000_000 / 21 / 48  # 31,746.03 Hz
OUT_RATE = IN_RATE * L / M  # 32,000 Hz
HEADER = FIRMWARE_DIR / "mic" / "resample_126_125_taps.h"


@lru_cache(maxsize=None)
def taps() -> np.ndarray:
    """int64 [126, 48]: phase p's taps in window order (entry i multiplies the i-th oldest input)."""
    text = HEADER.read_text()
    n_taps = int(re.search(r"#define RS_TAPS (\d+)", text).group(1))
    body = re.search(r"rs_taps\[RS_PHASES\]\[RS_TAPS\][^=]*= \{(.*?)\};", text, re.S).group(1)
    t = np.array([int(v) for v in re.findall(r"-?\d+", body)], dtype=np.int64).reshape(L, n_taps)
    return t


class Resampler:
    """The stream state of rs126: pieces of any length give the samples of the whole."""

    def __init__(self):
        self.hist = np.zeros(taps().shape[1] - 1, np.int64)  # the 47 inputs before the next
        self.phase = 0  # of the next output

    def process(self, x: np.ndarray, block: int = 65536) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.int16:
            raise ValueError(f"expected int16 samples, got {x.dtype}")
        h = taps()
        n_taps = h.shape[1]
        line = np.concatenate([self.hist, x.astype(np.int64).ravel()])
        n = line.size - (n_taps - 1)
        # outputs at times (phase + 125 m) / 126 input samples from this piece's first input
        count = max(0, -(-(L * n - self.phase) // M))
        out = np.empty(count, dtype=np.int16)
        for a in range(0, count, block):  # bounded memory: [block, 48] at a time
            j = self.phase + M * np.arange(a, min(count, a + block), dtype=np.int64)
            idx, ph = j // L, j % L
            windows = line[idx[:, None] + np.arange(n_taps)]
            acc = np.einsum("ij,ij->i", windows, h[ph])
            out[a: a + j.size] = np.clip((acc + (1 << 13)) >> 14, -32768, 32767)
        self.phase = self.phase + M * count - L * n
        self.hist = line[line.size - (n_taps - 1):].copy()
        return out


class I2sPcm:
    """firmware/mic/i2s_pcm.c: I2S words (24-bit samples sign-extended in 32) -> int16,
    rounded, then the DC blocker of the PDM path; the state kept between calls."""

    def __init__(self):
        self.dc_state = self.dc_prev = 0

    def process(self, words: np.ndarray) -> np.ndarray:
        from exporter.frontend.pdm import dc_block

        x = (np.asarray(words, dtype=np.int64) + 128) >> 8
        out, self.dc_state, self.dc_prev = dc_block(x, self.dc_state, self.dc_prev)
        return out


def nrf_mic_path(words: np.ndarray) -> np.ndarray:
    """The nRF52840-DK's microphone path: I2S words at 31,746 Hz -> int16 at 32 kHz."""
    return resample(I2sPcm().process(words))


def resample(x: np.ndarray) -> np.ndarray:
    """int16 at 31,746 Hz -> int16 at 32,000 Hz, as one call of rs126_process."""
    return Resampler().process(x)


def response_db(freqs_hz: np.ndarray) -> np.ndarray:
    """The prototype low-pass's magnitude (dB, 0 at DC) at input-side frequencies."""
    h = taps()[:, ::-1]  # [p, k]: k = input delay
    proto = h.T.reshape(-1).astype(np.float64)  # proto[p + 126 k]
    f = np.asarray(freqs_hz, dtype=np.float64)
    n = np.arange(proto.size)
    mag = np.abs(np.exp(-2j * np.pi * np.outer(f, n) / (IN_RATE * L)) @ proto)
    return 20 * np.log10(np.maximum(mag / (L * 16384), 1e-12))
