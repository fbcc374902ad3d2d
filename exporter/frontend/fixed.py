"""Numpy twin of the C frontend (firmware/frontend/logmel.c): the same integer
stages, bit for bit, vectorised over frames. See ``tables.py`` for the formats.

Public API: ``logmel_q12(pcm16) -> int16 [n_frames, 128]`` for a finite clip and
``mel_mean_q12(frames) -> int16 [128]``; every stage is a function of its own so
tests can compare them with the C code's stage dumps.
"""

from __future__ import annotations

import numpy as np

from exporter import SAMPLE_RATE
from exporter.errors import UserError
from exporter.quantization.int8_math import round_div
from exporter.frontend import tables as tb

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def _check_i32(v: np.ndarray, what: str) -> np.ndarray:
    """The C code computes in int32 here: a value outside would be a design error."""
    if v.size and (v.min() < I32_MIN or v.max() > I32_MAX):
        raise AssertionError(f"int32 overflow in {what}")
    return v


def mulhi_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a * b + 2^31) >> 32 in int64: the Cortex-M4 SMMULR instruction."""
    return (a * b + (1 << 31)) >> 32


def check_pcm16(pcm, sample_rate: int | None = None) -> np.ndarray:
    """int16 samples as int64, or a UserError naming what is wrong with the input."""
    if sample_rate is not None and int(sample_rate) != SAMPLE_RATE:
        raise UserError(f"the frontend needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz (resample it first)")
    pcm = np.asarray(pcm)
    if pcm.ndim != 1:
        raise UserError(f"expected mono audio (a 1-D array), got shape {pcm.shape}")
    if pcm.dtype.kind == "f":
        if not np.all(np.isfinite(pcm)):
            raise UserError("audio contains NaN or infinite samples")
        if pcm.size and (pcm.min() < -32768 or pcm.max() > 32767 or np.any(pcm != np.round(pcm))):
            raise UserError("float audio passed as PCM must hold int16 values; convert it with to_pcm16")
    elif pcm.dtype.kind not in "iu":
        raise UserError(f"expected int16 PCM, got dtype {pcm.dtype}")
    elif pcm.size and (pcm.min() < -32768 or pcm.max() > 32767):
        raise UserError("PCM samples outside the int16 range")
    if pcm.size < tb.MIN_CLIP_SAMPLES:
        raise clip_too_short(pcm.size)
    return pcm.astype(np.int64)


def clip_too_short(n_samples: int) -> UserError:
    """The error for a clip the reference's reflect padding cannot handle (twin and C alike)."""
    return UserError(f"clip of {n_samples} samples is too short for the log-mel's reflect padding: "
                     f"at least {tb.MIN_CLIP_SAMPLES} samples are needed")


def n_frames(n_samples: int) -> int:
    return 1 + (n_samples - 1) // tb.HOP


# ---------------------------------------------------------------- stages
def preemphasis(x: np.ndarray) -> np.ndarray:
    """y[n] = x[n+1] - 0.97 x[n], exact in real * 2^30 (fits int32)."""
    return _check_i32((x[1:] << 15) - tb.PREEMPH_Q15 * x[:-1], "pre-emphasis")


