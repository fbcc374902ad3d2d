"""The C int8 kernels (firmware/kernels) against exporter/int8_math, byte for byte.

Both C code paths are checked: the portable one (``kernel_cli``) and the
Cortex-M4 DSP one with its instructions emulated on the host
(``kernel_cli_dspemu``); the kernels' Thumb-2 paths (pointwise, add, SE multiply)
in the Cortex-M4 build itself, run in the unicorn emulator. Random cases cover
saturation, positive and negative shifts, padding, odd sizes and stride 2 on odd
sizes.
"""

from __future__ import annotations

import re
import struct
import subprocess

import numpy as np
import pytest

from exporter import FIRMWARE_DIR
from exporter.boards import cmake_build
from exporter.codegen import kernel_variants
from exporter.quantization import int8_math
from exporter.reference.int8_exec import conv_acc

CLIS = ("kernel_cli", "kernel_cli_dspemu")


@pytest.fixture(scope="module")
def build_dir():
    return cmake_build.build(board="host", targets=list(CLIS))


def _blob(a) -> bytes:
    data = a.encode() if isinstance(a, str) else np.ascontiguousarray(a).tobytes()
    return struct.pack("<I", len(data)) + data


def run_cases(build_dir, cli: str, cases: list[list], tmp_path) -> list[bytes]:
    """Run each case (kernel name, arrays...) through the CLI; return the output bytes per case."""
    src, dst = tmp_path / f"{cli}.in", tmp_path / f"{cli}.out"
    src.write_bytes(b"".join(_blob(a) for case in cases for a in case))
    subprocess.run([str(build_dir / "firmware" / "host" / cli), str(src), str(dst)], check=True)
    raw, outs, pos = dst.read_bytes(), [], 0
    while pos < len(raw):
        (n,) = struct.unpack_from("<I", raw, pos)
        outs.append(raw[pos + 4 : pos + 4 + n])
        pos += 4 + n
    assert len(outs) == len(cases)
    return outs


def i32(*v) -> np.ndarray:
    return np.array(v, dtype=np.int32)


def rand_i8(rng, shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8)


def rand_mult_shift(rng, n, lo_shift=-12, hi_shift=2):
    """Multipliers in [2^30, 2^31-1] (plus a few zeros) and shifts of both signs."""
    mult = rng.integers(1 << 30, (1 << 31) - 1, size=n, endpoint=True, dtype=np.int64)
    mult[rng.random(n) < 0.05] = 0
    return mult.astype(np.int32), rng.integers(lo_shift, hi_shift, size=n, endpoint=True).astype(np.int32)


def requant_out(acc, mult, shift, zp, lo=-128, hi=127) -> np.ndarray:
    return int8_math.clamp(int8_math.requantize(acc, mult, shift) + zp, lo, hi).astype(np.int8)


def planar_records(case) -> np.ndarray:
    """The export-time records of a depthwise case for its planar instance (kernel_variants.dw_records,
    nn_conv_t.prep), empty where the exporter gives none."""
    _, head, w, bias, mult, shift, _, _ = case
    _, _, _, _, k, stride, _, zp_in, zp_out, _, _, _ = (int(v) for v in head)
    rec = kernel_variants.dw_records(w, bias, mult, shift, zp_in, zp_out, k, stride)
    return np.array(rec or [], np.uint32)


def with_row_kernels(cases, expected):
    """Each conv case once per row kernel: the general one, the instance the exporter chooses for it
    (exporter/codegen/kernel_variants.py), with the records it prepares for it where it does (the planar
    depthwise), and an instance of another shape, which must hand the op to the general kernel."""
    out_c, out_w = [], []
    none = np.zeros(0, np.uint32)
    for case, want in zip(cases, expected):
        if case[0] not in ("conv2d", "depthwise_conv2d"):
            out_c.append(case)
            out_w.append(want)
            continue
        cin, cout, f_in, f_out, k, stride, pad, _, _, act_min, act_max, _ = (int(v) for v in case[1])
        chosen = kernel_variants.conv_row_kernel(case[0], cin, f_in, f_out, k, stride, pad, act_min, act_max,
                                                 case[6].size > 0, cout)
        if case[0] == "conv2d":
            other = "nn_pw16_lut_row" if cin == 8 else "nn_pw8_plain_row"
        else:
            other = "nn_dw3s1_plain_row" if (k, stride) == (5, 2) else "nn_dw5s2_lut_row"
        runs = [(variant, none) for variant in dict.fromkeys(["", chosen or "", other])]
        if chosen in kernel_variants.PLANAR and planar_records(case).size:
            runs.append((chosen, planar_records(case)))
        for variant, prep in runs:
            out_c.append(case + [variant, prep])
            out_w.append(want)
    return out_c, out_w


def check_all(build_dir, tmp_path, cases, expected):
    cases, expected = with_row_kernels(cases, expected)
    for cli in CLIS:
        outs = run_cases(build_dir, cli, cases, tmp_path)
        for i, (got, want) in enumerate(zip(outs, expected)):
            want = np.ascontiguousarray(want)
            assert got == want.tobytes(), f"{cli}: case {i} ({cases[i][0]}) differs in {np.sum(np.frombuffer(got, want.dtype) != want.ravel())} of {want.size}"


def test_requant_matches_int8_math(build_dir, tmp_path):
    rng = np.random.default_rng(1)
    n = 200_000
    mult = rng.integers(0, (1 << 31) - 1, size=n, endpoint=True, dtype=np.int64)
    shift = rng.integers(-31, 8, size=n, endpoint=True)
    # acc << max(shift, 0) must fit int32: draw the shifted value, then shift back.
    bits = rng.integers(0, 32, size=n)
    acc = rng.integers(-(1 << 31), 1 << 31, size=n, dtype=np.int64) >> bits
    acc = acc >> np.maximum(shift, 0)
    # Exact ties of the rounding divide and the extremes.
    acc[:8] = [0, -1, 1, (1 << 31) - 1, -(1 << 31), -(1 << 30), 1 << 30, -3]
    mult[:8], shift[:8] = (1 << 31) - 1, 0
    acc[8:16], mult[8:16], shift[8:16] = [-6, -2, 2, 6, -10, 10, -1, 1], 1 << 30, -1
    want = int8_math.requantize(acc, mult, shift).astype(np.int32)
    case = ["requant", acc.astype(np.int32), mult.astype(np.int32), shift.astype(np.int32), np.zeros(n, np.int32)]
    check_all(build_dir, tmp_path, [case], [want])


def test_requant_fast_matches_int8_math(build_dir, tmp_path):
    """The kernels' SMMULR form, for |acc << max(shift, 0)| < 2^30 (every accumulator of the network)."""
    rng = np.random.default_rng(11)
    n = 200_000
    mult = rng.integers(0, (1 << 31) - 1, size=n, endpoint=True, dtype=np.int64)
    shift = rng.integers(-31, 6, size=n, endpoint=True)
    bits = rng.integers(0, 31, size=n)
    acc = (rng.integers(-(1 << 30) + 1, 1 << 30, size=n, dtype=np.int64) >> bits) >> np.maximum(shift, 0)
    acc[:6], mult[:6], shift[:6] = [(1 << 30) - 1, -(1 << 30) + 1, -1, 1, 0, -2], (1 << 31) - 1, [-31, -31, 0, 0, -3, -1]
    want = int8_math.requantize(acc, mult, shift).astype(np.int32)
    case = ["requant_fast", acc.astype(np.int32), mult.astype(np.int32), shift.astype(np.int32), np.zeros(n, np.int32)]
    check_all(build_dir, tmp_path, [case], [want])


