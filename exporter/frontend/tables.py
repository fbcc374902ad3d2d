"""Integer tables and constants of the fixed-point log-mel frontend.

Everything the C code and the numpy twin (``fixed.py``) share is derived here,
once, from the float definitions of the reference preprocessing (FACTS.md §3),
and rendered into C by ``render.py``. Number formats (real = float audio in
[-1, 1)):

- pre-emphasised sample  y  = (x[n+1] << 15) - PREEMPH_Q15 * x[n]   (real * 2^30, exact)
- windowed sample        xw = mulhi_r(y, WINDOW[m]), WINDOW in Q25     (real * 2^23)
- FFT data / twiddles: int32 / Q31. Three radix-4 DIF stages with twiddles (span 512,
  128, 32), each scaling by 1/2: the multiplied outputs are mulhi_r(.) products (not
  doubled) and the plain one is (t0 + t2) >> 1; then a radix-8 stage (no scaling) whose
  W_8 products are 2 * mulhi_r(., 1/sqrt(2) in Q31). The FFT output is real * 2^20, and
  every intermediate fits int32 (the sum of |xw| over a frame is < 400 * 2^24).
- spectrum 2X[k] (real-split post-processing, doubled)                (real * 2^21, < 1.65e9)
- power  P = re^2 + im^2 (uint64 < 2^62, real * 2^42)
- mel    M = sum of P * Q16 weight / 2^16  (uint64, real * 2^42), + MEL_FLOOR (1e-5).
         Kaldi's triangles overlap so that every bin between the centres of bands s-1
         and s has weights down_(s-1) + up_s = 1: one Q16 weight d per bin (for band
         s-1), band s gets 2^16 - d. Per segment between centres: S0 = sum P and
         F = floor(sum P * d / 2^16) (from 32-bit halves of P); band s-1 gets F, band s
         gets S0 - F. Every band sum stays below 2^62 (Parseval).
- log    G = (ln(M / 2^MEL_EXP + 1e-5) + 4.5) / 5 in Q24, from v = M + MEL_FLOOR:
         e = floor(log2 v) (CLZ), G = LOG_EXP[e] + LOG_FRAC[i], i the 10 bits below v's
         top bit; LOG_FRAC holds ln(1 + x) at the middle of each interval of x, so
         |G error| <= ln(1 + 2^-11) / 5 + 2^-24 < 1e-4 (0.4 of a Q12 step)
- out    q = (G + 2^11) >> 12, saturated to int16 Q3.12 (every G of a uint64 v rounds into
         int16: the saturation only guards logmel_round_q12's other callers)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from exporter.float_model import preprocess
from exporter.float_model.windows import MIN_CLIP_SAMPLES

# The float definitions: exporter/float_model/preprocess.py (the reference's window and mel banks).
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
WINDOW_BITS = 25
FFT_HALVINGS = 3  # radix-4 stages with twiddles, each scaling by 1/2
TWIDDLE_BITS = 31
MEL_W_BITS = 16
LOG_FRAC_BITS = 24  # the normalised log-mel in Q24 (|G| < 5 * 2^24)
LOG_INDEX_BITS = 10
# real-unit exponent of M (and P): y 2^30 * window 2^25 / 2^32 / 2^3 = 2^20; doubled spectrum 2^21; power 2^42
MEL_EXP = 2 * (30 + WINDOW_BITS - 32 - FFT_HALVINGS + 1)
MIN_Y = MIN_CLIP_SAMPLES - 1  # pre-emphasised samples needed for the reflect padding of 512


def _clamp_i32(v: np.ndarray) -> np.ndarray:
    return np.clip(v, -(2**31), 2**31 - 1).astype(np.int64)


@dataclass(frozen=True)
class Tables:
    window: np.ndarray  # int64 [800], Q25
    twiddle_q31: np.ndarray  # int64 [768, 2]: cos, sin of 2 pi k / 1024 (1.0 -> 2^31 - 1)
    fft_perm: np.ndarray  # int64 [512]: buffer position holding Z[f] after the in-place FFT
    bin_lo: int  # first FFT bin with a mel weight
    bin_hi: int  # last one (inclusive)
    seg_first: np.ndarray  # int64 [130]: first bin of segment s = 0..128 (bins between
    #   the centres of bands s-1 and s; segment 0 below centre 0, 128 above centre 127), + end
    seg_weight: np.ndarray  # int64 [bins]: Q16 weight d of bin k for band s-1 (band s gets 2^16 - d)
    mel_dense: np.ndarray  # int64 [128, bins]: the same weights as a matrix (numpy twin)
    log_exp: np.ndarray  # int64 [64]: ((e - MEL_EXP) ln 2 + 4.5) / 5 in Q24
    log_frac: np.ndarray  # int64 [1024]: ln(1 + (i + 1/2) / 1024) / 5 in Q24
    mel_floor: int  # 1e-5 in M units


RADIX4_SPANS = (512, 128, 32)  # the radix-4 DIF stages with twiddles; then one radix-8 stage
RADIX8_C_Q31 = int(round(2**31 / np.sqrt(2.0)))  # 1/sqrt(2): the radix-8 stage's internal twiddle


def radix4_twiddle_index(spans: tuple[int, ...] = RADIX4_SPANS) -> np.ndarray:
    """Twiddle-table indices (W_1024^k) of radix-4 stages, in the order the C code walks
    them: per stage, per j < span/4: W^j, W^2j, W^3j (W = W_span)."""
    idx = []
    for span in spans:
        stride = N_FFT // span
        for j in range(span // 4):
            idx += [j * stride, 2 * j * stride, 3 * j * stride]
    return np.array(idx, dtype=np.int64)


def stage1_table() -> np.ndarray:
    """The C code's first FFT stage (radix 4, span 512, fused with the window) reads one
    int32 stream: per butterfly j < 128, the Q25 window pairs (w[m], w[m+1]) of those of
    a, b, c, d (m = 2j - 112 + 256 i) that lie under the window, then W^j, W^2j, W^3j."""
    t = tables()
    out = []
    for j in range(N_FFT // 8):
        for m in range(2 * j - (N_FFT - WIN) // 2, WIN, 256):
            if m >= 0:
                out += [t.window[m], t.window[m + 1]]
        for k in radix4_twiddle_index((N_FFT // 2,))[3 * j : 3 * j + 3]:
            out += [t.twiddle_q31[k, 0], t.twiddle_q31[k, 1]]
    return np.array(out, dtype=np.int64)


def _fft_perm() -> np.ndarray:
    """Where the 512-point in-place DIF FFT leaves Z[f]. A DIF stage of radix r over
    blocks of n puts f mod r in sub-block (f mod r) * n / r, then recurses on f // r; the
    stages are radix 4, 4, 4 and the radix-8 stage as radix 2 then radix 4."""

    def pos(f: int, n: int, radices: tuple[int, ...]) -> int:
        if not radices:
            return 0
        r = radices[0]
        return (f % r) * (n // r) + pos(f // r, n // r, radices[1:])

    return np.array([pos(f, 512, (4, 4, 4, 2, 4)) for f in range(512)], dtype=np.int64)


def _mel_segments(banks: np.ndarray):
    """Bins bin_lo..bin_hi (those with a weight) cut into the 129 segments between band
    centres, with one Q16 weight per bin: d = down-slope weight of band s-1 (segment 0:
    2^16 - the up-slope weight of band 0); band s gets 2^16 - d. Each quantised weight is
    within 1 LSB of round(float * 2^16) (checked)."""
    nz = np.flatnonzero(banks.any(axis=0))
    bin_lo, bin_hi = int(nz[0]), int(nz[-1])
    mel_lo = 1127.0 * np.log(1.0 + preprocess.FMIN / 700.0)
    mel_hi = 1127.0 * np.log(1.0 + preprocess.FMAX / 700.0)
    delta = (mel_hi - mel_lo) / (N_MELS + 1)
    centres = mel_lo + (np.arange(N_MELS) + 1) * delta
    bins = np.arange(bin_lo, bin_hi + 1)
    m = 1127.0 * np.log(1.0 + bins * (preprocess.SAMPLE_RATE / N_FFT) / 700.0)
    seg = np.searchsorted(centres, m, side="left")  # centres strictly below m(k): a bin on a centre starts a segment
    one = 1 << MEL_W_BITS
    d = np.empty(bins.size, dtype=np.int64)
    for i, (k, sgm) in enumerate(zip(bins, seg)):
        d[i] = round(banks[sgm - 1, k] * one) if sgm >= 1 else one - round(banks[0, k] * one)
    d = np.clip(d, 0, one - 1)  # uint16; a weight of 1 - 2^-17 or more becomes 1 - 2^-16
    dense = np.zeros((N_MELS, bins.size), dtype=np.int64)
    for i, sgm in enumerate(seg):
        if sgm >= 1:
            dense[sgm - 1, i] = d[i]
        if sgm < N_MELS:
            dense[sgm, i] = one - d[i]
    want = np.round(banks[:, bin_lo : bin_hi + 1] * one)
    assert np.abs(dense - want).max() <= 1, "Kaldi weights are not complementary between centres"
    seg_first = np.searchsorted(seg, np.arange(N_MELS + 2), side="left") + bin_lo
    return seg_first.astype(np.int64), d, dense, bin_lo, bin_hi


@lru_cache(maxsize=1)
def tables() -> Tables:
    window = np.round(preprocess.hann_window_symmetric(WIN).astype(np.float64) * (1 << WINDOW_BITS)).astype(np.int64)
    ang = 2.0 * np.pi * np.arange(768) / N_FFT
    tw = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    twiddle = _clamp_i32(np.round(tw * 2.0**TWIDDLE_BITS))

    banks = preprocess.kaldi_mel_banks().astype(np.float64)
    seg_first, seg_weight, dense, bin_lo, bin_hi = _mel_segments(banks)
    assert 1 <= bin_lo and bin_hi < N_FFT // 2

    one = 2.0**LOG_FRAC_BITS
    e = np.arange(64, dtype=np.float64)
    log_exp = np.round(((e - MEL_EXP) * np.log(2.0) + NORM_ADD) / NORM_DIV * one).astype(np.int64)
    i = np.arange(1 << LOG_INDEX_BITS, dtype=np.float64)
    log_frac = np.round(np.log1p((i + 0.5) / (1 << LOG_INDEX_BITS)) / NORM_DIV * one).astype(np.int64)
    g_lo, g_hi = log_exp.min() + log_frac.min(), log_exp.max() + log_frac.max()
    half = 1 << (LOG_FRAC_BITS - OUT_FRAC_BITS - 1)
    assert -(2**15) <= (g_lo + half) >> (LOG_FRAC_BITS - OUT_FRAC_BITS) and (g_hi + half) >> (
        LOG_FRAC_BITS - OUT_FRAC_BITS
    ) < 2**15, "the log-mel of a uint64 mel value must round into int16 without saturation"
    return Tables(
        window=window,
        twiddle_q31=twiddle,
        fft_perm=_fft_perm(),
        bin_lo=bin_lo,
        bin_hi=bin_hi,
        seg_first=seg_first,
        seg_weight=seg_weight,
        mel_dense=dense,
        log_exp=log_exp,
        log_frac=log_frac,
        mel_floor=int(round(LOG_EPS * 2.0**MEL_EXP)),
    )
