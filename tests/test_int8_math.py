"""exporter/quantization/int8_math.py against numbers worked out by hand from the CMSIS-NN / TFLite definitions.

Every other bit-exactness test (C kernels, ONNX, executor, firmware) compares against int8_math,
so int8_math itself is checked here against literals, never against its own output. The
definitions (CMSIS-NN arm_nn_requantize, default build, double rounding; see
../shared/int8-semantics.md for the project's copy):

    high(a, m) = (a * m + 2^30) >> 31           rounding doubling high multiply: ties go up (+inf)
    div(y, R)  = y / 2^R, ties away from zero    rounding divide by a power of two
    requantize(acc, m, shift) = div(high(acc * 2^max(shift, 0), m), max(-shift, 0))

so a multiplier (m, shift) stands for M = m * 2^(shift - 31). Below, "y" is the high multiply's
result. A tiny pure-Python reference of the two primitives, written the other way round (TFLite's
nudge-and-truncate form, exact integer division), is checked on the same literals and then
against int8_math on generated inputs.
"""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.quantization.int8_math import add_params, clamp, quantize_multiplier, quantize_multipliers, requantize, round_div

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
HALF = 1 << 30  # the multiplier of M = 0.5 * 2^shift
THREE_QUARTERS = 3 << 29  # 0.75 * 2^31 = 1610612736

# A fixed budget and the same examples on every run (CI must not be flaky); no example database.
FUZZ = settings(derandomize=True, max_examples=300, deadline=None, database=None)


# ---- the independent reference -------------------------------------------------------------


def _trunc_div(n: int, d: int) -> int:
    """C's integer division (rounds toward zero), d > 0."""
    q = abs(n) // d
    return q if n >= 0 else -q


def ref_high_mul(a: int, b: int) -> int:
    """gemmlowp/TFLite SaturatingRoundingDoublingHighMul on int32 a, b."""
    if a == b == INT32_MIN:
        return INT32_MAX  # the one product that does not fit: saturate
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _trunc_div(ab + nudge, 1 << 31)


