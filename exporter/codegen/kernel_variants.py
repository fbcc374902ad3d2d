"""The row kernel of each conv op, chosen at export time.

firmware/kernels has, besides the general kernels (nn_conv2d_row, nn_depthwise_conv2d_row),
instances for one shape and output stage (nn_kernels.h, NN_CONV_VARIANTS): the pointwise convs
of mn01's channel counts, the planar depthwise 3 x 3 and 5 x 5 with strides 1 and 2, the
depthwise short rows of one (kernel, stride, mel, channels) with an activation table (mn01's
B7-B15: M4 assembly), the one-input-channel 3 x 3 conv (the stem) with strides 1 and 2. The
generated scheduler calls the one chosen here, so that the firmware links only the instances its
network uses. Each instance hands an op of another shape to the general kernel, so a choice made
here can cost speed, never correctness; tests/test_kernels.py runs every case through both.
The stride-2 stem with eight output channels also gets its channel records and output table prepared
here (stem8_records; network_data.c lists them, nn_conv.c finds them by op), and so do the planar
depthwise instances (dw_records: their channel records, nn_conv_t.prep).
"""

from __future__ import annotations

import numpy as np

from exporter.quantization import int8_math

POINTWISE_CIN = (8, 16, 24, 48, 64, 96)
DEPTHWISE = ((3, 1), (3, 2), (5, 1), (5, 2))  # (kernel, stride)
PLANE = 76  # int16 per plane row of the planar depthwise path (nn_depthwise.c, NN_DW_PLANE)
PLANAR_MIN_OUT = 16  # shorter rows: the window path is faster (nn_depthwise.c, dw_planar_fits)
PATCH_MAX = 1024  # int16 of the pointwise patch (nn_conv.c, NN_PATCH_MAX)
STEM_F_MAX, STEM_C_MAX = 256, 32  # mel bands and output channels of the stem kernel (nn_conv.c)
# depthwise short rows, one instance per (kernel, stride, mel, channels) with "same" padding and an
# activation table (mn01's B7-B15: nn_depthwise.c, dws_row)
DEPTHWISE_SHORT = ((3, 2, 16, 24), (3, 1, 8, 24), (3, 1, 8, 48), (3, 1, 8, 64), (5, 2, 8, 64), (5, 1, 4, 96))

# the planar depthwise instances: the ones that take channel records (dw_records)
PLANAR = frozenset(f"nn_dw{k}s{st}_{s}_row" for k, st in DEPTHWISE for s in ("plain", "lut"))
VARIANTS = tuple([f"nn_pw{c}_{s}_row" for c in POINTWISE_CIN for s in ("plain", "lut")]
                 + [f"nn_dw{k}s{st}_{s}_row" for k, st in DEPTHWISE for s in ("plain", "lut")]
                 + [f"nn_c1k3s{st}_{s}_row" for st in (1, 2) for s in ("plain", "lut")]
                 + [f"nn_dw{k}s{st}f{f}c{c}_lut_row" for k, st, f, c in DEPTHWISE_SHORT])


def output_stage(act_min: int, act_max: int, has_lut: bool) -> str:
    """nn_out_kind of nn_simd.h: 'plain', 'relu', 'lut' or 'any'."""
    if act_max != 127 or (has_lut and act_min != -128):
        return "any"
    if has_lut:
        return "lut"
    return "plain" if act_min == -128 else "relu"


def conv_row_kernel(kind: str, cin: int, f_in: int, f_out: int, k: int, stride: int, pad: int,
                    act_min: int, act_max: int, has_lut: bool, cout: int = 0) -> str | None:
    """The instance for a conv2d / depthwise_conv2d op, or None for the general kernel. (The stem
    kernel also needs every channel in the fast requantization, which its instance checks.)"""
    stage = output_stage(act_min, act_max, has_lut)
    if stage not in ("plain", "lut"):
        return None
    if (kind == "conv2d" and cin == 1 and k == 3 and pad == 1 and stride in (1, 2) and f_in <= STEM_F_MAX
            and cout <= STEM_C_MAX):
        return f"nn_c1k3s{stride}_{stage}_row"
    if kind == "conv2d" and k == 1 and stride == 1 and pad == 0 and cin in POINTWISE_CIN and cin <= PATCH_MAX // 4:
        return f"nn_pw{cin}_{stage}_row"
    if (kind == "depthwise_conv2d" and (k, stride) in DEPTHWISE and f_out >= PLANAR_MIN_OUT
            and f_in + 2 * pad + 8 <= PLANE):
        return f"nn_dw{k}s{stride}_{stage}_row"
    if kind == "depthwise_conv2d" and stage == "lut" and pad == k // 2 and (k, stride, f_in, cin) in DEPTHWISE_SHORT:
        return f"nn_dw{k}s{stride}f{f_in}c{cin}_lut_row"
    return None


