"""The integer arithmetic of CMSIS-NN / TFLite Micro, in numpy.

This is the one Python definition of the device's int8 arithmetic: the numpy
executor, the ONNX builder and the tests all call these functions. Variant: the
default CMSIS-NN build, *double rounding* (rounding doubling high multiply, then
rounding divide by a power of two, ties away from zero).
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: real ~= mult * 2**(shift - 31), mult in [2**30, 2**31-1].

    A positive shift is a left shift. Returns (0, 0) for real == 0 or when the
    factor is too small to represent (e < -31).
    """
    if not math.isfinite(real) or real < 0:
        raise ValueError(f"multiplier must be finite and >= 0, got {real}")
    if real == 0.0:
        return 0, 0
    q, e = math.frexp(real)  # real = q * 2**e, q in [0.5, 1)
    mult = math.floor(q * (1 << 31) + 0.5)  # q > 0: half away from zero == floor(x + 0.5)
    if mult == (1 << 31):
        mult //= 2
        e += 1
    if e < -31:
        return 0, 0
    return int(mult), int(e)


def quantize_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    """Vector form of :func:`quantize_multiplier`: (mult int32[], shift int32[])."""
    pairs = [quantize_multiplier(float(r)) for r in np.asarray(reals, dtype=np.float64).ravel()]
    mult = np.array([p[0] for p in pairs], dtype=np.int32)
    shift = np.array([p[1] for p in pairs], dtype=np.int32)
    return mult, shift


def requantize(acc, mult, shift) -> np.ndarray:
    """``arm_nn_requantize`` (double rounding), exact in int64; broadcasts mult/shift.

    ``acc * 2**max(shift, 0)`` must fit in int32 (as on the device) and ``mult`` must be a
    multiplier of :func:`quantize_multiplier`, in [0, 2**31 - 1]; both are checked. (Outside that
    range the int32 arithmetic differs: INT32_MIN * INT32_MIN saturates in TFLite's
    SaturatingRoundingDoublingHighMul and wraps in CMSIS-NN's no-saturation form.)
    """
    acc = np.asarray(acc, dtype=np.int64)
    mult = np.asarray(mult, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if mult.size and (mult.min() < 0 or mult.max() > np.iinfo(np.int32).max):
        raise ValueError("requantize: multiplier outside [0, 2**31 - 1]")
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = acc << left
    if shifted.size and (shifted.max() > np.iinfo(np.int32).max or shifted.min() < np.iinfo(np.int32).min):
        raise OverflowError("requantize: acc << left_shift overflows int32")
    y = (shifted * mult + (1 << 30)) >> 31
    mask = (np.int64(1) << right) - 1
    return (y >> right) + ((y & mask) > ((mask >> 1) + (y < 0))).astype(np.int64)


def clamp(x, lo: int = INT8_MIN, hi: int = INT8_MAX) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi)


def round_div(num, den) -> np.ndarray:
    """Integer division rounding half away from zero, as C computes
    ``num > 0 ? (num + den/2) / den : (num - den/2) / den`` with truncating ``/``
    (CMSIS-NN average pooling). ``den`` > 0."""
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    half = den // 2
    adj = np.where(num > 0, num + half, num - half)
    q = np.abs(adj) // den
    return np.where(adj < 0, -q, q)


def add(a, b, zp_a: int, zp_b: int, zp_out: int, left_shift: int, mult, shift) -> np.ndarray:
    """The TFLite residual add of int8 a and b (broadcast): each side requantized by (mult[i], shift[i])
    after the left shift, their sum by (mult[2], shift[2]), plus zp_out, saturated."""
    a1 = requantize((np.asarray(a, np.int64) - zp_a) << left_shift, mult[0], shift[0])
    b1 = requantize((np.asarray(b, np.int64) - zp_b) << left_shift, mult[1], shift[1])
    return clamp(requantize(a1 + b1, mult[2], shift[2]) + zp_out)


def add_params(s1: float, s2: float, s_out: float, left_shift: int = 20):
    """TFLite residual-add parameters: ((m1, sh1), (m2, sh2), (mo, sho))."""
    twice_max = 2.0 * max(s1, s2)
    return (
        quantize_multiplier(s1 / twice_max),
        quantize_multiplier(s2 / twice_max),
        quantize_multiplier(twice_max / ((1 << left_shift) * s_out)),
    )
