"""Integer tables and constants of the fixed-point log-mel frontend.

Everything the C code and the numpy twin (``fixed.py``) share is derived here,
once, from the float definitions of the reference preprocessing (FACTS.md §3),
and rendered into C by ``render.py``. Number formats (real = float audio in
[-1, 1)):

- pre-emphasised sample  y  = (x[n+1] << 15) - PREEMPH_Q15 * x[n]   (real * 2^30, exact)
- windowed sample        xw = mulhi_r(y, WINDOW_Q22[m])              (real * 2^20)
- FFT data / twiddles: int32 / Q31, complex multiply 2 * mulhi_r(.)  (no scaling:
  |X| <= sum |xw| <= 399.5 * 2.07e6 < 2^30)
- spectrum 2X[k] (real-split post-processing, doubled)                (real * 2^21)
- power  P = re^2 + im^2 (uint64, real * 2^42);  p = (P + 2^15) >> POWER_SHIFT (real * 2^26)
- mel    M = sum MEL_WEIGHTS_Q16 * p  (uint64, real * 2^42), + MEL_FLOOR (1e-5)
- log2   L = log2(M + MEL_FLOOR) in Q24 (CLZ + LOG2_TABLE, linear interpolation)
- out    q = (L * SCALE_MUL + SCALE_ADD) >> SCALE_SHIFT, saturated to int16 Q3.12
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from exporter import preprocess
from exporter.windows import MIN_CLIP_SAMPLES

# The float definitions: exporter/preprocess.py (the reference's window and mel banks).
N_FFT = preprocess.N_FFT
HOP = preprocess.HOP
WIN = preprocess.WIN_LENGTH
N_MELS = preprocess.N_MELS
PREEMPH = preprocess.PREEMPHASIS
LOG_EPS = preprocess.LOG_OFFSET
NORM_ADD = preprocess.NORM_SHIFT
NORM_DIV = preprocess.NORM_SCALE
OUT_FRAC_BITS = 12

PREEMPH_Q15 = int(round(PREEMPH * (1 << 15)))
WINDOW_BITS = 22
TWIDDLE_BITS = 31
POWER_SHIFT = 16
MEL_W_BITS = 16
LOG2_FRAC_BITS = 24  # log2 in Q24: 63.99 * 2^24 < 2^31
LOG2_INDEX_BITS = 8
LOG2_INTERP_BITS = 15
SCALE_SHIFT = 40
# real-unit exponent of M: y 2^30 * window 2^22 / 2^32 = 2^20; doubled spectrum 2^21; power 2^42;
# (>> POWER_SHIFT) * Q16 weights = 2^42 again.
MEL_EXP = 2 * (30 + WINDOW_BITS - 32 + 1) - POWER_SHIFT + MEL_W_BITS
MIN_Y = MIN_CLIP_SAMPLES - 1  # pre-emphasised samples needed for the reflect padding of 512


def _clamp_i32(v: np.ndarray) -> np.ndarray:
    return np.clip(v, -(2**31), 2**31 - 1).astype(np.int64)


@dataclass(frozen=True)
class Tables:
    window_q22: np.ndarray  # int64 [800]
    twiddle_q31: np.ndarray  # int64 [768, 2]: cos, sin of 2 pi k / 1024 (1.0 -> 2^31 - 1)
    fft_perm: np.ndarray  # int64 [512]: buffer position holding Z[f] after the in-place FFT
    bin_lo: int  # first FFT bin with a mel weight
    bin_hi: int  # last one (inclusive)
    mel_first: np.ndarray  # int64 [128]: first bin of each band
    mel_count: np.ndarray  # int64 [128]: number of bins of each band
    mel_offset: np.ndarray  # int64 [128]: start of each band in mel_weights
    mel_weights: np.ndarray  # int64 [n]: Q16 weights, band after band
    log2_table: np.ndarray  # int64 [257]: log2(1 + i/256) in Q24
    mel_floor: int  # 1e-5 in M units
    scale_mul: int
    scale_add: int  # includes the rounding half


def _fft_perm() -> np.ndarray:
    """Where the 512-point DIF FFT (one radix-2 stage, then four radix-4 stages on
    each half) leaves Z[f]: f = 2k + h sits at h * 256 + (k with its 4 base-4 digits reversed)."""
    k = np.arange(256)
    rev = np.zeros(256, dtype=np.int64)
    for d in range(4):
        rev = rev * 4 + (k >> (2 * d)) % 4
    perm = np.zeros(512, dtype=np.int64)
    perm[2 * k] = rev
    perm[2 * k + 1] = 256 + rev
    return perm


@lru_cache(maxsize=1)
def tables() -> Tables:
    window = np.round(preprocess.hann_window_symmetric(WIN).astype(np.float64) * (1 << WINDOW_BITS)).astype(np.int64)
    ang = 2.0 * np.pi * np.arange(768) / N_FFT
    tw = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    twiddle = _clamp_i32(np.round(tw * 2.0**TWIDDLE_BITS))

    banks = preprocess.kaldi_mel_banks().astype(np.float64)
    wq = np.round(banks * (1 << MEL_W_BITS)).astype(np.int64)
    assert wq.max() < 1 << 16, "Q16 weights must fit uint16"
    first, count, offset, weights = [], [], [], []
    for b in range(N_MELS):
        nz = np.flatnonzero(wq[b])
        assert nz.size > 0, f"mel band {b} has no weight"
        lo, hi = int(nz[0]), int(nz[-1])
        first.append(lo)
        count.append(hi - lo + 1)
        offset.append(len(weights))
        weights.extend(int(v) for v in wq[b, lo : hi + 1])
    bin_lo = min(first)
    bin_hi = max(f + c - 1 for f, c in zip(first, count))
    assert 1 <= bin_lo and bin_hi < N_FFT // 2

    i = np.arange((1 << LOG2_INDEX_BITS) + 1, dtype=np.float64)
    log2_table = np.round(np.log2(1.0 + i / (1 << LOG2_INDEX_BITS)) * (1 << LOG2_FRAC_BITS)).astype(np.int64)

    # q12 = ((ln2 * (L / 2^24 - MEL_EXP)) + NORM_ADD) / NORM_DIV * 2^12
    ln2 = np.log(2.0)
    mul = ln2 / NORM_DIV * 2.0**OUT_FRAC_BITS / 2.0**LOG2_FRAC_BITS * 2.0**SCALE_SHIFT
    add = (NORM_ADD - MEL_EXP * ln2) / NORM_DIV * 2.0**OUT_FRAC_BITS * 2.0**SCALE_SHIFT
    return Tables(
        window_q22=window,
        twiddle_q31=twiddle,
        fft_perm=_fft_perm(),
        bin_lo=bin_lo,
        bin_hi=bin_hi,
        mel_first=np.array(first, dtype=np.int64),
        mel_count=np.array(count, dtype=np.int64),
        mel_offset=np.array(offset, dtype=np.int64),
        mel_weights=np.array(weights, dtype=np.int64),
        log2_table=log2_table,
        mel_floor=int(round(LOG_EPS * 2.0**MEL_EXP)),
        scale_mul=int(round(mul)),
        scale_add=int(round(add)) + (1 << (SCALE_SHIFT - 1)),
    )
