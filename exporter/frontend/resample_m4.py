"""The 126/125 resampler (firmware/mic/resample_126_125.c) built for a Cortex-M4 (the
firmware's flags: the SMLAD path) and run in the unicorn emulator: for the test that the
target build equals the numpy twin bit for bit, and for its instruction count per second
(bench/resample_report.py). Needs arm-none-eabi-gcc and ``unicorn``."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from exporter import FIRMWARE_DIR
from exporter.frontend.m4sim import CFLAGS, FLASH, LINKER, MEM_SIZE, RAM

MAX_IN = 40_000

DRIVER = rf"""
#include "i2s_pcm.h"
#include "resample_126_125.h"
rs126 drv_rs;
i2s_pcm drv_pcm;
int32_t drv_words[{MAX_IN}];
int16_t drv_in[{MAX_IN}];
int16_t drv_out[RS126_MAX_OUT({MAX_IN})];
unsigned drv_n_out;
void drv_init(void) {{ rs126_init(&drv_rs); i2s_pcm_init(&drv_pcm); drv_n_out = 0; }}
int drv_run(int offset, int n) {{
  size_t m = rs126_process(&drv_rs, drv_in + offset, (size_t)n, drv_out + drv_n_out);
  drv_n_out += (unsigned)m;
  return (int)m;
}}
/* the nRF52840-DK's I2S interrupt's DSP: words -> int16 -> resampled */
int drv_i2s(int offset, int n) {{
  i2s_pcm_process(&drv_pcm, drv_words + offset, (size_t)n, drv_in + offset);
  return drv_run(offset, n);
}}
"""


class ResamplerM4:
    """resample_126_125.c in unicorn; ``instructions`` counts what the calls executed."""

    def __init__(self):
        from unicorn import UC_ARCH_ARM, UC_HOOK_CODE, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
        from unicorn.arm_const import UC_CPU_ARM_CORTEX_M4

        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            (work / "driver.c").write_text(DRIVER)
            (work / "link.ld").write_text(LINKER)
            elf = work / "rs.elf"
            mic = FIRMWARE_DIR / "mic"
            cmd = ["arm-none-eabi-gcc", *CFLAGS, f"-I{mic}", str(mic / "resample_126_125.c"), str(mic / "i2s_pcm.c"),
                   str(work / "driver.c"), "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
                   "-Wl,--gc-sections", "-Wl,-e,drv_run", "-Wl,--undefined=drv_init", "-Wl,--undefined=drv_i2s",
                   f"-T{work / 'link.ld'}", "-o", str(elf)]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"Cortex-M4 build of the resampler failed:\n{proc.stderr[-3000:]}")
            binary = work / "rs.bin"
            subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(elf), str(binary)], check=True)
            image = binary.read_bytes()
            nm = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
        self.syms, self.symbol_sizes = {}, {}
        for line in nm.splitlines():
            parts = line.split()
            if len(parts) >= 3:
                self.syms[parts[-1]] = int(parts[0], 16)
            if len(parts) == 4:
                self.symbol_sizes[parts[-1]] = int(parts[1], 16)
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)
        self.uc.mem_map(FLASH, MEM_SIZE)
        self.uc.mem_map(RAM, MEM_SIZE)
        self.uc.mem_write(FLASH, image)
        self.instructions = 0

        def on_insn(uc, address, size, user):
            self.instructions += 1

        self.uc.hook_add(UC_HOOK_CODE, on_insn)
        self.call("drv_init")
        self.instructions = 0

    def call(self, name: str, *args: int) -> int:
        from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_SP

        stop = FLASH + MEM_SIZE - 0x100
        self.uc.reg_write(UC_ARM_REG_SP, RAM + MEM_SIZE - 16)
        self.uc.reg_write(UC_ARM_REG_LR, stop | 1)
        for reg, v in zip((UC_ARM_REG_R0, UC_ARM_REG_R1), args):
            self.uc.reg_write(reg, v & 0xFFFFFFFF)
        self.uc.emu_start(self.syms[name] | 1, stop)
        return self.uc.reg_read(UC_ARM_REG_R0)

    def resample(self, x: np.ndarray, block: int = 320, i2s: bool = False) -> np.ndarray:
        """Resample int16 ``x`` (a fresh stream) in blocks of ``block`` inputs, like the
        nRF52840-DK's I2S buffers; with ``i2s``, ``x`` is int32 I2S words taken through
        i2s_pcm first (the whole interrupt's DSP)."""
        x = np.ascontiguousarray(x, dtype="<i4" if i2s else "<i2")
        if x.size > MAX_IN:
            raise ValueError(f"at most {MAX_IN} samples")
        self.call("drv_init")
        self.instructions = 0
        self.uc.mem_write(self.syms["drv_words" if i2s else "drv_in"], x.tobytes())
        total = 0
        for off in range(0, x.size, block):
            total += self.call("drv_i2s" if i2s else "drv_run", off, min(block, x.size - off))
        out = self.uc.mem_read(self.syms["drv_out"], 2 * total)
        return np.frombuffer(bytes(out), dtype="<i2").copy()