def ref_div_pot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT: x / 2^exponent to nearest, ties away from zero (exact integers)."""
    q, r = divmod(abs(x), 1 << exponent)
    q += 2 * r >= (1 << exponent)  # exponent 0: r = 0, no change
    return q if x >= 0 else -q


def ref_requantize(acc: int, mult: int, shift: int) -> int:
    return ref_div_pot(ref_high_mul(acc * (1 << max(shift, 0)), mult), max(-shift, 0))


# ---- the primitives, by hand ------------------------------------------------------------------

HIGH_MUL = [
    # (a, b, expected): a * b / 2^31, ties up
    (1, HALF, 1),  # 0.5 -> 1
    (-1, HALF, 0),  # -0.5 -> 0 (up, not away from zero)
    (3, HALF, 2),  # 1.5 -> 2
    (-3, HALF, -1),  # -1.5 -> -1
    (INT32_MAX, INT32_MAX, 2147483646),  # (2^62 - 2^32 + 1) / 2^31 = 2^31 - 2 + 2^-31 -> 2^31 - 2
    (INT32_MIN, INT32_MAX, -2147483647),  # (-2^62 + 2^31) / 2^31 = -2^31 + 1 exactly
]


@pytest.mark.parametrize("a,b,want", HIGH_MUL)
def test_reference_high_mul_by_hand(a, b, want):
    assert ref_high_mul(a, b) == want
    # with shift 0, requantize is the high multiply alone
    assert int(requantize(a, b, 0)) == want


def test_reference_high_mul_saturates_where_int8_math_refuses():
    """INT32_MIN * INT32_MIN = 2^62: the doubled high word is 2^31, which int32 cannot hold.
    TFLite saturates it to INT32_MAX; CMSIS-NN's requantize (no saturation) would wrap it to
    INT32_MIN. quantize_multiplier never makes a negative multiplier, so int8_math refuses it
    rather than return a third answer."""
    assert ref_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    with pytest.raises(ValueError, match="multiplier"):
        requantize(INT32_MIN, INT32_MIN, 0)
    with pytest.raises(ValueError, match="multiplier"):
        requantize(5, 1 << 31, 0)  # one past the largest multiplier


DIV_POT = [
    # (x, exponent, expected): x / 2^exponent, ties away from zero
    (7, 0, 7),
    (5, 1, 3),  # 2.5 -> 3
    (-5, 1, -3),  # -2.5 -> -3
    (6, 2, 2),  # 1.5 -> 2
    (-6, 2, -2),  # -1.5 -> -2
    (-5, 2, -1),  # -1.25 -> -1
    (1 << 30, 31, 1),  # 0.5 -> 1
    (-(1 << 30), 31, -1),  # -0.5 -> -1
    ((1 << 30) - 1, 31, 0),  # just under 0.5
    (INT32_MIN, 31, -1),  # -1 exactly
]


@pytest.mark.parametrize("x,exponent,want", DIV_POT)
def test_reference_div_pot_by_hand(x, exponent, want):
    assert ref_div_pot(x, exponent) == want


# ---- requantize, by hand ----------------------------------------------------------------------

REQUANTIZE = [
    # (acc, mult, shift, expected)
    # M = 1.0 as (2^30, 1): y = (2 acc 2^30 + 2^30) >> 31 = acc + floor(1/2) = acc
    (12345, HALF, 1, 12345),
    (-12345, HALF, 1, -12345),
    (-(1 << 30), HALF, 1, -(1 << 30)),  # acc << 1 = INT32_MIN: still fits
    # M = 0.5 as (2^30, 0): only the high multiply rounds, ties up
    (3, HALF, 0, 2),  # 1.5 -> 2
    (-3, HALF, 0, -1),  # -1.5 -> -1
    (-1, HALF, 0, 0),  # -0.5 -> 0
    # M = 0.25 as (2^30, -1): y = acc / 2 (ties up), then y / 2 (ties away)
    (6, HALF, -1, 2),  # y = 3, 1.5 -> 2
    (-6, HALF, -1, -2),  # y = -3, -1.5 -> -2
    (-2, HALF, -1, -1),  # y = -1, -0.5 -> -1
    (-5, HALF, -1, -1),  # y = -2.5 -> -2, -1 (exact: -1.25 -> -1)
    (-7, HALF, -1, -2),  # y = -3.5 -> -3, -1.5 -> -2 (exact: -1.75)
    (1, HALF, -1, 1),  # y = 0.5 -> 1, 0.5 -> 1: double rounding; exact 0.25 would give 0
    (-1, HALF, -1, 0),  # y = -0.5 -> 0, 0
    # M = 3/64 as (0.75 * 2^31, -4): y = 0.75 acc (ties up), then y / 16
    (1000, THREE_QUARTERS, -4, 47),  # y = 750, 46.875 -> 47
    (-1000, THREE_QUARTERS, -4, -47),  # y = -750, -46.875 -> -47
    (10, THREE_QUARTERS, -4, 1),  # y = 7.5 -> 8, 0.5 -> 1: double rounding; exact 0.46875 -> 0
    (-10, THREE_QUARTERS, -4, 0),  # y = -7.5 -> -7, -0.4375 -> 0
    (-11, THREE_QUARTERS, -4, -1),  # y = -8.25 -> -8, -0.5 -> -1
    # left shifts: M = 3.0 as (0.75 * 2^31, 2), M = 12 as (0.75 * 2^31, 4)
    (7, THREE_QUARTERS, 2, 21),  # acc << 2 = 28: y = (21 * 2^31 + 2^30) >> 31 = floor(21 + 0.5)
    (-7, THREE_QUARTERS, 2, -21),  # floor(-21 + 0.5) = -21
    (-100, THREE_QUARTERS, 4, -1200),  # acc << 4 = -1600, * 0.75
    (-(1 << 27), THREE_QUARTERS, 4, -1610612736),  # acc << 4 = INT32_MIN, * 0.75 = -3 * 2^29
    # mult 0 (M = 0): (acc * 0 + 2^30) >> 31 = 0 for any acc
    (INT32_MAX, 0, 0, 0),
    (INT32_MIN, 0, 0, 0),
    # the largest multiplier, M = 1 - 2^-31
    (INT32_MAX, INT32_MAX, 0, 2147483646),  # 2^31 - 2 + 2^-31 + 0.5 -> 2^31 - 2
    (INT32_MIN, INT32_MAX, 0, -2147483647),  # -2^31 + 1 + 0.5 -> -2^31 + 1
    (1, INT32_MAX, 0, 1),  # 1 - 2^-31 + 0.5 -> 1
    (-1, INT32_MAX, 0, -1),  # -1 + 2^-31 + 0.5 -> -1
    # the smallest multiplier kept, M = 2^-32 as (2^30, -31): y = (acc + 1) >> 1, then / 2^31
    (INT32_MAX, HALF, -31, 1),  # y = 2^30, 0.5 -> 1: double rounding; exact (2^31 - 1) / 2^32 -> 0
    (INT32_MIN, HALF, -31, -1),  # y = floor(-2^30 + 0.5) = -2^30, -0.5 -> -1
    (INT32_MAX - 2, HALF, -31, 0),  # y = 2^30 - 1, just under 0.5
]


@pytest.mark.parametrize("acc,mult,shift,want", REQUANTIZE)
def test_requantize_by_hand(acc, mult, shift, want):
    got = requantize(acc, mult, shift)
    assert got.dtype == np.int64 and int(got) == want
    assert ref_requantize(acc, mult, shift) == want  # the reference agrees with the hand values


def test_requantize_vectorized_equals_the_scalar_literals():
    acc, mult, shift, want = (np.array(col, dtype=np.int64) for col in zip(*REQUANTIZE))
    np.testing.assert_array_equal(requantize(acc, mult, shift), want)
    # per-channel broadcast: one row of accumulators against per-column (mult, shift)
    np.testing.assert_array_equal(requantize([[3, 6], [-3, -6]], [HALF, HALF], [0, -1]), [[2, 2], [-1, -2]])


@pytest.mark.parametrize("acc,shift", [(1 << 30, 1), (-(1 << 30) - 1, 1), (1 << 27, 4), (1, 31)])
def test_requantize_refuses_a_left_shift_that_overflows_int32(acc, shift):
    # (1 << 30) << 1 = 2^31 and (-(2^30) - 1) << 1 = -2^31 - 2 do not fit in int32, nor 1 << 31
    with pytest.raises(OverflowError):
        requantize(acc, HALF, shift)


# ---- quantize_multiplier, by hand -------------------------------------------------------------

MULTIPLIERS = [
    # (real, (mult, shift)): frexp(real) = (q, e), mult = round_half_away(q * 2^31)
    (0.0, (0, 0)),  # no multiplier
    (1.0, (HALF, 1)),  # frexp = (0.5, 1)
    (0.5, (HALF, 0)),
    (0.75, (THREE_QUARTERS, 0)),
    (3.0, (THREE_QUARTERS, 2)),  # frexp = (0.75, 2)
    (0.1, (1717986918, -3)),  # frexp = (0.8, -3); 0.8 * 2^31 = 1717986918.4 -> down
    (0.5 + 2**-32, (HALF + 1, 0)),  # q * 2^31 = 2^30 + 0.5: a tie, away from zero (np.round: 2^30)
    (1 - 2**-31, (INT32_MAX, 0)),  # q * 2^31 = 2^31 - 1 exactly: the largest multiplier
    (1 - 2**-32, (HALF, 1)),  # q * 2^31 = 2^31 - 0.5 -> 2^31, renormalised to (2^30, e + 1)
    (2**-31, (HALF, -30)),  # frexp = (0.5, -30)
    (2**-32, (HALF, -31)),  # e = -31: the smallest exponent kept
    (2**-32 * (1 - 2**-48), (HALF, -31)),  # e = -32, but q rounds up to 1: e = -31 after renormalising, kept
    (2**-33, (0, 0)),  # e = -32 < -31: flushed to zero
]


@pytest.mark.parametrize("real,want", MULTIPLIERS)
def test_quantize_multiplier_by_hand(real, want):
    got = quantize_multiplier(real)
    assert got == want and all(type(v) is int for v in got)


def test_quantize_multipliers_vector_form():
    mult, shift = quantize_multipliers([0.0, 1.0, 0.1, 2**-33])
    assert mult.dtype == shift.dtype == np.int32
    assert mult.tolist() == [0, HALF, 1717986918, 0] and shift.tolist() == [0, 1, -3, 0]


@pytest.mark.parametrize("real", [-0.5, float("nan"), float("inf")])
def test_quantize_multiplier_refuses_what_has_no_multiplier(real):
    with pytest.raises(ValueError):
        quantize_multiplier(real)


# ---- round_div (average pooling, L), clamp, add parameters, by hand ----------------------------

ROUND_DIV = [
    # (num, den, expected) as C computes num > 0 ? (num + den/2) / den : (num - den/2) / den
    (7, 2, 4),  # (7 + 1) / 2: 3.5 -> 4
    (-7, 2, -4),  # (-7 - 1) / 2: -3.5 -> -4, away from zero
    (1, 2, 1),
    (-1, 2, -1),
    (0, 5, 0),  # (0 - 2) / 5 truncates to 0
    (7, 3, 2),  # 8 / 3: 2.33 -> 2
    (8, 3, 3),  # 9 / 3: 2.67 -> 3
    (-7, 3, -2),  # -8 / 3 truncates to -2
    (-8, 3, -3),  # -9 / 3
    (6, 4, 2),  # (6 + 2) / 4: 1.5 -> 2
    (-6, 4, -2),
    (5, 4, 1),  # 7 / 4: 1.25 -> 1
    (-2, 4, -1),  # -4 / 4: -0.5 -> -1
    (-3, 1, -3),
    (32767 * 1000 + 500, 1000, 32768),  # 32767.5 -> 32768 (mean of 1000 frames)
    (-32768 * 1000 - 499, 1000, -32768),  # -32768.499 -> -32768
]


@pytest.mark.parametrize("num,den,want", ROUND_DIV)
def test_round_div_by_hand(num, den, want):
    assert int(round_div(num, den)) == want


def test_round_div_vectorized():
    num, den, want = (np.array(col, dtype=np.int64) for col in zip(*ROUND_DIV))
    np.testing.assert_array_equal(round_div(num, den), want)


def test_clamp_by_hand():
    np.testing.assert_array_equal(clamp([-129, -128, 0, 127, 128, -(2**40)]), [-128, -128, 0, 127, 127, -128])
    np.testing.assert_array_equal(clamp([-50, 3, 200], -20, 10), [-20, 3, 10])  # ReLU: lo = zp_out


def test_add_params_by_hand():
    # s1 = 0.5, s2 = 0.25, s_out = 1: twice_max = 1; 0.5 -> (2^30, 0); 0.25 = 0.5 * 2^-1 -> (2^30, -1);
    # 1 / (2^20 * 1) = 0.5 * 2^-19 -> (2^30, -19)
    assert add_params(0.5, 0.25, 1.0) == ((HALF, 0), (HALF, -1), (HALF, -19))
    # left shift 16: 2^-16 = 0.5 * 2^-15
    assert add_params(0.5, 0.25, 1.0, left_shift=16)[2] == (HALF, -15)
    # s1 = 0.02, s2 = 0.03, s_out = 0.05: twice_max = 0.06; 1/3 = (2/3) 2^-1, 2/3 * 2^31 = 1431655765.33;
    # 0.5 exactly; 0.06 / (2^20 * 0.05) = 0.6 * 2^-19, 0.6 * 2^31 = 1288490188.8 -> up
    assert add_params(0.02, 0.03, 0.05) == ((1431655765, -1), (HALF, 0), (1288490189, -19))


def test_residual_add_worked_example():
    """q1 = 10 at scale 0.5 (5.0) plus q2 = 20 at scale 0.25 (5.0) is 10.0: q = 10 at scale 1.
    a = requantize(10 << 20, 2^30, 0) = 5 * 2^20, b = requantize(20 << 20, 2^30, -1) = 5 * 2^20,
    requantize(10 * 2^20, 2^30, -19) = 10."""
    (m1, s1), (m2, s2), (mo, so) = add_params(0.5, 0.25, 1.0)
    a, b = int(requantize(10 << 20, m1, s1)), int(requantize(20 << 20, m2, s2))
    assert (a, b) == (5 << 20, 5 << 20)
    assert int(requantize(a + b, mo, so)) == 10


# ---- int8_math against the reference, on generated inputs --------------------------------------


@st.composite
def requantize_args(draw):
    shift = draw(st.integers(-31, 10))
    left = max(shift, 0)
    acc = draw(st.integers(INT32_MIN >> left, INT32_MAX >> left))  # acc << left fits int32
    mult = draw(st.one_of(st.integers(0, INT32_MAX), st.integers(1 << 30, INT32_MAX)))
    return acc, mult, shift


@FUZZ
@given(requantize_args())
def test_requantize_equals_the_reference(args):
    acc, mult, shift = args
    assert int(requantize(acc, mult, shift)) == ref_requantize(acc, mult, shift)


@FUZZ
@given(st.integers(INT32_MIN, INT32_MAX), st.integers(1, 1 << 20))
def test_round_div_is_nearest_ties_away_from_zero(num, den):
    exact = Fraction(num, den)
    got = int(round_div(num, den))
    assert abs(got - exact) <= Fraction(1, 2)
    if abs(got - exact) == Fraction(1, 2):  # a tie: away from zero
        assert abs(got) > abs(exact)


@FUZZ
@given(st.floats(min_value=2.0**-40, max_value=2.0**20, allow_nan=False, allow_infinity=False))
def test_quantize_multiplier_is_the_nearest_representation(real):
    mult, shift = quantize_multiplier(real)
    if real >= 2.0**-32:
        assert (1 << 30) <= mult <= INT32_MAX
        # mult * 2^(shift - 31) is real to half a unit of mult's last place (exact arithmetic)
        assert abs(Fraction(mult) * Fraction(2) ** (shift - 31) - Fraction(real)) <= Fraction(2) ** (shift - 32)
    elif real < 2.0**-33:
        assert (mult, shift) == (0, 0)