def test_requant_z_matches_int8_math(build_dir, tmp_path):
    """The kernels' usual form: doubled accumulator, shift in [-22, -1], output zero point folded in (SMMLAR)."""
    rng = np.random.default_rng(12)
    n = 200_000
    mult = rng.integers(0, (1 << 31) - 1, size=n, endpoint=True, dtype=np.int64)
    shift = rng.integers(-22, -1, size=n, endpoint=True)
    acc = rng.integers(-(1 << 30) + 1, 1 << 30, size=n, dtype=np.int64) >> rng.integers(0, 31, size=n)
    zp = rng.integers(-128, 128, size=n)
    acc[:4], mult[:4], shift[:4] = [(1 << 30) - 1, -(1 << 30) + 1, -1, -3], (1 << 31) - 1, [-22, -22, -1, -1]
    acc[4:8], mult[4:8], shift[4:8] = [-1, -5, -1, 1], [0, 0, 1 << 30, 1 << 30], [-1, -7, -1, -1]  # y == 0, acc < 0
    want = (int8_math.requantize(acc, mult, shift) + zp).astype(np.int32)
    case = ["requant_z", acc.astype(np.int32), mult.astype(np.int32), shift.astype(np.int32), zp.astype(np.int32)]
    check_all(build_dir, tmp_path, [case], [want])


def conv_case(rng, depthwise: bool, t: int, f: int, cin: int, cout: int, k: int, stride: int, with_lut: bool,
              shifts: tuple[int, int] | None = None, act: int | None = None):
    """shifts: the range of the requantization shifts (random otherwise); act: the output stage (index
    below, random otherwise)."""
    pad = (k - 1) // 2
    x = rand_i8(rng, (t, f, cin))
    w = rand_i8(rng, (k, k, cin) if depthwise else (cout, k, k, cin))
    w[w == -128] = -127
    scale = int(rng.integers(1, 3000))
    bias = rng.integers(-scale * 40, scale * 40, size=cout).astype(np.int32)
    # mostly the usual shifts (<= 0); sometimes left shifts or more than 22 right shifts (the kernels' slow paths)
    lo_shift, hi_shift = shifts or [(-14, 0), (-14, 0), (-14, 1), (-26, -20)][int(rng.integers(0, 4))]
    mult, shift = rand_mult_shift(rng, cout, lo_shift=lo_shift, hi_shift=hi_shift)
    zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, size=2))
    # ReLU, none, or a clamp below 127 (the kernels' general output stage)
    stages = [(zp_out, 127), (-128, 127), (-100, int(rng.integers(-20, 127)))]
    act_min, act_max = stages[int(rng.integers(0, 3)) if act is None else act]
    lut = rand_i8(rng, 256) if with_lut else np.zeros(0, np.int8)
    acc = conv_acc(x, zp_in, w, bias, stride, depthwise)
    want = requant_out(acc, mult, shift, zp_out, act_min, act_max)
    if with_lut:
        want = lut[want.astype(np.int64) + 128]
    t_out, f_out = want.shape[:2]
    head = i32(cin, cout, f, f_out, k, stride, pad, zp_in, zp_out, act_min, act_max, t)
    name = "depthwise_conv2d" if depthwise else "conv2d"
    return [name, head, w, bias, mult, shift.astype(np.int8), lut, x], want


def test_conv2d(build_dir, tmp_path):
    rng = np.random.default_rng(2)
    cases, wants = [], []
    shapes = [  # (t, f, cin, cout, k, stride)
        (9, 16, 1, 8, 3, 2),  # stem: one input channel, stride 2 on odd T
        (10, 17, 1, 16, 3, 2),  # odd F
        (6, 9, 1, 4, 3, 1),  # one input channel, stride 1
        (4, 5, 1, 70, 3, 2),  # one input channel, more output channels than its fast path takes
        (7, 7, 3, 5, 3, 1),
        (5, 9, 8, 16, 1, 1),  # pointwise
        (6, 8, 16, 8, 1, 1),
        (3, 5, 24, 72, 1, 1),
        (3, 8, 48, 16, 1, 1),  # pointwise instances of mn01's channel counts
        (2, 8, 64, 16, 1, 1),
        (2, 7, 96, 16, 1, 1),
        (2, 12, 32, 5, 1, 1),  # a channel count without an instance (the general one)
        (2, 70, 16, 4, 1, 1),  # a row longer than one patch block
        (4, 3, 7, 3, 1, 1),  # channels not a multiple of 4
        (5, 5, 6, 4, 5, 2),
        (1, 1, 8, 8, 3, 1),  # everything is padding but the centre
        (2, 4, 200, 3, 3, 1),  # receptive field beyond the patch buffer: scalar path
    ]
    for shape in shapes:
        for with_lut in (False, True):
            c, w = conv_case(rng, False, *shape, with_lut=with_lut)
            cases.append(c)
            wants.append(w)
    check_all(build_dir, tmp_path, cases, wants)


def conv_case_want(case):
    """The expected output of a (pointwise) conv_case after its parameters were edited."""
    head, w, bias, mult, shift, lut, x = case[1:8]
    acc = conv_acc(x, int(head[7]), w, bias, 1, False)
    want = requant_out(acc, mult, shift.astype(np.int32), int(head[8]), int(head[9]), int(head[10]))
    return lut[want.astype(np.int64) + 128] if lut.size else want


def test_pointwise_pixel_major(build_dir, tmp_path):
    """The pointwise instances' paths (every channel in the fast requantization, no clamp; 8 inputs: a
    multiple of 4 output channels, at most 64; 16 inputs: an even count; 24 to 96: any) and what they
    hand to the general kernel: a channel outside the fast requantization, other channel counts."""
    rng = np.random.default_rng(12)
    cases, wants = [], []
    for t, f, cout, shifts in ((3, 7, 8, (-14, -1)), (2, 1, 4, (-22, -1)), (2, 9, 24, (-9, -3)), (2, 5, 48, (-14, -1)),
                               (1, 64, 16, (-12, -6)), (2, 3, 64, (-14, -1)),  # the fast path
                               (2, 5, 8, (-1, 0)), (2, 6, 8, (-24, -20)),  # channels outside the fast requantization
                               (2, 5, 6, (-14, -1)), (2, 3, 68, (-14, -1))):  # 6 and 68 channels
        for with_lut in (False, True):
            c, w = conv_case(rng, False, t, f, 8, cout, 1, 1, with_lut=with_lut, shifts=shifts, act=1)
            cases.append(c)
            wants.append(w)
    # sixteen inputs (nn_pw16): chunks of 32 channels (64, 96, 34), an odd channel count, a channel outside
    # the fast requantization in the second chunk (the row done again by the channel-major path)
    for t, f, cout, shifts in ((2, 16, 8, (-14, -1)), (2, 8, 64, (-12, -1)), (2, 4, 96, (-10, -2)), (2, 3, 34, (-22, -1)),
                               (2, 5, 7, (-14, -1)), (1, 1, 2, (-14, -1))):
        for with_lut in (False, True):
            c, w = conv_case(rng, False, t, f, 16, cout, 1, 1, with_lut=with_lut, shifts=shifts, act=1)
            cases.append(c)
            wants.append(w)
    # 24 to 96 inputs (the patch path): channels in several chunks, odd counts, rows longer than a patch block
    for t, f, cin, cout in ((2, 8, 24, 8), (1, 22, 24, 33), (2, 8, 48, 16), (1, 11, 48, 5), (2, 8, 64, 16),
                            (1, 9, 64, 7), (2, 4, 96, 16), (1, 6, 96, 9)):
        for with_lut in (False, True):
            c, w = conv_case(rng, False, t, f, cin, cout, 1, 1, with_lut=with_lut, shifts=(-16, -1), act=1)
            cases.append(c)
            wants.append(w)
    c, w = conv_case(rng, False, 2, 5, 48, 12, 1, 1, with_lut=False, shifts=(-14, -1), act=1)
    c[5][11] = -23  # beyond the fast requantization: the general kernel
    cases.append(c)
    wants.append(conv_case_want(c))
    c, w = conv_case(rng, False, 2, 5, 16, 40, 1, 1, with_lut=True, shifts=(-14, -1), act=1)
    c[5][35] = 1  # a left shift
    cases.append(c)
    wants.append(conv_case_want(c))
    # zero points at both ends (the zero point folded into the bias)
    for zp_in in (-128, 127):
        c, w = conv_case(rng, False, 2, 6, 8, 8, 1, 1, with_lut=False, shifts=(-14, -1), act=1)
        c[1][7] = zp_in
        cases.append(c)
        wants.append(conv_case_want(c))
    check_all(build_dir, tmp_path, cases, wants)


