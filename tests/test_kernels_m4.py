"""The depthwise short-row instances (nn_dw<K>s<S>f<F>c<C>_lut_row, mn01's B7-B15) built for the
Cortex-M4 with the firmware's flags (their assembly) and run in the unicorn emulator, against the
Python integer arithmetic byte for byte: random data and weights, the edge cases of the fast path
(time padding rows above and below, slow-requantization channels skipped to the plain path, every
zero point), the general kernel on the same cases, and an instance handed an op of another shape.
The host builds (plain C and DSP-emulated) are tests/test_kernels.py's."""

from __future__ import annotations

import numpy as np
import pytest

from exporter import FIRMWARE_DIR
from exporter.codegen import kernel_variants
from exporter.quantization import int8_math
from exporter.reference.int8_exec import conv_acc

pytest.importorskip("unicorn")

MAX_W, MAX_C, MAX_X = 25 * 128, 128, 16 * 16 * 128

DRIVER = rf"""
#include "nn_kernels.h"
#include <string.h>
int8_t drv_w[{MAX_W}], drv_shift[{MAX_C}], drv_lut[256], drv_x[{MAX_X}], drv_out[{MAX_X}];
int32_t drv_bias[{MAX_C}], drv_mult[{MAX_C}];
int32_t drv_head[12]; /* c, f_in, f_out, k, stride, pad, zp_in, zp_out, t_in, t_out, -, - */
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
                         (uint8_t)h[4], (uint8_t)h[5], (int16_t)h[6], (int16_t)h[7], -128, 127,
                         drv_w, drv_bias, drv_mult, drv_shift, drv_lut}};
    const size_t in_row = (size_t)h[1] * h[0], out_row = (size_t)h[2] * h[0];
    for (int to = 0; to < h[9]; ++to) {{
        const int8_t *rows[NN_MAX_K];
        nn_input_rows(drv_x, h[8], in_row, to * h[4] - h[5], h[3], rows);
        fn(&p, rows, drv_out + to * out_row);
    }}
    return 0;
}}
"""


@pytest.fixture(scope="module")
def m4():
    from exporter.frontend.m4_program import M4Program

    k = FIRMWARE_DIR / "kernels"
    return M4Program("the kernels", [k / "nn_conv.c", k / "nn_depthwise.c", k / "nn_elementwise.c"], k, DRIVER,
                     entry="drv_run")


def run_m4(m4, variant: str | None, c, f, f_out, k, stride, zp_in, zp_out, t, t_out, w, bias, mult, shift, lut, x):
    head = np.array([c, f, f_out, k, stride, k // 2, zp_in, zp_out, t, t_out, 0, 0], "<i4")
    m4.write("drv_head", head.tobytes())
    m4.write("drv_name", (variant or "").encode().ljust(64, b"\0"))
    for sym, a in (("drv_w", w), ("drv_bias", bias), ("drv_mult", mult), ("drv_shift", shift), ("drv_lut", lut),
                   ("drv_x", x)):
        m4.write(sym, np.ascontiguousarray(a).tobytes())
    m4.instructions = 0
    assert m4.call("drv_run") == 0, f"{variant}: not a row kernel of nn_kernels.h"
    return m4.read("drv_out", t_out * f_out * c), m4.instructions


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


if __name__ == "__main__":  # instructions per MAC of each instance on a 5-row case (all channels fast)
    from exporter.frontend.m4_program import M4Program

    k_dir = FIRMWARE_DIR / "kernels"
    prog = M4Program("the kernels", [k_dir / "nn_conv.c", k_dir / "nn_depthwise.c", k_dir / "nn_elementwise.c"],
                     k_dir, DRIVER, entry="drv_run")
    for k, stride, f, c in kernel_variants.DEPTHWISE_SHORT:
        args, want = short_case(np.random.default_rng(0), k, stride, f, c, 9, 0.0)
        macs = want.size * k * k
        for variant in (f"nn_dw{k}s{stride}f{f}c{c}_lut_row", None):
            _, n = run_m4(prog, variant, *args)
            print(f"{variant or 'general'}: {n / macs:.2f} instructions per MAC")