STEM8_EXT_MAX = 1024  # entries of a stem's extended output table (beyond: the general stem loop)


def stem8_records(weights, bias, mult, shift, zp_in: int, zp_out: int, table=None) -> dict | None:
    """The export-time channel records of the stride-2 stem with eight output channels (nn_kernels.h,
    nn_stem8_rec_t; nn_conv.c prepares the same per row for an op without them) and its extended output
    table, or None where the kernel takes another path: not eight channels, a channel outside the fast
    requantization (a multiplier < 0, a shift outside [-22, -1]), a bias with the input zero point folded
    in outside int16, a table longer than STEM8_EXT_MAX.

    Returns {"recs": [{"w", "mult", "c", "rsh"}] * 8, "ext": int8 values for lo .. hi, "lo": lo}: ext[v - lo]
    is the output of requantized value v (zero point included): the activation table (None: the identity)
    at v saturated to int8, for every v a channel can reach."""
    if len(bias) != 8 or np.size(weights) != 72:
        return None
    w = [[int(v) for v in row] for row in np.asarray(weights).reshape(8, 9)]

    def pair(lo: int, hi: int) -> int:
        return (lo & 0xFFFF) | ((hi & 0xFFFF) << 16)

    recs, lo, hi = [], -128, 127
    for co, wc in enumerate(w):
        m, s = int(mult[co]), int(shift[co])
        b = int(bias[co]) - zp_in * sum(wc)
        if m < 0 or not -22 <= s <= -1 or not -32768 <= b <= 32767:
            return None
        rsh = -s
        recs.append({"w": [pair(2 * wc[0], 2 * wc[3]), pair(2 * wc[1], 2 * wc[4]), pair(2 * wc[2], 2 * wc[5]),
                           pair(2 * wc[6], 2 * wc[8]), pair(2 * wc[7], b)],
                     "mult": m, "c": (1 << (rsh - 1)) + zp_out * (1 << rsh), "rsh": rsh})
        # the accumulator is monotone in each input (-128 .. 127, padding zp_in among them), the output in it
        acc = [int(bias[co]) + sum(f(wi * (-128 - zp_in), wi * (127 - zp_in)) for wi in wc) for f in (min, max)]
        v_lo, v_hi = (int(v) + zp_out for v in int8_math.requantize(np.array(acc, np.int64), m, s))
        lo, hi = min(lo, v_lo), max(hi, v_hi)
    if hi - lo + 1 > STEM8_EXT_MAX:
        return None
    sat = np.clip(np.arange(lo, hi + 1), -128, 127)
    ext = sat if table is None else np.asarray(table, np.int64)[sat + 128]
    return {"recs": recs, "ext": [int(v) for v in ext], "lo": lo}