def frame_segments(y: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
    """[frames, 800] pre-emphasised samples of frames start..stop (default all
    1 + L // 320): y[t*320 - 400 + m], with the reference's reflect padding at both
    ends (y[-i] = y[i], y[L-1+i] = y[L-1-i])."""
    half = tb.WIN // 2
    padded = np.pad(y, half, mode="reflect")
    stop = 1 + y.size // tb.HOP if stop is None else stop
    idx = np.arange(start, stop)[:, None] * tb.HOP + np.arange(tb.WIN)[None, :]
    return padded[idx]


def windowed(seg: np.ndarray) -> np.ndarray:
    """[T, 1024] int32 FFT input: the window centred in 1024 (112 zeros each side).
    Interleaved, it is also the 512-point complex input z[n] = xw[2n] + i xw[2n+1]."""
    off = (tb.N_FFT - tb.WIN) // 2
    out = np.zeros((seg.shape[0], tb.N_FFT), dtype=np.int64)
    out[:, off : off + tb.WIN] = mulhi_r(seg, tb.tables().window[None, :])
    return out


def _cmul(re, im, c, s):
    """(re + i im) * (c - i s), Q31 twiddle, each product rounded on its own (SMMULR,
    SMMLAR, SMMLSR), times 2: re c + im s and im c + (-re) s."""
    return 2 * (mulhi_r(re, c) + mulhi_r(im, s)), 2 * (mulhi_r(im, c) + mulhi_r(-re, s))


def _cmul_half(re, im, c, s):
    """_cmul without the doubling: the radix-4 stages' scaling by 1/2."""
    return mulhi_r(re, c) + mulhi_r(im, s), mulhi_r(im, c) + mulhi_r(-re, s)


def fft512(buf: np.ndarray) -> np.ndarray:
    """In-place-order 512-point complex DIF FFT of [T, 1024] interleaved int32: radix-4
    stages of span 512, 128, 32 (twiddles, each scaled by 1/2: y0 = (t0 + t2) >> 1, the
    others mulhi_r products not doubled), then a radix-8 stage of span 8 (a radix-2 layer
    with W_8^k, then radix 4; no scaling). Output order: ``tables().fft_perm``."""
    tw = tb.tables().twiddle_q31
    re = buf[:, 0::2].copy()
    im = buf[:, 1::2].copy()
    for span in tb.RADIX4_SPANS:
        q = span // 4
        stride = tb.N_FFT // span
        g = np.arange(0, 512, span)[:, None]
        jj = np.arange(q)[None, :]
        ia = (g + jj).ravel()
        jr = np.broadcast_to(jj, (g.size, q)).ravel()
        ib, ic, id_ = ia + q, ia + 2 * q, ia + 3 * q
        ar, ai, br, bi = re[:, ia], im[:, ia], re[:, ib], im[:, ib]
        cr, ci, dr, di = re[:, ic], im[:, ic], re[:, id_], im[:, id_]
        t0r, t0i, t1r, t1i = ar + cr, ai + ci, ar - cr, ai - ci
        t2r, t2i, t3r, t3i = br + dr, bi + di, br - dr, bi - di
        for v in (t0r, t0i, t1r, t1i, t2r, t2i, t3r, t3i):
            _check_i32(v, "FFT butterfly")
        k1, k2, k3 = jr * stride, 2 * jr * stride, 3 * jr * stride
        y0 = (_check_i32(t0r + t2r, "FFT") >> 1, _check_i32(t0i + t2i, "FFT") >> 1)
        y1 = _cmul_half(_check_i32(t1r + t3i, "FFT"), _check_i32(t1i - t3r, "FFT"), tw[k1, 0], tw[k1, 1])
        y2 = _cmul_half(_check_i32(t0r - t2r, "FFT"), _check_i32(t0i - t2i, "FFT"), tw[k2, 0], tw[k2, 1])
        y3 = _cmul_half(_check_i32(t1r - t3i, "FFT"), _check_i32(t1i + t3r, "FFT"), tw[k3, 0], tw[k3, 1])
        for pos, (yr, yi) in zip((ia, ib, ic, id_), (y0, y1, y2, y3)):
            re[:, pos], im[:, pos] = _check_i32(yr, "FFT"), _check_i32(yi, "FFT")
    _radix8(re, im)
    out = np.empty_like(buf)
    out[:, 0::2], out[:, 1::2] = re, im
    return out


def _radix4_plain(x0, x1, x2, x3):
    """Radix-4 DIF butterfly without twiddles on (re, im) pairs: y0..y3."""
    t0 = (x0[0] + x2[0], x0[1] + x2[1])
    t1 = (x0[0] - x2[0], x0[1] - x2[1])
    t2 = (x1[0] + x3[0], x1[1] + x3[1])
    t3 = (x1[0] - x3[0], x1[1] - x3[1])
    for v in (*t0, *t1, *t2, *t3):
        _check_i32(v, "FFT radix-8")
    ys = (
        (t0[0] + t2[0], t0[1] + t2[1]),
        (t1[0] + t3[1], t1[1] - t3[0]),  # t1 - i t3
        (t0[0] - t2[0], t0[1] - t2[1]),
        (t1[0] - t3[1], t1[1] + t3[0]),  # t1 + i t3
    )
    return [(_check_i32(a, "FFT radix-8"), _check_i32(b, "FFT radix-8")) for a, b in ys]


def _radix8(re: np.ndarray, im: np.ndarray) -> None:
    """The last stage, in place: 8-point DIF butterflies on z[8g .. 8g+8): u_k = x_k + x_k+4,
    v_k = (x_k - x_k+4) W_8^k (v_1, v_3 as 2 * mulhi_r(., 1/sqrt2 in Q31); v_2 = -i d_2),
    then radix 4 on u (positions 0..3) and on v (4..7)."""
    c = tb.RADIX8_C_Q31
    g = np.arange(0, 512, 8)
    x = [(re[:, g + k], im[:, g + k]) for k in range(8)]
    u = [(_check_i32(x[k][0] + x[k + 4][0], "FFT radix-8"), _check_i32(x[k][1] + x[k + 4][1], "FFT radix-8")) for k in range(4)]
    d = [(_check_i32(x[k][0] - x[k + 4][0], "FFT radix-8"), _check_i32(x[k][1] - x[k + 4][1], "FFT radix-8")) for k in range(4)]
    s1, r1 = _check_i32(d[1][0] + d[1][1], "FFT radix-8"), _check_i32(d[1][1] - d[1][0], "FFT radix-8")
    s3, r3 = _check_i32(d[3][0] + d[3][1], "FFT radix-8"), _check_i32(d[3][1] - d[3][0], "FFT radix-8")
    v = [
        d[0],
        (2 * mulhi_r(s1, c), 2 * mulhi_r(r1, c)),  # d1 (1 - i) / sqrt2
        (d[2][1], -d[2][0]),  # -i d2
        (2 * mulhi_r(r3, c), -2 * mulhi_r(s3, c)),  # -d3 (1 + i) / sqrt2
    ]
    for k, (yr, yi) in enumerate(_radix4_plain(*u) + _radix4_plain(*v)):
        re[:, g + k], im[:, g + k] = yr, yi


def spectrum2x(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2 X[k] for k = bin_lo..bin_hi of the 1024-point real FFT, from the 512-point
    complex FFT (digit-reversed buffer). For j <= 256: E = Z[j] + conj Z[512-j],
    D = Z[j] - conj Z[512-j], V = W_1024^j (-i D); then 2X[j] = E + V and
    2X[512-j] = conj(E - V) (one twiddle product serves both bins)."""
    t = tb.tables()
    k = np.arange(t.bin_lo, t.bin_hi + 1)
    mirrored = k > 256
    j = np.where(mirrored, 512 - k, k)
    pa, pb = t.fft_perm[j], t.fft_perm[512 - j]
    ar, ai = z[:, 2 * pa], z[:, 2 * pa + 1]
    br, bi = z[:, 2 * pb], -z[:, 2 * pb + 1]
    er, ei = _check_i32(ar + br, "spectrum"), _check_i32(ai + bi, "spectrum")
    dr, di = _check_i32(ar - br, "spectrum"), _check_i32(ai - bi, "spectrum")
    vr, vi = _cmul(di, -dr, t.twiddle_q31[j, 0], t.twiddle_q31[j, 1])
    re = np.where(mirrored, er - vr, er + vr)
    im = np.where(mirrored, vi - ei, ei + vi)
    return _check_i32(re, "spectrum"), _check_i32(im, "spectrum")


def power(re: np.ndarray, im: np.ndarray) -> np.ndarray:
    """re^2 + im^2, uint64 [T, bins] (< 2^62)."""
    return (re * re).astype(np.uint64) + (im * im).astype(np.uint64)


def mel(p: np.ndarray) -> np.ndarray:
    """[T, 128] uint64 band sums, per segment between band centres (tables.py):
    S0 = sum P, F = floor(sum P * d / 2^16) computed from the 32-bit halves of P;
    band s-1 gets F, band s gets S0 - F."""
    t = tb.tables()
    p = np.asarray(p, dtype=np.uint64)
    d = t.seg_weight.astype(np.uint64)[None, :]
    lo = (p & np.uint64(0xFFFFFFFF)) * d
    hi = (p >> np.uint64(32)) * d

    def seg_sums(v):  # exact uint64 sums over each segment's bins (prefix sums, no overflow)
        c = np.concatenate([np.zeros((v.shape[0], 1), np.uint64), np.cumsum(v, axis=1, dtype=np.uint64)], axis=1)
        idx = t.seg_first - t.bin_lo
        return c[:, idx[1:]] - c[:, idx[:-1]]

    s0, a, b = seg_sums(p), seg_sums(hi), seg_sums(lo)
    sh = np.uint64(tb.MEL_W_BITS)
    f = (a << np.uint64(32 - tb.MEL_W_BITS)) + (b >> sh)  # floor((a * 2^32 + b) / 2^16)
    rising = s0 - f
    return rising[:, : tb.N_MELS] + f[:, 1:]


def log_q24(m: np.ndarray) -> np.ndarray:
    """The normalised log-mel (ln(m / 2^MEL_EXP + 1e-5) + 4.5) / 5 in Q24 (int64)."""
    return log_q24_raw(np.asarray(m, dtype=np.uint64) + np.uint64(tb.tables().mel_floor))


def log_q24_raw(v: np.ndarray) -> np.ndarray:
    """(ln(v / 2^MEL_EXP) + 4.5) / 5 in Q24 for uint64 v >= 1 (logmel_log_q24 in C):
    e = floor(log2 v) by CLZ; the 10 bits below v's top bit index the ln(1 + x) table."""
    t = tb.tables()
    v = np.asarray(v, dtype=np.uint64)
    e = np.zeros(v.shape, dtype=np.int64)  # floor(log2 v): the C code's 63 - clz
    for bit in range(1, 64):
        e += v >= np.uint64(1 << bit)
    norm = v << (63 - e).astype(np.uint64)
    ib = tb.LOG_INDEX_BITS
    i = ((norm >> np.uint64(63 - ib)) & np.uint64((1 << ib) - 1)).astype(np.int64)
    return t.log_exp[e] + t.log_frac[i]


def round_q12(g: np.ndarray) -> np.ndarray:
    """Q24 -> Q12, rounded (half up) and saturated to int16 (logmel_round_q12 in C)."""
    g = _check_i32(np.asarray(g, dtype=np.int64), "log-mel Q24")
    sh = tb.LOG_FRAC_BITS - tb.OUT_FRAC_BITS
    return np.clip((g + (1 << (sh - 1))) >> sh, -32768, 32767).astype(np.int16)


# ---------------------------------------------------------------- whole clip
def _frame_stages(seg: np.ndarray) -> dict[str, np.ndarray]:
    xw = windowed(seg)
    z = fft512(xw)
    re, im = spectrum2x(z)
    p = power(re, im)
    m = mel(p)
    g = log_q24(m)
    return {
        "windowed": xw,
        "fft": z,
        "spectrum": np.stack([re, im], axis=-1),
        "power": p,
        "mel": m,
        "log": g,
        "frames": round_q12(g),
    }


def stages(pcm16, sample_rate: int | None = None) -> dict[str, np.ndarray]:
    """Every stage of a finite clip ([frames, ...] arrays, and the pre-emphasised
    signal), keyed by the names the C stage dump uses."""
    y = preemphasis(check_pcm16(pcm16, sample_rate))
    return {"preemphasis": y, **_frame_stages(frame_segments(y))}


def logmel_q12(pcm16, sample_rate: int | None = None, chunk: int = 256) -> np.ndarray:
    """int16 [n_frames, 128] Q3.12 normalised log-mel of a finite clip of int16 PCM at
    32 kHz; ``chunk`` frames at a time, so long clips need little memory."""
    y = preemphasis(check_pcm16(pcm16, sample_rate))
    T = 1 + y.size // tb.HOP
    parts = [_frame_stages(frame_segments(y, t, min(T, t + chunk)))["frames"] for t in range(0, T, chunk)]
    return np.concatenate(parts, axis=0)


def mel_mean_q12(frames: np.ndarray) -> np.ndarray:
    """L: the per-band mean over frames, round_div(sum, n) as logmel_mean_q12 in C."""
    frames = np.asarray(frames, dtype=np.int64)
    if frames.ndim != 2 or frames.shape[1] != tb.N_MELS or frames.shape[0] == 0:
        raise UserError(f"expected frames [n >= 1, {tb.N_MELS}], got shape {frames.shape}")
    return round_div(frames.sum(axis=0), frames.shape[0]).astype(np.int16)


def dequantize(q: np.ndarray) -> np.ndarray:
    return (np.asarray(q, dtype=np.float32) / np.float32(1 << tb.OUT_FRAC_BITS)).astype(np.float32)