def test_depthwise_conv2d(build_dir, tmp_path):
    rng = np.random.default_rng(3)
    cases, wants = [], []
    for k in (3, 5):
        for stride in (1, 2):
            # (3, 400, 8): a window wider than the stack buffer (plain path)
            for t, f, c in ((9, 16, 8), (8, 17, 16), (3, 3, 12), (1, 1, 8), (6, 5, 7), (11, 7, 40), (2, 9, 1), (3, 400, 8)):
                case, want = conv_case(rng, True, t, f, c, c, k, stride, with_lut=bool(rng.random() < 0.3))
                cases.append(case)
                wants.append(want)
    check_all(build_dir, tmp_path, cases, wants)


def test_row_kernel_names_are_the_kernels():
    """The instances the exporter can choose are those nn_kernels.h declares (NN_CONV_VARIANTS)."""
    header = (FIRMWARE_DIR / "kernels" / "nn_kernels.h").read_text()
    block = header[header.index("#define NN_CONV_VARIANTS(X)"):].split("\n#define", 1)[0]
    declared = re.findall(r"X\((nn_\w+)\)", block)
    assert declared and sorted(declared) == sorted(kernel_variants.VARIANTS)


def test_row_kernel_choice():
    """mn01's shapes get their instance; other output stages and shapes the general kernels."""
    choose = kernel_variants.conv_row_kernel
    assert choose("conv2d", 16, 8, 8, 1, 1, 0, -128, 127, True) == "nn_pw16_lut_row"
    assert choose("conv2d", 16, 8, 8, 1, 1, 0, -20, 127, False) is None  # a ReLU clamp
    assert choose("conv2d", 32, 8, 8, 1, 1, 0, -128, 127, False) is None  # no instance for 32 channels
    assert choose("conv2d", 8, 64, 64, 3, 1, 1, -128, 127, False) is None
    assert choose("depthwise_conv2d", 8, 64, 64, 3, 1, 1, -128, 127, False) == "nn_dw3s1_plain_row"
    assert choose("depthwise_conv2d", 16, 32, 16, 5, 2, 2, -128, 127, True) == "nn_dw5s2_lut_row"
    assert choose("depthwise_conv2d", 24, 8, 8, 3, 1, 1, -128, 127, True) == "nn_dw3s1f8c24_lut_row"  # a short row
    assert choose("depthwise_conv2d", 32, 8, 8, 3, 1, 1, -128, 127, True) is None  # of channels without an instance
    assert choose("depthwise_conv2d", 24, 8, 8, 3, 1, 1, -128, 127, False) is None  # without a table
    assert choose("depthwise_conv2d", 8, 80, 80, 3, 1, 1, -128, 127, False) is None  # wider than the planes
    assert choose("conv2d", 1, 128, 64, 3, 2, 1, -128, 127, True, 8) == "nn_c1k3s2_lut_row"  # the stem
    assert choose("conv2d", 1, 128, 64, 3, 2, 1, -128, 127, True, 70) is None  # more channels than it takes


def test_depthwise_conv2d_window_path(build_dir, tmp_path):
    """Rows too short for the planar path (under 16 outputs) and kernels or strides outside it: the
    padded-window path and its channel remainder, the plain path beyond its kernels (k 7)."""
    rng = np.random.default_rng(5)
    cases, wants = [], []
    for k, stride in ((3, 1), (3, 2), (5, 1), (5, 2), (1, 1), (1, 2), (3, 3), (5, 3), (7, 1)):
        for t, f, c in ((7, 8, 8), (6, 9, 20), (5, 4, 6), (3, 15, 12)):
            case, want = conv_case(rng, True, t, f, c, c, k, stride, with_lut=bool(rng.random() < 0.3))
            cases.append(case)
            wants.append(want)
    check_all(build_dir, tmp_path, cases, wants)


def test_depthwise_conv2d_wide_rows(build_dir, tmp_path):
    """Rows wide enough for the planar path (3 x 3 and 5 x 5, strides 1 and 2): odd widths (an odd
    padding, a last pass of fewer than four pixels), a channel remainder, the channel counts it takes
    as constants (8, 16) and others, the widest rows its buffers take, padding rows (t < k), every output
    stage and both requantization paths among the random cases."""
    rng = np.random.default_rng(31)
    cases, wants = [], []
    shapes = (
        (5, 64, 8, 3, 1), (4, 33, 10, 3, 1), (3, 66, 4, 3, 1), (2, 40, 16, 3, 1), (3, 19, 12, 3, 1),
        (5, 64, 8, 3, 2), (4, 65, 12, 3, 2), (3, 66, 6, 3, 2), (2, 35, 16, 3, 2),
        (4, 16, 16, 5, 1), (3, 17, 8, 5, 1), (6, 64, 8, 5, 1), (2, 22, 12, 5, 1), (3, 18, 7, 5, 1),
        (5, 32, 8, 5, 2), (4, 33, 16, 5, 2), (3, 64, 12, 5, 2), (2, 39, 4, 5, 2), (3, 31, 10, 5, 2),
    )
    planar = set()
    for t, f, c, k, stride in shapes * 6:
        case, want = conv_case(rng, True, t, f, c, c, k, stride, with_lut=bool(rng.random() < 0.3))
        cases.append(case)
        wants.append(want)
        _, _, _, f_out, _, _, pad, _, _, act_min, act_max, _ = (int(v) for v in case[1])
        if kernel_variants.conv_row_kernel("depthwise_conv2d", c, f, f_out, k, stride, pad, act_min, act_max,
                                           case[6].size > 0, c):
            planar.add((f, c, k, stride, case[6].size > 0))
    # every shape reaches the planar path (an instance's output stage), and each instance's two stages do
    assert {s[:4] for s in planar} == {(f, c, k, stride) for _, f, c, k, stride in shapes}
    assert {(s[2], s[3], s[4]) for s in planar} == {(k, s, lut) for k in (3, 5) for s in (1, 2) for lut in (False, True)}
    check_all(build_dir, tmp_path, cases, wants)


def test_planar_records(build_dir, tmp_path):
    """The planar instances with the channel records the exporter prepares (kernel_variants.dw_records,
    nn_conv_t.prep) on every kernel, stride and output stage, every zero point among the cases, padding rows
    (t < k), channel counts of 4 to 16 and rows of odd width: the same bytes as without them. And the
    records are what the kernel reads: one changed bias word changes its channel's outputs."""
    rng = np.random.default_rng(37)
    cases, wants = [], []
    for t, f, c, k, stride in ((5, 64, 8, 3, 1), (2, 33, 4, 3, 1), (4, 65, 12, 3, 2), (1, 34, 16, 3, 2),
                               (4, 16, 16, 5, 1), (3, 19, 8, 5, 1), (5, 32, 8, 5, 2), (2, 37, 4, 5, 2)) * 3:
        case, want = conv_case(rng, True, t, f, c, c, k, stride, with_lut=bool(rng.random() < 0.5),
                               shifts=(-22, -1), act=1)
        assert planar_records(case).size == c * (4 + k * (2 if k == 3 else 4))
        cases.append(case)
        wants.append(want)
    check_all(build_dir, tmp_path, cases, wants)

    case, want = cases[0], wants[0]
    rec = planar_records(case)
    rec[0] += 1 << 22  # channel 0's doubled bias
    for cli in CLIS:
        (got,) = run_cases(build_dir, cli, [case + ["nn_dw3s1_plain_row", rec]], tmp_path)
        diff = np.frombuffer(got, np.int8).reshape(want.shape) != want
        assert diff[..., 0].any() and not diff[..., 1:].any(), cli


def test_planar_records_refused():
    """dw_records gives no records where the kernel must take its per-row path: a channel count not a
    multiple of 4, a channel outside the fast requantization (a left shift, more than 22 right shifts, a
    negative multiplier)."""
    rng = np.random.default_rng(38)
    case, _ = conv_case(rng, True, 3, 16, 8, 8, 3, 1, with_lut=False, shifts=(-22, -1))
    _, head, w, bias, mult, shift, _, _ = case
    zp_in, zp_out = int(head[7]), int(head[8])
    assert kernel_variants.dw_records(w, bias, mult, shift, zp_in, zp_out, 3, 1)
    assert kernel_variants.dw_records(w[..., :6], bias[:6], mult[:6], shift[:6], zp_in, zp_out, 3, 1) is None
    for c, m, sh in ((3, mult[3], 0), (5, mult[5], -23), (7, -1, -5)):
        m2, s2 = mult.copy(), shift.copy()
        m2[c], s2[c] = m, sh
        assert kernel_variants.dw_records(w, bias, m2, s2, zp_in, zp_out, 3, 1) is None