def dw_records(weights, bias, mult, shift, zp_in: int, zp_out: int, k: int, stride: int) -> list[int] | None:
    """The export-time channel records of a planar depthwise op (nn_depthwise.c, dw_chan_t; nn_conv_t.prep):
    per channel the doubled bias with zp_in's share folded in, the fast requantization (mult, c, rsh) and
    per kernel row the doubled weights as int16 pairs in dw_pass's order, as uint32 words; or None where
    the kernel prepares them per row: a channel count not a multiple of 4, a channel outside the fast
    requantization (a multiplier < 0, a shift outside [-22, -1]), a bias term outside int32.

    Row words: stride 1: 3 x 3 (w0, w1), (w1, w2); 5 x 5 (w0, w1), (w2, w3), (w1, w2), (w3, w4);
    stride 2: 3 x 3 (w0, w1), (w2, 0); 5 x 5 (w0, w1), (w2, w3), (w4, 0), 0 (first tap in the low half)."""
    w = np.asarray(weights, np.int64).reshape(k, k, -1)  # [kt][kf][c]
    ch = w.shape[2]
    if ch % 4 or (k, stride) not in DEPTHWISE:
        return None

    def pair(lo: int, hi: int) -> int:
        return ((2 * lo) & 0xFFFF) | (((2 * hi) & 0xFFFF) << 16)

    words = []
    for c in range(ch):
        m, s = int(mult[c]), int(shift[c])
        bias2 = 2 * int(bias[c]) - 2 * zp_in * int(w[:, :, c].sum())
        if m < 0 or not -22 <= s <= -1 or not -2 ** 31 <= bias2 < 2 ** 31:
            return None
        rsh = -s
        words += [bias2, m, (2 * zp_out + 1) << (rsh - 1), rsh]
        for kt in range(k):
            t = [int(v) for v in w[kt, :, c]]
            if stride == 1:
                row = [pair(t[0], t[1]), pair(t[1], t[2])] if k == 3 else \
                    [pair(t[0], t[1]), pair(t[2], t[3]), pair(t[1], t[2]), pair(t[3], t[4])]
            else:
                row = [pair(t[0], t[1]), pair(t[2], 0)] if k == 3 else \
                    [pair(t[0], t[1]), pair(t[2], t[3]), pair(t[4], 0), 0]
            words += row
    return [v & 0xFFFFFFFF for v in words]


ADD_TAB_SHIFT = 22  # N of nn_add's table form (nn_kernels.h, NN_ADD_TAB_SHIFT): a constant in its SSAT
ADD_TAB_MIN_PER_FRAME = 16  # output elements per input frame from which an add gets its table (1 KB; mn01: B1, B3, B5, B6)


def add_table(zp_a: int, zp_b: int, zp_out: int, left_shift: int, mult, shift) -> dict | None:
    """nn_add's table form of an add op (nn_kernels.h, nn_add_t.tab): out = ssat8((x * a + tab[y]) >> N),
    N = ADD_TAB_SHIFT, x one input and y the other, every int32 exact, or None where there is none.

    The add is, but for its rounding of negative halves, floor(x * slope + f(y)): a multiplier a near
    slope * 2^N leaves for each y an interval of table values giving all 256 outputs of its column, found
    by checking every (x, y) pair against int8_math.add, so the form is the add itself on every input, not
    an approximation. Returns {"tab_b": 1 where y is b, "a": a, "tab": 256 int32 for y = -128 .. 127}."""
    v = np.arange(-128, 128, dtype=np.int64)
    exact = int8_math.add(v[:, None], v[None, :], zp_a, zp_b, zp_out, left_shift, mult, shift)  # [a][b]
    n = ADD_TAB_SHIFT
    one = 1 << n
    for tab_b in (1, 0):
        g = exact if tab_b else exact.T  # g[x][y]
        side = 0 if tab_b else 1  # x's requantization
        slope = (mult[side] / 2.0 ** 31 * 2.0 ** (left_shift + shift[side])
                 * mult[2] / 2.0 ** 31 * 2.0 ** shift[2])
        a0 = int(round(slope * one))
        for a in sorted(range(a0 - 64, a0 + 65), key=lambda c: abs(c - a0)):
            xa = v[:, None] * a
            big = np.int64(1) << 40
            lo = np.where(g == -128, -big, g * one - xa).max(axis=0)  # the table value's bounds per y
            hi = np.where(g == 127, big, (g + 1) * one - xa).min(axis=0)  # (exclusive)
            if (lo >= hi).any():
                continue
            tab = np.where(lo == -big, hi - 1, np.where(hi == big, lo, (lo + hi - 1) // 2))
            acc = xa + tab[None, :]
            if np.abs(acc).max() >= 1 << 31 or np.abs(tab).max() >= 1 << 31:
                continue
            if (int8_math.clamp(acc >> n) == g).all():
                return {"tab_b": tab_b, "a": a, "tab": [int(t) for t in tab]}
    return None
