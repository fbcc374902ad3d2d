"""The depthwise row kernels compiled for a Cortex-M4 (the firmware's flags: the DSP paths and
their inline Thumb-2 assembly) and run in the unicorn emulator give the bytes of the Python
integer arithmetic, on random shapes: the planar instances (nn_dw<K>s<S>_*) on the edge cases
their fast path special-cases, and the general kernel. The host builds of test_kernels.py do
not run the assembly. Needs arm-none-eabi-gcc and the ``unicorn`` package (dev dependency)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from exporter import FIRMWARE_DIR
from exporter.codegen import kernel_variants
from exporter.frontend.m4sim import CFLAGS, FLASH, LINKER, MEM_SIZE, RAM
from test_kernels import conv_case

KERNELS = ["nn_depthwise_conv2d_row"] + [n for n in kernel_variants.VARIANTS if n.startswith("nn_dw")]
MAX_IN, MAX_OUT, MAX_W, MAX_C = 16384, 16384, 25 * 256, 256

DRIVER = rf"""
#include <string.h>
#include "nn_kernels.h"
const int8_t nn_identity_table[256] = {{
{", ".join(str(v) for v in range(-128, 128))}
}};
int32_t drv_cfg[16];
int8_t drv_w[{MAX_W}], drv_shift[{MAX_C}], drv_lut[256], drv_in[{MAX_IN}], drv_out[{MAX_OUT}];
int32_t drv_bias[{MAX_C}], drv_mult[{MAX_C}];
static const nn_row_fn drv_fns[] = {{{", ".join(KERNELS)}}};
void drv_run(void) {{
  const int32_t *c = drv_cfg;
  nn_conv_t p = {{(uint16_t)c[0], (uint16_t)c[1], (uint16_t)c[2], (uint16_t)c[3], (uint8_t)c[4], (uint8_t)c[5],
                 (uint8_t)c[6], (int16_t)c[7], (int16_t)c[8], (int16_t)c[9], (int16_t)c[10], drv_w, drv_bias,
                 drv_mult, drv_shift, c[13] ? drv_lut : NULL}};
  const int t_in = c[11], t_out = nn_out_size(t_in, p.k, p.stride, p.pad);
  const size_t in_row = (size_t)p.f_in * p.cin, out_row = (size_t)p.f_out * p.cout;
  const int8_t *rows[NN_MAX_K];
  for (int to = 0; to < t_out; ++to) {{
    nn_input_rows(drv_in, t_in, in_row, to * p.stride - p.pad, p.k, rows);
    drv_fns[c[12]](&p, rows, drv_out + to * out_row);
  }}
}}
"""


@pytest.fixture(scope="module")
def m4(tmp_path_factory):
    from unicorn import UC_ARCH_ARM, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
    from unicorn.arm_const import UC_CPU_ARM_CORTEX_M4

    work = tmp_path_factory.mktemp("kernels_m4")
    (work / "driver.c").write_text(DRIVER)
    (work / "link.ld").write_text(LINKER)
    elf = work / "kernels.elf"
    kernels = FIRMWARE_DIR / "kernels"
    subprocess.run(["arm-none-eabi-gcc", *CFLAGS, f"-I{kernels}", str(kernels / "nn_depthwise.c"), str(work / "driver.c"),
                    "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
                    "-Wl,-e,drv_run", f"-T{work / 'link.ld'}", "-o", str(elf)], check=True)  # fmt: skip
    image = work / "kernels.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(elf), str(image)], check=True)
    syms = {}
    for line in subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)
    uc.mem_map(FLASH, MEM_SIZE)
    uc.mem_map(RAM, MEM_SIZE)
    uc.mem_write(FLASH, image.read_bytes())
    return uc, syms


def run(m4, case, kernel: str) -> bytes:
    from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_SP

    uc, syms = m4
    _, head, w, bias, mult, shift, lut, x = case
    cin, cout, f_in, f_out, k, stride, pad, zp_in, zp_out, act_min, act_max, t = (int(v) for v in head)
    t_out = (t + 2 * pad - k) // stride + 1
    assert x.size <= MAX_IN and t_out * f_out * cout <= MAX_OUT and w.size <= MAX_W and cout <= MAX_C
    cfg = [cin, cout, f_in, f_out, k, stride, pad, zp_in, zp_out, act_min, act_max, t, KERNELS.index(kernel),
           int(lut.size > 0), 0, 0]  # fmt: skip
    uc.mem_write(syms["drv_cfg"], np.array(cfg, np.int32).tobytes())
    for name, a in (("drv_w", w), ("drv_bias", bias), ("drv_mult", mult), ("drv_shift", shift), ("drv_in", x)):
        uc.mem_write(syms[name], np.ascontiguousarray(a).tobytes())
    if lut.size:
        uc.mem_write(syms["drv_lut"], lut.tobytes())
    n = t_out * f_out * cout
    uc.mem_write(syms["drv_out"], bytes([0x5A]) * (n + 64))  # a byte written beyond the output shows
    stop = FLASH + MEM_SIZE - 0x100
    uc.reg_write(UC_ARM_REG_SP, RAM + MEM_SIZE - 16)
    uc.reg_write(UC_ARM_REG_LR, stop | 1)
    uc.emu_start(syms["drv_run"] | 1, stop)
    out = bytes(uc.mem_read(syms["drv_out"], n + 64))
    assert out[n:] == bytes([0x5A]) * 64, f"{kernel} wrote beyond its output"
    return out[:n]


def test_depthwise_instances_on_m4(m4):
    """Each case through the general kernel and through the instance the exporter would choose (and, for
    the shapes of no instance, the instance of the nearest shape: it hands them to the general kernel)."""
    rng = np.random.default_rng(41)
    shapes = (  # t, f, channels, k, stride: the planar path's odd widths, channel remainders, widest rows
        (5, 64, 8, 3, 1), (4, 33, 10, 3, 1), (3, 66, 4, 3, 1), (3, 19, 12, 3, 1), (2, 40, 16, 3, 1),
        (5, 64, 8, 3, 2), (4, 65, 12, 3, 2), (3, 66, 6, 3, 2), (2, 35, 16, 3, 2),
        (4, 16, 16, 5, 1), (3, 17, 8, 5, 1), (6, 64, 8, 5, 1), (2, 22, 12, 5, 1), (3, 18, 7, 5, 1),
        (5, 32, 8, 5, 2), (4, 33, 16, 5, 2), (3, 64, 12, 5, 2), (2, 39, 4, 5, 2), (3, 31, 10, 5, 2),
        (4, 8, 24, 3, 1), (3, 9, 20, 5, 2),  # short rows: the window path
    )
    planar = 0
    for t, f, c, k, stride in shapes * 4:
        case, want = conv_case(rng, True, t, f, c, c, k, stride, with_lut=bool(rng.random() < 0.4))
        _, _, _, f_out, _, _, pad, _, _, act_min, act_max, _ = (int(v) for v in case[1])
        chosen = kernel_variants.conv_row_kernel("depthwise_conv2d", c, f, f_out, k, stride, pad, act_min, act_max,
                                                 case[6].size > 0, c)
        planar += chosen is not None
        kind = "lut" if case[6].size else "plain"
        for kernel in ("nn_depthwise_conv2d_row", chosen or f"nn_dw{k}s{stride}_{kind}_row"):
            got = run(m4, case, kernel)
            assert got == want.tobytes(), f"{kernel} on {(t, f, c, k, stride)}: {np.sum(np.frombuffer(got, np.int8) != want.ravel())} bytes differ"
    assert planar >= len(shapes) * 4 // 4  # the instances' fast path is reached, not only the fallback


@pytest.mark.parametrize("flags", [["-O0"], ["-Og"], ["-O1"], ["-Os"], ["-O3"], ["-O2", "-fno-omit-frame-pointer"]])
def test_depthwise_builds_at_every_optimization_level(flags, tmp_path):
    """The inline assembly's register and constant operands hold without optimization too (a debug
    build of an exported library) and with a frame pointer (profiling builds)."""
    kernels = FIRMWARE_DIR / "kernels"
    cflags = [f for f in CFLAGS if not f.startswith("-O")] + flags
    subprocess.run(["arm-none-eabi-gcc", *cflags, f"-I{kernels}", "-c", str(kernels / "nn_depthwise.c"),
                    "-o", str(tmp_path / "dw.o")], check=True, timeout=300)  # fmt: skip