def test_saturation_both_ends(build_dir, tmp_path):
    """Large multipliers and positive shifts drive outputs into both clamps."""
    rng = np.random.default_rng(4)
    x = rand_i8(rng, (4, 6, 8))
    w = np.full((8, 1, 1, 8), 127, np.int8)
    w[::2] = -127
    bias = np.zeros(8, np.int32)
    mult = np.full(8, (1 << 31) - 1, np.int32)
    shift = np.full(8, 3, np.int32)
    acc = conv_acc(x, 0, w, bias, 1, False)
    want = requant_out(acc, mult, shift, 5)
    assert (want == 127).any() and (want == -128).any()
    case = ["conv2d", i32(8, 8, 6, 6, 1, 1, 0, 0, 5, -128, 127, 4), w, bias, mult, shift.astype(np.int8), np.zeros(0, np.int8), x]
    check_all(build_dir, tmp_path, [case], [want])


def test_fully_connected(build_dir, tmp_path):
    rng = np.random.default_rng(5)
    cases, wants = [], []
    # 1030: scalar path; odd output counts (the last of a pair alone); 12, 20: a group of four after the
    # groups of eight; no clamp (act_min -128) for cin 24, 96 (96: a table, the SE gate's output stage)
    for cin, cout in ((8, 8), (16, 8), (72, 24), (5, 3), (120, 32), (1030, 3), (24, 5), (96, 24), (16, 7),
                      (12, 9), (20, 4)):
        x, wt = rand_i8(rng, cin), rand_i8(rng, (cout, cin))
        bias = rng.integers(-50000, 50000, size=cout).astype(np.int32)
        mult, shift = rand_mult_shift(rng, cout, -12, 1)  # a few left shifts: the slow form
        zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, size=2))
        act_min = -128 if cin in (24, 96) else zp_out
        lut = rand_i8(rng, 256) if cin in (16, 96) else np.zeros(0, np.int8)
        want = requant_out(wt.astype(np.int64) @ (x.astype(np.int64) - zp_in) + bias, mult, shift, zp_out, act_min, 127)
        if lut.size:
            want = lut[want.astype(np.int64) + 128]
        cases.append(["fully_connected", i32(cin, cout, zp_in, zp_out, act_min, 127), wt, bias, mult, shift.astype(np.int8), lut, x])
        wants.append(want)
    check_all(build_dir, tmp_path, cases, wants)


def test_global_avgpool(build_dir, tmp_path):
    rng = np.random.default_rng(6)
    cases, wants = [], []
    for n, c in ((1, 8), (2, 8), (3, 16), (250, 80), (64 * 9, 3), (4, 130), (1500, 12), (700, 7)):
        x = rand_i8(rng, (n, c))
        if n == 2:
            x[:, :] = [[-1] * c, [0] * c]  # exact -0.5: rounds away from zero
        want = int8_math.clamp(int8_math.round_div(x.astype(np.int64).sum(axis=0), n)).astype(np.int8)
        cases.append(["global_avgpool", i32(n, c), x])
        wants.append(want)
        # the streaming form: rows accumulated a slice at a time (slices beyond 256 pixels included)
        cases.append(["avgpool_parts", i32(n, c, min(n, 3)), x])
        wants.append(want)
    check_all(build_dir, tmp_path, cases, wants)


def test_mul_channel(build_dir, tmp_path):
    rng = np.random.default_rng(7)
    cases, wants = [], []
    # four channels per word (c a multiple of 4), one channel at a time (13), more channels than the
    # gate table takes (260); the usual shifts, and beyond the fast requantization (more than 22 right shifts)
    # (shifts 5 to 8: constants of the word path, each once)
    for n, c, (lo, hi) in ((7, 8, (-14, -4)), (30, 16, (-14, -4)), (5, 13, (-25, -25)), (3, 4, (-22, -1)),
                           (4, 96, (-8, -5)), (2, 48, (-25, -23)), (3, 260, (-14, -4)), (9, 13, (-14, -4)),
                           (5, 16, (-5, -5)), (5, 16, (-6, -6)), (5, 24, (-7, -7)), (5, 16, (-8, -8)), (5, 16, (-9, -9))):
        x, g = rand_i8(rng, (n, c)), rand_i8(rng, c)
        x[0, :2], g[:2] = [-128, 127], [127, -128]
        zp_x, zp_g, zp_out = (int(v) for v in rng.integers(-128, 128, size=3))
        if c == 4:
            zp_x, zp_g = 127, -128  # the largest products
        mult, shift = (int(v[0]) for v in rand_mult_shift(rng, 1, lo, hi))
        prod = (x.astype(np.int64) - zp_x) * (g.astype(np.int64) - zp_g)
        cases.append(["mul_channel", i32(c, zp_x, zp_g, zp_out, mult, shift, n), x, g])
        wants.append(requant_out(prod, mult, shift, zp_out))
    check_all(build_dir, tmp_path, cases, wants)


def test_add(build_dir, tmp_path):
    rng = np.random.default_rng(8)
    cases, wants = [], []
    for i in range(12):
        n = int(rng.integers(1, 3000))
        a, b = rand_i8(rng, n), rand_i8(rng, n)
        s1, s2, so = np.exp(rng.uniform(-5, 0, size=3))
        zp_a, zp_b, zp_out = (int(v) for v in rng.integers(-128, 128, size=3))
        left = 20
        (m1, sh1), (m2, sh2), (mo, sho) = int8_math.add_params(s1, s2, so, left)
        ra = int8_math.requantize((a.astype(np.int64) - zp_a) << left, m1, sh1)
        rb = int8_math.requantize((b.astype(np.int64) - zp_b) << left, m2, sh2)
        want = requant_out(ra + rb, mo, sho, zp_out)
        if i % 4 == 3:  # neither side at (2^30, 0): both take the general path
            m1, m2 = (int(v) for v in rng.integers(1 << 30, 1 << 31, size=2))
            sh1, sh2 = (int(v) for v in rng.integers(-4, 1, size=2))
            ra = int8_math.requantize((a.astype(np.int64) - zp_a) << left, m1, sh1)
            rb = int8_math.requantize((b.astype(np.int64) - zp_b) << left, m2, sh2)
            want = requant_out(ra + rb, mo, sho, zp_out)
        cases.append(["add", i32(zp_a, zp_b, zp_out, left, m1, sh1, m2, sh2, mo, sho), a, b])
        wants.append(want)
    check_all(build_dir, tmp_path, cases, wants)


def test_add_common_path(build_dir, tmp_path):
    """nn_add's fast path (one side at (2^30, 0), the other with 1 to 3 right shifts), either input
    on either side, zero points at the ends, lengths with a tail of 0 to 3; 4 right shifts: the
    general path."""
    rng = np.random.default_rng(13)
    cases, wants = [], []
    for right in (1, 2, 3, 4):
        for big_first in (False, True):
            for zp_h in (-128, 127, int(rng.integers(-128, 128))):
                n = int(rng.integers(1, 700))
                a, b = rand_i8(rng, n), rand_i8(rng, n)
                a[:2], b[:2] = [-128, 127], [127, -128]
                small = float(rng.uniform(2.0 ** -right, 2.0 ** (1 - right)))  # s_small / (2 s_big) in [2^-(R+1), 2^-R)
                s1, s2 = (1.0, small) if big_first else (small, 1.0)
                so = float(np.exp(rng.uniform(-3, 1)))
                zp_q, zp_out = (int(v) for v in rng.integers(-128, 128, size=2))
                zp_a, zp_b = (zp_h, zp_q) if big_first else (zp_q, zp_h)
                (m1, sh1), (m2, sh2), (mo, sho) = int8_math.add_params(s1, s2, so, 20)
                big, other = ((m1, sh1), sh2) if big_first else ((m2, sh2), sh1)
                assert big == (1 << 30, 0) and other == -right
                ra = int8_math.requantize((a.astype(np.int64) - zp_a) << 20, m1, sh1)
                rb = int8_math.requantize((b.astype(np.int64) - zp_b) << 20, m2, sh2)
                cases.append(["add", i32(zp_a, zp_b, zp_out, 20, m1, sh1, m2, sh2, mo, sho), a, b])
                wants.append(requant_out(ra + rb, mo, sho, zp_out))
    check_all(build_dir, tmp_path, cases, wants)


