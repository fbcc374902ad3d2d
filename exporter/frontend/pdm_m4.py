"""The PDM decimator (firmware/mic/pdm_decimate.c) built for a Cortex-M4 (arm-none-eabi-gcc,
the firmware's flags: the SMLALD path of the low-pass) and run in the unicorn emulator: for
the test that the target build equals the numpy twin bit for bit, and for its instruction
count per second of audio (bench/pdm_report.py). Needs arm-none-eabi-gcc and ``unicorn``."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from exporter import ROOT
from exporter.frontend.m4sim import CFLAGS, FLASH, LINKER, MEM_SIZE, RAM

MAX_SAMPLES = 8000

DRIVER = rf"""
#include "pdm_decimate.h"
pdm_dec drv_dec;
uint8_t drv_in[{MAX_SAMPLES} * 8] __attribute__((aligned(4)));
int16_t drv_out[{MAX_SAMPLES}];
void drv_init(void) {{ pdm_dec_init(&drv_dec); }}
int drv_run(int offset, int n) {{
  return (int)pdm_dec_process(&drv_dec, drv_in + 8 * offset, 8u * (unsigned)n, drv_out + offset);
}}
void drv_swap(int n_halfwords) {{ pdm_i2s_halfwords_to_bytes((const uint16_t *)drv_in, (size_t)n_halfwords, drv_in); }}
"""


class PdmM4:
    """pdm_decimate.c in unicorn; ``instructions`` counts what the last calls executed."""

    def __init__(self):
        from unicorn import UC_ARCH_ARM, UC_HOOK_CODE, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
        from unicorn.arm_const import UC_CPU_ARM_CORTEX_M4

        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            (work / "driver.c").write_text(DRIVER)
            (work / "link.ld").write_text(LINKER)
            elf = work / "pdm.elf"
            mic = ROOT / "firmware" / "mic"
            cmd = ["arm-none-eabi-gcc", *CFLAGS, f"-I{mic}", str(mic / "pdm_decimate.c"), str(work / "driver.c"),
                   "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
                   "-Wl,-e,drv_run", "-Wl,--undefined=drv_init", "-Wl,--undefined=drv_swap",
                   f"-T{work / 'link.ld'}", "-o", str(elf)]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"Cortex-M4 build of the PDM decimator failed:\n{proc.stderr[-3000:]}")
            binary = work / "pdm.bin"
            subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(elf), str(binary)], check=True)
            image = binary.read_bytes()
            nm = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
            size = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
        self.syms, self.symbol_sizes = {}, {}
        for line in nm.splitlines():
            parts = line.split()
            if len(parts) >= 3:
                self.syms[parts[-1]] = int(parts[0], 16)
            if len(parts) == 4:
                self.symbol_sizes[parts[-1]] = int(parts[1], 16)
        self.text_bytes = sum(int(p[1]) for p in (line.split() for line in size.splitlines())
                              if len(p) >= 2 and p[0] == ".text")  # fmt: skip
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

    def call(self, name: str, *args: int) -> int:
        from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_SP

        stop = FLASH + MEM_SIZE - 0x100
        self.uc.reg_write(UC_ARM_REG_SP, RAM + MEM_SIZE - 16)
        self.uc.reg_write(UC_ARM_REG_LR, stop | 1)
        for reg, v in zip((UC_ARM_REG_R0, UC_ARM_REG_R1), args):
            self.uc.reg_write(reg, v & 0xFFFFFFFF)
        self.uc.emu_start(self.syms[name] | 1, stop)
        return self.uc.reg_read(UC_ARM_REG_R0)

    def decimate(self, data: np.ndarray, block: int = 320, i2s: bool = False) -> np.ndarray:
        """Decimate PDM bytes (or with ``i2s`` STM32 halfwords) in blocks of ``block`` samples,
        continuing the stream of earlier calls."""
        raw = np.ascontiguousarray(data).tobytes()
        n = len(raw) // 8
        if n > MAX_SAMPLES:
            raise ValueError(f"at most {MAX_SAMPLES} PCM samples per call")
        self.uc.mem_write(self.syms["drv_in"], raw)
        if i2s:
            self.call("drv_swap", n * 4)
        for off in range(0, n, block):
            self.call("drv_run", off, min(block, n - off))
        out = self.uc.mem_read(self.syms["drv_out"], 2 * n)
        return np.frombuffer(bytes(out), dtype="<i2").copy()
