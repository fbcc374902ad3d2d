"""The depthwise row kernels built for the Cortex-M4 with the firmware's flags (their DSP paths and
Thumb-2 assembly) and run in the unicorn emulator (exporter/frontend/m4_program.py), against the
Python integer arithmetic byte for byte: the planar instances (nn_dw<K>s<S>_*, B1-B6) and the
short-row instances (nn_dw<K>s<S>f<F>c<C>_lut_row, B7-B15) on the edge cases their fast paths
special-case (odd widths, channel remainders, last passes of 1-3 pixels, time padding rows,
slow-requantization channels, every zero point), the general kernel on the same cases, and
instances handed an op of another shape. The host builds (plain C and DSP-emulated) are
tests/test_kernels.py's; they do not run the assembly."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from exporter import FIRMWARE_DIR
from exporter.codegen import kernel_variants
from exporter.frontend.m4_program import M4Program
from exporter.frontend.m4sim import CFLAGS
from exporter.quantization import int8_math
from exporter.reference.int8_exec import conv_acc
from test_kernels import conv_case

MAX_W, MAX_C, MAX_X = 25 * 256, 256, 16384
GUARD = 64  # bytes after the output that a kernel must leave alone

DRIVER = rf"""
#include "nn_kernels.h"
#include <string.h>
int8_t drv_w[{MAX_W}], drv_shift[{MAX_C}], drv_lut[256], drv_x[{MAX_X}], drv_out[{MAX_X + GUARD}];
int32_t drv_bias[{MAX_C}], drv_mult[{MAX_C}];
uint32_t drv_prep[{MAX_C * 24}]; /* the channel records of nn_conv_t.prep (kernel_variants.dw_records) */
/* c, f_in, f_out, k, stride, pad, zp_in, zp_out, t_in, t_out, act_min, act_max, has_lut, has_prep */
int32_t drv_head[14];
char drv_name[64]; /* the row kernel: an instance, or "" for the general one */
#define DRV_ENTRY(name) {{#name, name}},
static const struct {{ const char *name; nn_row_fn fn; }} drv_fns[] = {{NN_CONV_VARIANTS(DRV_ENTRY)}};
int drv_run(void)
{{
    const int32_t *h = drv_head;
    nn_row_fn fn = nn_depthwise_conv2d_row;
    for (size_t i = 0; i < sizeof drv_fns / sizeof drv_fns[0]; ++i)
        if (!strcmp(drv_fns[i].name, drv_name)) fn = drv_fns[i].fn;
    if (drv_name[0] && fn == nn_depthwise_conv2d_row) return 1;
    const nn_conv_t p = {{(uint16_t)h[0], (uint16_t)h[0], (uint16_t)h[1], (uint16_t)h[2], (uint8_t)h[3],
                         (uint8_t)h[4], (uint8_t)h[5], (int16_t)h[6], (int16_t)h[7], (int16_t)h[10],
                         (int16_t)h[11], drv_w, drv_bias, drv_mult, drv_shift, h[12] ? drv_lut : NULL,
                         h[13] ? drv_prep : NULL}};
    const size_t in_row = (size_t)h[1] * h[0], out_row = (size_t)h[2] * h[0];
    for (int to = 0; to < h[9]; ++to) {{
        const int8_t *rows[NN_MAX_K];
        nn_input_rows(drv_x, h[8], in_row, to * h[4] - h[5], h[3], rows);
        fn(&p, rows, drv_out + to * out_row);
    }}
    return 0;
}}
"""


def build() -> M4Program:
    k = FIRMWARE_DIR / "kernels"
    return M4Program("the kernels", [k / "nn_conv.c", k / "nn_depthwise.c", k / "nn_elementwise.c"], k, DRIVER,
                     entry="drv_run")


@pytest.fixture(scope="module")
def m4():
    return build()


def run_m4(m4, variant: str | None, c, f, f_out, k, stride, zp_in, zp_out, t, t_out, w, bias, mult, shift, lut, x,
           pad=None, act_min=-128, act_max=127, prep=None) -> tuple[bytes, int]:
    """The output rows of one op through ``variant`` (None: the general kernel), with the records ``prep``
    (nn_conv_t.prep; None: none), and its instructions."""
    n = t_out * f_out * c
    assert x.size <= MAX_X and n <= MAX_X and w.size <= MAX_W and c <= MAX_C
    pad = k // 2 if pad is None else pad
    head = [c, f, f_out, k, stride, pad, zp_in, zp_out, t, t_out, act_min, act_max, int(lut.size > 0),
            int(prep is not None)]
    if prep is not None:
        m4.write("drv_prep", np.asarray(prep, "<u4").tobytes())
    m4.write("drv_head", np.array(head, "<i4").tobytes())
    m4.write("drv_name", (variant or "").encode().ljust(64, b"\0"))
    for sym, a in (("drv_w", w), ("drv_bias", bias), ("drv_mult", mult), ("drv_shift", shift), ("drv_lut", lut),
                   ("drv_x", x)):
        m4.write(sym, np.ascontiguousarray(a).tobytes())
    m4.write("drv_out", bytes([0x5A]) * (n + GUARD))
    m4.instructions = 0
    assert m4.call("drv_run") == 0, f"{variant}: not a row kernel of nn_kernels.h"
    out = m4.read("drv_out", n + GUARD)
    assert out[n:] == bytes([0x5A]) * GUARD, f"{variant or 'general'} wrote beyond its output"
    return out[:n], m4.instructions


def run_case(m4, variant: str | None, case, prep=None, count: bool = False):
    """A depthwise case of tests/test_kernels.py (conv_case) through ``variant`` (with the records ``prep``):
    its output bytes (and instructions, if ``count``)."""
    _, head, w, bias, mult, shift, lut, x = case
    cin, cout, f_in, f_out, k, stride, pad, zp_in, zp_out, act_min, act_max, t = (int(v) for v in head)
    t_out = (t + 2 * pad - k) // stride + 1
    got, n = run_m4(m4, variant, cout, f_in, f_out, k, stride, zp_in, zp_out, t, t_out, w, bias, mult, shift, lut,
                    x, pad, act_min, act_max, prep)
    return (got, n) if count else got


def test_planar_instances_on_m4(m4):
    """Each case through the general kernel and through the instance the exporter would choose (and, for
    the shapes of no instance, the planar instance of the nearest shape: it hands them to the general
    kernel)."""
    rng = np.random.default_rng(41)
    shapes = (  # t, f, channels, k, stride: the planar path's odd widths, channel remainders, widest rows
        (5, 64, 8, 3, 1), (4, 33, 10, 3, 1), (3, 66, 4, 3, 1), (3, 19, 12, 3, 1), (2, 40, 16, 3, 1),
        (5, 64, 8, 3, 2), (4, 65, 12, 3, 2), (3, 66, 6, 3, 2), (2, 35, 16, 3, 2),
        (4, 16, 16, 5, 1), (3, 17, 8, 5, 1), (6, 64, 8, 5, 1), (2, 22, 12, 5, 1), (3, 18, 7, 5, 1),
        (5, 32, 8, 5, 2), (4, 33, 16, 5, 2), (3, 64, 12, 5, 2), (2, 39, 4, 5, 2), (3, 31, 10, 5, 2),
        (4, 8, 24, 3, 1), (3, 9, 20, 5, 2),  # short rows of no instance: the window path
    )
    chosen_count = 0
    for t, f, c, k, stride in shapes * 4:
        case, want = conv_case(rng, True, t, f, c, c, k, stride, with_lut=bool(rng.random() < 0.4))
        _, _, _, f_out, _, _, pad, _, _, act_min, act_max, _ = (int(v) for v in case[1])
        chosen = kernel_variants.conv_row_kernel("depthwise_conv2d", c, f, f_out, k, stride, pad, act_min, act_max,
                                                 case[6].size > 0, c)
        chosen_count += chosen is not None
        kind = "lut" if case[6].size else "plain"
        for kernel in (None, chosen or f"nn_dw{k}s{stride}_{kind}_row"):
            got = run_case(m4, kernel, case)
            assert got == want.tobytes(), f"{kernel or 'general'} on {(t, f, c, k, stride)}: " \
                f"{np.sum(np.frombuffer(got, np.int8) != want.ravel())} bytes differ"
    assert chosen_count >= len(shapes)  # the instances' fast paths are reached, not only the fallback


def test_planar_fill_row_ends_on_m4(m4):
    """The planar fill's row ends (3 x 3, padding 1: a first pixel alone, then where three pixels are left
    the last step with the padding as its fourth) and its instances of constant channel count and padding
    (3 x 3 with 8 channels, 5 x 5 with 16) beside the general ones: every channel in the fast
    requantization and the plain or table output stage, so that every output byte comes from the planar
    path."""
    rng = np.random.default_rng(43)
    for t, f, c, k, stride in ((3, 64, 8, 3, 1), (3, 32, 8, 3, 1), (2, 20, 12, 3, 1), (3, 21, 8, 3, 1),
                               (3, 18, 4, 3, 1), (3, 64, 8, 3, 2), (3, 36, 4, 3, 2), (2, 34, 8, 3, 2),
                               (3, 39, 8, 3, 2), (5, 16, 16, 5, 1), (4, 19, 16, 5, 1), (4, 18, 8, 5, 1),
                               (4, 32, 16, 5, 2), (4, 35, 16, 5, 2), (4, 32, 8, 5, 2)):
        for lut in (False, True):
            case, want = conv_case(rng, True, t, f, c, c, k, stride, with_lut=lut, shifts=(-14, -1), act=1)
            kernel = f"nn_dw{k}s{stride}_{'lut' if lut else 'plain'}_row"
            got = run_case(m4, kernel, case)
            assert got == want.tobytes(), f"{kernel} on {(t, f, c, k, stride)}: " \
                f"{np.sum(np.frombuffer(got, np.int8) != want.ravel())} bytes differ"


def test_planar_records_on_m4(m4):
    """The planar instances' Thumb-2 paths with the channel records prepared at export time
    (kernel_variants.dw_records, nn_conv_t.prep), mn01's B1-B6 shapes and others: the same bytes as without
    them, in fewer instructions (the per-row set-up is skipped)."""
    rng = np.random.default_rng(47)
    for t, f, c, k, stride in ((3, 64, 8, 3, 1), (3, 32, 8, 3, 1), (2, 21, 12, 3, 1), (3, 64, 8, 3, 2),
                               (2, 35, 4, 3, 2), (3, 16, 16, 5, 1), (2, 19, 8, 5, 1), (3, 32, 8, 5, 2),
                               (2, 33, 12, 5, 2)):
        for lut in (False, True):
            case, want = conv_case(rng, True, t, f, c, c, k, stride, with_lut=lut, shifts=(-22, -1), act=1)
            _, _, w, bias, mult, shift, _, _ = case
            prep = kernel_variants.dw_records(w, bias, mult, shift, int(case[1][7]), int(case[1][8]), k, stride)
            assert prep is not None
            kernel = f"nn_dw{k}s{stride}_{'lut' if lut else 'plain'}_row"
            count = {}
            for with_prep in (False, True):
                got, count[with_prep] = run_case(m4, kernel, case, prep if with_prep else None, count=True)
                assert got == want.tobytes(), f"{kernel} on {(t, f, c, k, stride)}, records {with_prep}: " \
                    f"{np.sum(np.frombuffer(got, np.int8) != want.ravel())} bytes differ"
            assert count[True] < count[False], (kernel, count)


def short_case(rng, k, stride, f, c, t, slow: float, zp_in=None):
    x = rng.integers(-128, 128, size=(t, f, c)).astype(np.int8)
    w = rng.integers(-127, 128, size=(k, k, c)).astype(np.int8)
    scale = int(rng.integers(1, 3000))
    bias = rng.integers(-scale * 40, scale * 40, size=c).astype(np.int32)
    mult = rng.integers(1 << 30, (1 << 31) - 1, size=c, endpoint=True).astype(np.int32)
    shift = rng.integers(-14, -1, size=c, endpoint=True).astype(np.int32)
    # the fast path's limits (right shifts 1 and 22, multiplier 0) and channels outside it (left
    # shifts, no shift, more than 22 right shifts)
    edge = rng.random(c) < 0.2
    shift[edge] = rng.choice([-1, -22], size=int(edge.sum()))
    mult[rng.random(c) < 0.05] = 0
    out_fast = rng.random(c) < slow
    shift[out_fast] = rng.choice([0, 1, 2, -23, -26], size=int(out_fast.sum()))
    zp_in = int(rng.integers(-128, 128)) if zp_in is None else zp_in
    zp_out = int(rng.integers(-128, 128))
    lut = rng.integers(-128, 128, size=256).astype(np.int8)
    acc = conv_acc(x, zp_in, w, bias, stride, True)
    want = lut[int8_math.clamp(int8_math.requantize(acc, mult, shift) + zp_out, -128, 127).astype(np.int64) + 128]
    return (c, f, want.shape[1], k, stride, zp_in, zp_out, t, want.shape[0], w, bias, mult,
            shift.astype(np.int8), lut, x), want.astype(np.int8)


@pytest.mark.parametrize("k, stride, f, c", kernel_variants.DEPTHWISE_SHORT)
def test_short_row_instances_on_m4(m4, k, stride, f, c):
    rng = np.random.default_rng(1000 + 7 * k + 3 * stride + f + c)
    name = f"nn_dw{k}s{stride}f{f}c{c}_lut_row"
    assert kernel_variants.conv_row_kernel("depthwise_conv2d", c, f, (f + 2 * (k // 2) - k) // stride + 1, k, stride,
                                           k // 2, -128, 127, True, c) == name
    # t = 1: both neighbouring rows are padding; t = 2 with k = 5: padding above and below every row
    for t, slow, zp_in in ((5, 0.0, None), (1, 0.0, None), (2, 0.1, None), (4, 0.3, -128), (3, 0.0, 127), (6, 1.0, 0)):
        args, want = short_case(rng, k, stride, f, c, t, slow, zp_in)
        count = {}
        for variant in (name, None):
            got, count[variant] = run_m4(m4, variant, *args)
            assert got == want.tobytes(), f"{variant or 'general'} t={t} slow={slow}: " \
                f"{np.sum(np.frombuffer(got, np.int8) != want.ravel())} of {want.size} differ"
        if slow == 0.0:  # the instance's own path ran (and is the faster one)
            assert count[name] < count[None]


def test_short_row_instance_hands_other_shapes_to_the_general_kernel(m4):
    rng = np.random.default_rng(77)
    for k, stride, f, c, variant in ((3, 1, 8, 16, "nn_dw3s1f8c24_lut_row"), (3, 1, 9, 24, "nn_dw3s1f8c24_lut_row"),
                                     (3, 2, 8, 24, "nn_dw3s2f16c24_lut_row"), (5, 1, 4, 64, "nn_dw5s1f4c96_lut_row")):
        args, want = short_case(rng, k, stride, f, c, 3, 0.1)
        got, _ = run_m4(m4, variant, *args)
        assert got == want.tobytes()


@pytest.mark.parametrize("flags", [["-O0"], ["-Og"], ["-O1"], ["-Os"], ["-O3"], ["-O2", "-fno-omit-frame-pointer"]])
@pytest.mark.parametrize("source", ["nn_conv.c", "nn_depthwise.c", "nn_elementwise.c"])
def test_kernels_build_at_every_optimization_level(source, flags, tmp_path):
    """The inline assembly's register, constant and memory operands hold without optimization too (a
    debug build of an exported library, -Og: no register-indexed LDRD) and with a frame pointer
    (profiling builds)."""
    kernels = FIRMWARE_DIR / "kernels"
    cflags = [f for f in CFLAGS if not f.startswith("-O")] + flags
    subprocess.run(["arm-none-eabi-gcc", *cflags, f"-I{kernels}", "-c", str(kernels / source),
                    "-o", str(tmp_path / "k.o")], check=True, timeout=300)  # fmt: skip


if __name__ == "__main__":  # instructions per MAC of each short-row instance on a 9-row case (all channels fast)
    prog = build()
    for k, stride, f, c in kernel_variants.DEPTHWISE_SHORT:
        args, want = short_case(np.random.default_rng(0), k, stride, f, c, 9, 0.0)
        macs = want.size * k * k
        for variant in (f"nn_dw{k}s{stride}f{f}c{c}_lut_row", None):
            _, n = run_m4(prog, variant, *args)
            print(f"{variant or 'general'}: {n / macs:.2f} instructions per MAC")