def add_tab_cases(rng, count: int, tails=(0, 1, 2, 3, 5)):
    """nn_add's table form (kernel_variants.add_table): the op parameters of mn01's large adds (the larger
    side at (2^30, 0), the other with 2 right shifts) and random scales, the table on either input, zero
    points at the ends; every (a, b) pair once, then short runs (the tails of the four-element passes).
    Returns [(head, table, a, b, want)], want from int8_math.add."""
    v = np.arange(-128, 128, dtype=np.int8)
    params = [((-2, -113, -15), (1 << 30, 1524034562, 1684418145), (0, -2, -19)),
              ((56, 12, 44), (1 << 30, 1790496645, 1103764515), (0, -2, -18))]
    while len(params) < count:
        s1, s2, so = np.exp(rng.uniform(-3, 0.5, size=3))
        zps = tuple(int(z) for z in rng.choice([-128, 127, *rng.integers(-128, 128, size=4)], size=3))
        (m1, sh1), (m2, sh2), (mo, sho) = int8_math.add_params(s1, s2, so, 20)
        params.append((zps, (m1, m2, mo), (sh1, sh2, sho)))
    out = []
    for k, ((zp_a, zp_b, zp_out), m, s) in enumerate(params):
        swap = k % 2 == 1  # the table on a: the parameters with a and b exchanged
        prep = (kernel_variants.add_table(zp_b, zp_a, zp_out, 20, [m[1], m[0], m[2]], [s[1], s[0], s[2]]) if swap
                else kernel_variants.add_table(zp_a, zp_b, zp_out, 20, m, s))
        assert prep is not None or k >= 2, "mn01's adds have a table form"
        if prep is None or prep["tab_b"] != 1:
            continue
        head = [zp_a, zp_b, zp_out, 20, m[0], s[0], m[1], s[1], m[2], s[2], prep["a"], 0 if swap else 1]
        tab = np.array(prep["tab"], np.int32)
        a, b = np.repeat(v, 256), np.tile(v, 256)
        for n in (a.size, *tails):
            off = int(rng.integers(0, a.size - 8))
            aa, bb = (a, b) if n == a.size else (a[off:off + n], b[off:off + n])
            out.append((head, tab, aa, bb, int8_math.add(aa, bb, zp_a, zp_b, zp_out, 20, m, s).astype(np.int8)))
    return out


def test_add_table_form_of_the_exporter():
    """kernel_variants.add_table: its form gives int8_math.add's output for every (a, b) pair and stays in int32
    (the check made here, apart from the search's own), on mn01's adds and random scales; a scale no multiplier
    reproduces (an output LSB of many input LSBs: the int32 range) gets none."""
    rng = np.random.default_rng(21)
    found = 0
    for head, tab, a, b, want in add_tab_cases(rng, 16, tails=()):
        x, y = (a, b) if head[11] else (b, a)
        acc = x.astype(np.int64) * head[10] + tab.astype(np.int64)[y.astype(np.int64) + 128]
        assert np.abs(acc).max() < 1 << 31
        assert (int8_math.clamp(acc >> kernel_variants.ADD_TAB_SHIFT) == want).all()
        found += 1
    assert found >= 8
    (m1, s1), (m2, s2), (mo, so) = int8_math.add_params(1.0, 0.3, 0.001, 20)
    assert kernel_variants.add_table(0, 0, 0, 20, [m1, m2, mo], [s1, s2, so]) is None


def test_add_table_form(build_dir, tmp_path):
    """nn_add with an export-time table (its C paths: the portable one and the DSP one emulated)."""
    cases, wants = [], []
    for head, tab, a, b, want in add_tab_cases(np.random.default_rng(22), 8):
        cases.append(["add_tab", i32(*head), tab, a, b])
        wants.append(want)
    check_all(build_dir, tmp_path, cases, wants)


def test_lut_and_quantize(build_dir, tmp_path):
    rng = np.random.default_rng(9)
    table, x = rand_i8(rng, 256), rand_i8(rng, 1000)
    x[:2] = [-128, 127]
    cases, wants = [["lut", table, x]], [table[x.astype(np.int64) + 128]]
    for shift in (-6, -3, 0, 2, -25):  # 2 and -25: outside the fast requantization
        q12 = rng.integers(-32768, 32768, size=2000).astype(np.int16)
        q12[:2] = [-32768, 32767]
        mult = int(rng.integers(1 << 30, 1 << 31))
        zp = int(rng.integers(-128, 128))
        cases.append(["quantize", i32(mult, shift, zp), q12])
        wants.append(requant_out(q12, mult, shift, zp))
    check_all(build_dir, tmp_path, cases, wants)


def test_depthwise_conv2d_short_rows(build_dir, tmp_path):
    """mn01's short rows (B7-B15), each through its own instance (kernel_variants.DEPTHWISE_SHORT, the C
    twin of the M4 assembly: tests/test_kernels_m4.py): padding rows (t of 1 and 2), both requantization
    paths and every output stage among the random cases (only the table takes the instance)."""
    rng = np.random.default_rng(41)
    cases, wants = [], []
    for k, stride, f, c in kernel_variants.DEPTHWISE_SHORT:
        for t in (1, 2, 5):
            case, want = conv_case(rng, True, t, f, c, c, k, stride, with_lut=t != 2)
            cases.append(case)
            wants.append(want)
    assert sum(kernel_variants.conv_row_kernel("depthwise_conv2d", c, f, c, k, s, k // 2, -128, 127, True) is not None
               for k, s, f, c in kernel_variants.DEPTHWISE_SHORT) == len(kernel_variants.DEPTHWISE_SHORT)
    check_all(build_dir, tmp_path, cases, wants)


# The Cortex-M4 build of the kernels (the firmware's flags: their Thumb-2 paths) in the unicorn
# emulator: the cases of the tests above whose kernels have such paths, byte for byte.
M4_DRIVER = r"""
#include <string.h>
#include "nn_kernels.h"
#define NN_ROW_PTR(name) name,
static const nn_row_fn drv_rows[] = {NN_CONV_VARIANTS(NN_ROW_PTR)};
uint8_t drv_in[1 << 20] __attribute__((aligned(8)));
int8_t drv_out[1 << 18] __attribute__((aligned(8)));
/* drv_in: int32 header, then the arrays at the byte offsets the header gives */
#define H ((const int32_t *)(const void *)drv_in)
#define AT(i) (drv_in + H[i])
int drv_conv(int row_index, int unused)
{
    (void)unused;
    nn_conv_t p = {(uint16_t)H[0], (uint16_t)H[1], (uint16_t)H[2], (uint16_t)H[3], (uint8_t)H[4], (uint8_t)H[5],
                   (uint8_t)H[6], (int16_t)H[7], (int16_t)H[8], (int16_t)H[9], (int16_t)H[10],
                   (const int8_t *)AT(12), (const int32_t *)(const void *)AT(13), (const int32_t *)(const void *)AT(14),
                   (const int8_t *)AT(15), H[16] ? (const int8_t *)AT(16) : NULL, NULL};
    const int t_in = H[11], t_out = nn_out_size(t_in, p.k, p.stride, p.pad);
    const size_t in_row = (size_t)p.f_in * p.cin, out_row = (size_t)p.f_out * p.cout;
    for (int to = 0; to < t_out; ++to) {
        const int8_t *rows[NN_MAX_K];
        nn_input_rows((const int8_t *)AT(17), t_in, in_row, to * p.stride - p.pad, p.k, rows);
        drv_rows[row_index](&p, rows, drv_out + to * out_row);
    }
    return t_out * (int)out_row;
}
int drv_add(int unused0, int unused1)
{
    (void)unused0, (void)unused1;
    const nn_add_t p = {(int16_t)H[0], (int16_t)H[1], (int16_t)H[2], (int16_t)H[3], H[4], H[5], H[6], H[7], H[8], H[9],
                        NULL, 0, 0};
    nn_add(&p, (const int8_t *)AT(11), (const int8_t *)AT(12), H[10], drv_out);
    return H[10];
}
int drv_mul(int unused0, int unused1)
{
    (void)unused0, (void)unused1;
    const nn_mul_channel_t p = {(uint16_t)H[0], (int16_t)H[1], (int16_t)H[2], (int16_t)H[3], H[4], H[5]};
    nn_mul_channel(&p, (const int8_t *)AT(7), H[6], (const int8_t *)AT(8), drv_out);
    return H[6] * H[0];
}
int drv_fc(int unused0, int unused1)
{
    (void)unused0, (void)unused1;
    const nn_fc_t p = {(uint16_t)H[0], (uint16_t)H[1], (int16_t)H[2], (int16_t)H[3], (int16_t)H[4], (int16_t)H[5],
                       (const int8_t *)AT(6), (const int32_t *)(const void *)AT(7), (const int32_t *)(const void *)AT(8),
                       (const int8_t *)AT(9), H[10] ? (const int8_t *)AT(10) : NULL};
    nn_fully_connected(&p, (const int8_t *)AT(11), drv_out);
    return H[1];
}
/* the pool as the scheduler runs it: rows of `part` pixels accumulated, then the finish */
int drv_pool(int unused0, int unused1)
{
    (void)unused0, (void)unused1;
    static int32_t sum[512];
    const int32_t n = H[0], c = H[1], part = H[2];
    for (int j = 0; j < c; ++j) sum[j] = 0;
    for (int32_t i = 0; i < n; i += part)
        nn_avgpool_accumulate((const int8_t *)AT(3) + (size_t)i * c, n - i < part ? n - i : part, c, sum);
    nn_avgpool_finish(sum, n, c, drv_out);
    return c;
}
"""


def _m4_pack(head: list[int], arrays: list) -> bytes:
    """drv_in: the header (its array slots: byte offsets, 0 for an empty array), then the arrays,
    each 8-byte aligned and preceded by 3 bytes (the kernels must not need aligned inputs)."""
    slots = len(head) + len(arrays)
    blob = bytearray(4 * slots)
    offsets = []
    for a in arrays:
        data = np.ascontiguousarray(a).tobytes()
        if not data:
            offsets.append(0)
            continue
        blob += bytes(-len(blob) % 8) + bytes(3)
        offsets.append(len(blob))
        blob += data
    blob[: 4 * slots] = np.array(list(head) + offsets, dtype="<i4").tobytes()
    return bytes(blob)


def test_m4_build_in_emulator(tmp_path):
    from exporter import ROOT
    from exporter.frontend.m4_program import M4Program

    kernels = ROOT / "firmware" / "kernels"
    m4 = M4Program("the kernels", [kernels / f for f in ("nn_conv.c", "nn_depthwise.c", "nn_elementwise.c")],
                   kernels, M4_DRIVER, entry="drv_conv", keep=("drv_add", "drv_mul"))
    names = list(kernel_variants.VARIANTS)
    rng = np.random.default_rng(14)
    # pointwise: every instance's path, chunks, blocks, odd counts, what the paths decline
    for cin, shapes in ((8, ((3, 7, 8), (2, 9, 24), (2, 5, 48), (1, 64, 16), (2, 5, 6), (2, 3, 68))),
                        (16, ((2, 16, 8), (2, 8, 64), (2, 4, 96), (2, 3, 34), (2, 5, 7))),
                        (24, ((2, 8, 8), (1, 22, 33))), (48, ((2, 8, 16), (1, 11, 5))),
                        (64, ((2, 8, 16), (1, 9, 7))), (96, ((2, 4, 16), (1, 6, 9)))):
        for t, f, cout in shapes:
            for with_lut in (False, True):
                shifts = (-16, -1) if rng.random() < 0.8 else (-24, 0)
                case, want = conv_case(rng, False, t, f, cin, cout, 1, 1, with_lut=with_lut, shifts=shifts, act=1)
                head, w, bias, mult, shift, lut, x = case[1:8]
                m4.write("drv_in", _m4_pack([int(v) for v in head], [w, bias, mult, shift, lut, x]))
                variant = f"nn_pw{cin}_{'lut' if with_lut else 'plain'}_row"
                n = m4.call("drv_conv", names.index(variant))
                assert m4.read("drv_out", n) == want.tobytes(), f"{variant} {t}x{f} {cin}->{cout}"
    # the add's fast path (each right shift 1 to 3, either side) and general path; the SE multiply
    for right in (1, 2, 3, 4):
        for big_first in (False, True):
            n = int(rng.integers(1, 600))
            a, b = rand_i8(rng, n), rand_i8(rng, n)
            small = float(rng.uniform(2.0 ** -right, 2.0 ** (1 - right)))
            s1, s2 = (1.0, small) if big_first else (small, 1.0)
            zp_a, zp_b, zp_out = (int(v) for v in rng.integers(-128, 128, size=3))
            (m1, sh1), (m2, sh2), (mo, sho) = int8_math.add_params(s1, s2, float(np.exp(rng.uniform(-3, 1))), 20)
            ra = int8_math.requantize((a.astype(np.int64) - zp_a) << 20, m1, sh1)
            rb = int8_math.requantize((b.astype(np.int64) - zp_b) << 20, m2, sh2)
            m4.write("drv_in", _m4_pack([zp_a, zp_b, zp_out, 20, m1, sh1, m2, sh2, mo, sho, n], [a, b]))
            assert m4.read("drv_out", m4.call("drv_add")) == requant_out(ra + rb, mo, sho, zp_out).tobytes()
    for n, c, shift in ((5, 16, -5), (5, 16, -6), (3, 24, -7), (4, 96, -8), (3, 8, -3), (3, 13, -7), (2, 8, -25)):
        x, g = rand_i8(rng, (n, c)), rand_i8(rng, c)
        zp_x, zp_g, zp_out = (int(v) for v in rng.integers(-128, 128, size=3))
        mult = int(rand_mult_shift(rng, 1)[0][0])
        prod = (x.astype(np.int64) - zp_x) * (g.astype(np.int64) - zp_g)
        m4.write("drv_in", _m4_pack([c, zp_x, zp_g, zp_out, mult, shift, n], [x, g]))
        assert m4.read("drv_out", m4.call("drv_mul")) == requant_out(prod, mult, shift, zp_out).tobytes()


M4_ADD_TAB_DRIVER = r"""
#include "nn_kernels.h"
uint8_t drv_in[1 << 18] __attribute__((aligned(8)));
int32_t drv_tab[256];
int8_t drv_out[1 << 17];
#define H ((const int32_t *)(const void *)drv_in)
#define AT(i) (drv_in + H[i])
/* drv_in: [zp_a zp_b zp_out left_shift m1 s1 m2 s2 mo so tab_a tab_b n], a, b (tests/test_kernels.py, _m4_pack) */
int drv_add_tab(int unused0, int unused1)
{
    (void)unused0, (void)unused1;
    const nn_add_t p = {(int16_t)H[0], (int16_t)H[1], (int16_t)H[2], (int16_t)H[3], H[4], H[5], H[6], H[7], H[8], H[9],
                        drv_tab + 128, H[10], H[11]};
    nn_add(&p, (const int8_t *)AT(13), (const int8_t *)AT(14), H[12], drv_out);
    return H[12];
}
"""


def test_add_table_form_on_cortex_m4():
    """nn_add's table form built for the Cortex-M4 with the firmware's flags (its Thumb-2 assembly, eight
    elements a pass, and the tail) in unicorn: every (a, b) pair of mn01's large adds and of random scales,
    the table on either input, runs of 1 to 13 elements, against int8_math.add."""
    from exporter import ROOT
    from exporter.frontend.m4_program import M4Program

    m4 = M4Program("the add's table form", [ROOT / "firmware" / "kernels" / "nn_elementwise.c"], ROOT / "firmware" / "kernels",
                   M4_ADD_TAB_DRIVER, entry="drv_add_tab")
    checked = set()
    for head, tab, a, b, want in add_tab_cases(np.random.default_rng(23), 6, tails=(1, 3, 7, 8, 9, 13)):
        m4.write("drv_tab", tab.astype("<i4").tobytes())
        m4.write("drv_in", _m4_pack([*head, a.size], [a, b]))
        assert m4.read("drv_out", m4.call("drv_add_tab")) == want.tobytes(), f"{head} n={a.size}"
        checked.add((head[11], a.size > 256))
    assert checked == {(0, False), (0, True), (1, False), (1, True)}


def stem8_case(rng, t: int, f: int, with_lut: bool, bias_span: int = 3000, shifts=(-14, -9), zp_in=None):
    """A stride-2 one-input-channel 3 x 3 conv with eight output channels (the stem's one-pass path when every
    channel is in the fast requantization, its bias with the input zero point folded in fits int16 and its
    requantized values stay within the extended table the kernel builds per row, -512 .. 511: 9 or more
    right shifts here)."""
    x = rand_i8(rng, (t, f, 1))
    w = rand_i8(rng, (8, 3, 3, 1))
    bias = rng.integers(-bias_span, bias_span, size=8).astype(np.int32)
    mult, shift = rand_mult_shift(rng, 8, *shifts)
    zp_in = int(rng.integers(-24, 25)) if zp_in is None else zp_in  # |bias - zp_in * sum(w)| < 2^15
    zp_out = int(rng.integers(-128, 128))
    lut = rand_i8(rng, 256) if with_lut else np.zeros(0, np.int8)
    want = requant_out(conv_acc(x, zp_in, w, bias, 2, False), mult, shift, zp_out)
    if with_lut:
        want = lut[want.astype(np.int64) + 128]
    head = i32(1, 8, f, want.shape[1], 3, 2, 1, zp_in, zp_out, -128, 127, t)
    return ["conv2d", head, w, bias, mult, shift.astype(np.int8), lut, x], want


def test_stem_eight_channels(build_dir, tmp_path):
    """The stem's one-pass path (nn_conv.c, stem8_*): even and odd widths (pairs of pixels and single ones at
    the ends), rows of more than one 32-pixel block, padding rows at both ends, the extreme zero points (the
    padding value is zp_in itself), and the cases that leave it: a bias beyond int16 once the zero point is
    folded in, a channel outside the fast requantization (a left shift, more than 22 right shifts), values
    beyond the per-row extended table (few right shifts)."""
    rng = np.random.default_rng(41)
    cases, wants = [], []
    for t, f in ((1, 1), (2, 2), (3, 3), (5, 4), (4, 5), (6, 7), (7, 8), (3, 9), (9, 16), (4, 63), (5, 64),
                 (3, 65), (4, 66), (3, 128), (2, 130), (2, 256)):
        for with_lut in (False, True):
            c, w = stem8_case(rng, t, f, with_lut)
            cases.append(c)
            wants.append(w)
    for zp_in in (-128, 127):  # (mostly beyond int16 once folded: the general loop)
        c, w = stem8_case(rng, 5, 20, True, zp_in=zp_in)
        cases.append(c)
        wants.append(w)
    c, w = stem8_case(rng, 4, 12, True, bias_span=60000)  # some biases beyond int16 after the fold
    cases.append(c)
    wants.append(w)
    for shifts in ((-3, 2), (-26, -20), (-8, -1)):
        c, w = stem8_case(rng, 4, 12, True, shifts=shifts)
        cases.append(c)
        wants.append(w)
    check_all(build_dir, tmp_path, cases, wants)


def test_quantize_every_input(build_dir, tmp_path):
    """The input quantizer on every int16 value (ties of the rounding divide at both signs included), for the
    scale its word path takes (6 right shifts) and its neighbours, row lengths with a tail, zero points at
    both ends and multipliers from 0 to 2^31 - 1."""
    rng = np.random.default_rng(42)
    every = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16)
    cases, wants = [], []
    for mult, shift, zp, n in ((2099498782, -6, -40, 65536), ((1 << 31) - 1, -6, 127, 65533), (1 << 30, -6, -128, 65531),
                               (0, -6, 5, 9), (int(rng.integers(1 << 30, 1 << 31)), -5, 3, 65536),
                               (int(rng.integers(1 << 30, 1 << 31)), -7, -7, 65535)):
        x = rng.permutation(every)[:n]
        cases.append(["quantize", i32(mult, shift, zp), x])
        wants.append(requant_out(x, mult, shift, zp))
    check_all(build_dir, tmp_path, cases, wants)


STEM_M4_DRIVER = r"""
#include <string.h>
#include "nn_kernels.h"
int32_t drv_head[16];
int8_t drv_w[72], drv_shift[8], drv_lut[256], drv_x[16 * 512], drv_y[16 * 512 * 8];
int32_t drv_bias[8], drv_mult[8];
int16_t drv_q[65536];
/* conv2d rows through the stem instance (lut or plain), as kernel_cli does */
void drv_conv(void)
{
    const int32_t *v = drv_head;
    nn_conv_t p = {(uint16_t)v[0], (uint16_t)v[1], (uint16_t)v[2], (uint16_t)v[3], (uint8_t)v[4], (uint8_t)v[5],
                   (uint8_t)v[6], (int16_t)v[7], (int16_t)v[8], (int16_t)v[9], (int16_t)v[10], drv_w, drv_bias,
                   drv_mult, drv_shift, v[12] ? drv_lut : NULL, NULL};
    const int t_out = nn_out_size(v[11], p.k, p.stride, p.pad);
    for (int to = 0; to < t_out; ++to) {
        const int8_t *rows[NN_MAX_K];
        nn_input_rows(drv_x, v[11], p.f_in, to * p.stride - p.pad, p.k, rows);
        (v[12] ? nn_c1k3s2_lut_row : nn_c1k3s2_plain_row)(&p, rows, drv_y + to * p.f_out * p.cout);
    }
}
void drv_quantize(int n)
{
    nn_quantize_t p = {drv_head[0], drv_head[1], (int16_t)drv_head[2]};
    nn_quantize(&p, drv_q, n, drv_y);
}
"""


def test_stem_and_quantize_on_cortex_m4():
    """The Thumb-2 assembly of the stem's one-pass path (nn_stem8_*_m4) and the quantizer's word path, built
    for the Cortex-M4 with the firmware's flags and run in unicorn: the same cases as the host tests, the odd
    and even numbers of pixel pairs included. (The network runs them too, in QEMU: tests/test_firmware.py.)"""
    from exporter.frontend.m4_program import M4Program

    kernels = FIRMWARE_DIR / "kernels"
    m4 = M4Program("the stem and the quantizer", [kernels / f for f in ("nn_conv.c", "nn_depthwise.c", "nn_elementwise.c")],
                   kernels, STEM_M4_DRIVER,
                   entry="drv_conv", keep=("drv_quantize",))
    rng = np.random.default_rng(43)
    for t, f in ((1, 1), (3, 3), (5, 4), (4, 5), (6, 7), (7, 8), (3, 12), (9, 16), (4, 63), (5, 64), (3, 65),
                 (4, 66), (3, 128), (2, 130), (2, 256)):
        for with_lut in (False, True):
            (_, head, w, bias, mult, shift, lut, x), want = stem8_case(rng, t, f, with_lut)
            for sym, a in (("drv_w", w), ("drv_bias", bias), ("drv_mult", mult), ("drv_shift", shift), ("drv_x", x)):
                m4.write(sym, np.ascontiguousarray(a).tobytes())
            if with_lut:
                m4.write("drv_lut", lut.tobytes())
            m4.write("drv_head", np.append(head, int(with_lut)).astype("<i4").tobytes())
            m4.call("drv_conv")
            got = np.frombuffer(m4.read("drv_y", want.size), np.int8)
            assert np.array_equal(got, want.ravel()), f"stem {t}x{f} lut={with_lut}: {np.sum(got != want.ravel())} bytes differ"
    every = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16)
    for mult, shift, zp, n in ((2099498782, -6, -40, 65536), ((1 << 31) - 1, -6, 127, 65533), (1 << 30, -6, -128, 65531),
                               (int(rng.integers(1 << 30, 1 << 31)), -5, 3, 4099)):
        x = rng.permutation(every)[:n]
        m4.write("drv_q", x.tobytes())
        m4.write("drv_head", i32(mult, shift, zp).tobytes())
        m4.call("drv_quantize", n)
        got = np.frombuffer(m4.read("drv_y", n), np.int8)
        want = requant_out(x, mult, shift, zp)
        assert np.array_equal(got, want), f"quantize {mult} {shift} {zp}: {np.sum(got != want)} bytes differ"


def test_stem_records_of_the_exporter():
    """The export-time records and extended table of the stem (kernel_variants.stem8_records, what
    network_data.c lists) run through the one-pass path's arithmetic in numpy (stream words, dual 16-bit
    multiplies, the fast requantization, the table at the unsaturated value) give the reference's bytes; the
    cases the kernel cannot take get None."""
    rng = np.random.default_rng(44)
    for _ in range(6):
        with_lut = bool(rng.random() < 0.5)
        (_, head, w, bias, mult, shift, lut, x), want = stem8_case(rng, 5, 18, with_lut)
        zp_in, zp_out = int(head[7]), int(head[8])
        prep = kernel_variants.stem8_records(w, bias, mult, shift, zp_in, zp_out, lut if with_lut else None)
        assert prep is not None
        t, f = x.shape[:2]
        xp = np.full((t + 2, f + 2), zp_in, np.int64)  # padded with the input zero point
        xp[1:-1, 1:-1] = x[:, :, 0]
        got = np.zeros_like(want)
        for to in range(want.shape[0]):
            r0, r1, r2 = xp[2 * to], xp[2 * to + 1], xp[2 * to + 2]  # column c of the row is index c + 1
            for j in range(want.shape[1]):
                c = 2 * j + 1
                words = [(r0[c - 1], r1[c - 1]), (r0[c], r1[c]), (r0[c + 1], r1[c + 1]), (r2[c - 1], r2[c + 1]), (r2[c], 2)]
                for co, rec in enumerate(prep["recs"]):
                    halves = [(np.int16(v & 0xFFFF), np.int16(v >> 16)) for v in (np.uint32(u) for u in rec["w"])]
                    acc = sum(int(a) * int(p) + int(b) * int(q) for (a, b), (p, q) in zip(words, halves))
                    v = ((acc * rec["mult"] + (1 << 31)) >> 32) + rec["c"]
                    v = (v - (acc < 0)) >> rec["rsh"]
                    assert 0 <= v - prep["lo"] < len(prep["ext"])
                    got[to, j, co] = prep["ext"][v - prep["lo"]]
        assert np.array_equal(got, want)
    (_, head, w, bias, mult, shift, _, _), _ = stem8_case(rng, 2, 8, False, bias_span=60000)
    biases = bias.astype(np.int64) - int(head[7]) * w.reshape(8, 9).sum(axis=1)
    assert (kernel_variants.stem8_records(w, bias, mult, shift, int(head[7]), int(head[8])) is None) == bool(
        (np.abs(biases + 0.5) > 32767.5).any())
    assert kernel_variants.stem8_records(w, bias[:4], mult[:4], shift[:4], 0, 0) is None  # not eight channels
    assert kernel_variants.stem8_records(w, bias * 0, mult, np.full(8, -2), 0, 0) is None  # a table too long


def fc_case(rng, cin: int, cout: int, with_lut: bool, act_min=-128, shifts=(-14, -1), extreme=False):
    """A fully connected case (the M4 driver's header and arrays) and the int8 arithmetic's bytes."""
    x, wt = rand_i8(rng, cin), rand_i8(rng, (cout, cin))
    bias = rng.integers(-30000, 30000, size=cout).astype(np.int32)
    mult, shift = rand_mult_shift(rng, cout, *shifts)
    zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, size=2))
    if extreme is True:  # the largest products of either sign, the output saturated at both ends
        x[:], zp_in = -128, 127
        wt[: cout // 2], wt[cout // 2:] = -128, 127
        bias[:] = 0
        mult[:], shift[:] = (1 << 31) - 1, -1
    if extreme == "bias":  # accumulators near 2^29, zp_out 127: the fast form's largest sums
        bias[:], zp_out = rng.integers(1 << 28, 1 << 29, size=cout), 127
        mult[:] = (1 << 31) - 1
    lut = rand_i8(rng, 256) if with_lut else np.zeros(0, np.int8)
    act_min = zp_out if act_min is None else act_min
    want = requant_out(wt.astype(np.int64) @ (x.astype(np.int64) - zp_in) + bias, mult, shift, zp_out, act_min, 127)
    if lut.size:
        want = lut[want.astype(np.int64) + 128]
    head = [cin, cout, zp_in, zp_out, act_min, 127]
    return head, [wt, bias, mult, shift.astype(np.int8), lut, x], want


def test_se_path_on_cortex_m4():
    """The SE path's kernels built for the M4 (the fully connected Thumb-2 loop, the pool's SXTAH
    flush, the division of its finish) in unicorn against the int8 arithmetic, byte for byte."""
    from exporter import ROOT
    from exporter.frontend.m4_program import M4Program

    kernels = ROOT / "firmware" / "kernels"
    m4 = M4Program("the SE kernels", [kernels / f for f in ("nn_conv.c", "nn_depthwise.c", "nn_elementwise.c")],
                   kernels, M4_DRIVER, entry="drv_fc", keep=("drv_pool",))
    rng = np.random.default_rng(41)
    # mn01's shapes (four outputs per pass), a last pass of 1 to 3 outputs, the fast form's edges
    # (1 and 22 right shifts) beside channels outside it (none, 23 to 25 right shifts, left shifts),
    # a ReLU clamp (the general path), saturation at both ends
    cases = [(cin, cout, lut, -128, (-14, -1), False)
             for cin, cout, lut in ((24, 96, True), (96, 24, False), (8, 8, False), (8, 8, True), (16, 64, True),
                                    (64, 16, False), (48, 16, False), (4, 5, True), (8, 6, False), (12, 7, True))]
    cases += [(24, 16, False, -128, (-1, -1), False), (24, 16, True, -128, (-22, -22), False),
              (16, 12, False, -128, (-25, 1), False), (32, 8, True, None, (-14, -1), False),
              (24, 8, False, -128, (-1, -1), True), (96, 8, True, -128, (-1, -1), True),
              (8, 8, False, -128, (-24, -22), "bias")]
    for cin, cout, lut, act_min, shifts, extreme in cases:
        head, arrays, want = fc_case(rng, cin, cout, lut, act_min, shifts, extreme)
        m4.write("drv_in", _m4_pack(head, arrays))
        n = m4.call("drv_fc")
        assert m4.read("drv_out", n) == want.tobytes(), f"fully connected {cin}->{cout} {shifts} {extreme}"
    # rows of 1 to 300 pixels, channels beyond the groups of four, the int16 lanes' limits (256 pixels
    # of -128 or 127), exact halves (rounding away from zero), many slices
    for n, c, part, fill in ((1, 96, 1, None), (2, 96, 2, None), (4, 48, 2, None), (3, 13, 2, None), (2, 8, 1, "half"),
                             (256, 8, 256, -128), (256, 8, 256, 127), (300, 6, 300, -128), (600, 12, 300, None),
                             (257, 4, 128, 127), (64, 24, 16, None), (7, 3, 3, None)):
        x = rand_i8(rng, (n, c))
        if fill == "half":
            x[:] = [[-1] * c, [0] * c]
        elif fill is not None:
            x[:] = fill
        want = int8_math.clamp(int8_math.round_div(x.astype(np.int64).sum(axis=0), n)).astype(np.int8)
        m4.write("drv_in", _m4_pack([n, c, part], [x]))
        assert m4.read("drv_out", m4.call("drv_pool")) == want.tobytes(), f"pool {n}x{c} by {part}"
