"""The frontend built for a Cortex-M4 (arm-none-eabi-gcc, the firmware's flags, DSP
instructions on) and run in the unicorn emulator: for the tests that the DSP paths
(SMMULR, UMLAL, the Thumb-2 logmel_asm_* functions) give the same bytes as the twin, and
for the instruction-count benchmark.
Needs arm-none-eabi-gcc and the ``unicorn`` package (dev dependency)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from exporter import FIRMWARE_DIR
from exporter.frontend import tables as tb
from exporter.frontend.render import render_frontend

CFLAGS = [
    "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2", "-std=c99",
    "-ffp-contract=off", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra", "-Werror",
]  # fmt: skip
FLASH, RAM, MEM_SIZE = 0x0000_0000, 0x2000_0000, 0x0040_0000
MAX_PCM = 200_000
MAX_FRAMES = 700

DRIVER = rf"""
#include <string.h>
#include "logmel.h"
logmel_state drv_state;
int16_t drv_pcm[{MAX_PCM}];
int16_t drv_out[{MAX_FRAMES} * LOGMEL_BANDS];
int32_t drv_sum[LOGMEL_BANDS];
int16_t drv_mean[LOGMEL_BANDS];
volatile unsigned drv_frames, drv_marks, drv_copy;
void drv_frame(void *u, const int16_t *f) {{
  (void)u;
  if (drv_copy && drv_frames < {MAX_FRAMES}) {{
    memcpy(drv_out + drv_frames * LOGMEL_BANDS, f, LOGMEL_BANDS * sizeof f[0]);
    for (int b = 0; b < LOGMEL_BANDS; b++) drv_sum[b] += f[b];
  }}
  drv_frames++;
}}
void drv_stage(void *u, int stage, const void *d, size_t n) {{ (void)u; (void)stage; (void)d; (void)n; drv_marks++; }}
void drv_begin(int hook, int copy) {{
  drv_frames = 0;
  drv_copy = copy;
  memset(drv_sum, 0, sizeof drv_sum);
  logmel_begin(&drv_state, drv_frame, 0);
  if (hook) logmel_set_stage_hook(&drv_state, drv_stage, 0);
}}
void drv_push(int offset, int n) {{ logmel_push(&drv_state, drv_pcm + offset, (size_t)n); }}
int drv_end(void) {{
  int n = logmel_end(&drv_state);
  if (n > 0) logmel_mean_q12(drv_sum, n, drv_mean);
  return n;
}}
"""

LINKER = f"""
MEMORY {{ FLASH (rx) : ORIGIN = {FLASH:#x}, LENGTH = 4M  RAM (rwx) : ORIGIN = {RAM:#x}, LENGTH = 4M }}
SECTIONS {{
  .text : {{ *(.text*) *(.rodata*) }} > FLASH
  .data : {{ *(.data*) }} > RAM AT > FLASH
  .bss (NOLOAD) : {{ *(.bss*) *(COMMON) }} > RAM
}}
"""


def build(work: Path, debug: bool = False) -> tuple[bytes, dict[str, int], dict[str, int]]:
    """Compile logmel.c + rendered tables + the driver; returns (flash image, symbols, sizes).
    ``debug`` adds -g (line tables for addr2line; the code is the same)."""
    gen = work / "gen"
    render_frontend(gen)
    (work / "driver.c").write_text(DRIVER)
    (work / "link.ld").write_text(LINKER)
    elf = work / "frontend.elf"
    front = FIRMWARE_DIR / "frontend"
    cmd = ["arm-none-eabi-gcc", *CFLAGS, *(["-g"] if debug else []), f"-I{front}", f"-I{gen}", str(front / "logmel.c"),
           str(gen / "logmel_tables.c"), str(work / "driver.c"), "-nostartfiles", "--specs=nano.specs",
           "--specs=nosys.specs", "-Wl,--gc-sections", "-Wl,-e,drv_push", "-Wl,--undefined=drv_begin",
           "-Wl,--undefined=drv_end", f"-T{work / 'link.ld'}", "-o", str(elf)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"Cortex-M4 build of the frontend failed:\n{proc.stderr[-3000:]}")
    binary = work / "frontend.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(elf), str(binary)], check=True)
    syms = {}
    nm = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    sizes = {}
    out = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (".text", ".data", ".bss"):
            sizes[parts[0]] = int(parts[1])
    sizes["logmel_state"] = int(
        subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True)
        .stdout.split("drv_state")[0]
        .splitlines()[-1]
        .split()[1],
        16,
    )
    return binary.read_bytes(), syms, sizes


class M4:
    """The built frontend in unicorn (Cortex-M4 model). ``count=True`` counts instructions
    and records when the stage hook / frame callback run (slower); while ``pcs`` is a dict
    it also counts executions per instruction address. ``debug=True`` keeps the ELF (with
    line tables) in ``elf``, for addr2line."""

    def __init__(self, count: bool = False, debug: bool = False):
        from unicorn import UC_ARCH_ARM, UC_HOOK_CODE, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
        from unicorn.arm_const import UC_CPU_ARM_CORTEX_M4

        with tempfile.TemporaryDirectory() as d:
            image, self.syms, self.sizes = build(Path(d), debug=debug)
            self.elf = (Path(d) / "frontend.elf").read_bytes() if debug else None
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)  # with the DSP extension (SMMULR)
        self.uc.mem_map(FLASH, MEM_SIZE)
        self.uc.mem_map(RAM, MEM_SIZE)
        self.uc.mem_write(FLASH, image)
        self.count = 0
        self.marks: list[int] = []
        self.pcs: dict[int, int] | None = None
        if count:
            marks = {self.syms["drv_stage"] & ~1, self.syms["drv_frame"] & ~1}

            def on_insn(uc, address, size, user):
                self.count += 1
                if address in marks:
                    self.marks.append(self.count)
                if self.pcs is not None:
                    self.pcs[address] = self.pcs.get(address, 0) + 1

            self.uc.hook_add(UC_HOOK_CODE, on_insn)

    def call(self, name: str, *args: int) -> int:
        """Run a driver function; returns its r0."""
        from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_SP

        stop = FLASH + MEM_SIZE - 0x100  # return address inside FLASH, never executed
        self.uc.reg_write(UC_ARM_REG_SP, RAM + MEM_SIZE - 16)
        self.uc.reg_write(UC_ARM_REG_LR, stop | 1)
        for reg, v in zip((UC_ARM_REG_R0, UC_ARM_REG_R1), args):
            self.uc.reg_write(reg, v & 0xFFFFFFFF)
        self.uc.emu_start(self.syms[name] | 1, stop)
        r0 = self.uc.reg_read(UC_ARM_REG_R0)
        return r0 - (1 << 32) if r0 >= 1 << 31 else r0

    def load_pcm(self, pcm16: np.ndarray) -> None:
        pcm16 = np.ascontiguousarray(pcm16, dtype=np.int16)
        if pcm16.size > MAX_PCM:
            raise ValueError(f"at most {MAX_PCM} samples")
        self.uc.mem_write(self.syms["drv_pcm"], pcm16.tobytes())

    def logmel_q12(self, pcm16: np.ndarray, block: int = 320) -> tuple[np.ndarray, np.ndarray, int]:
        """(frames int16 [T, 128], mean int16 [128], logmel_end's return value)."""
        self.load_pcm(pcm16)
        self.call("drv_begin", 0, 1)
        for i in range(0, pcm16.size, block):
            self.call("drv_push", i, min(block, pcm16.size - i))
        n = self.call("drv_end")
        t = max(n, 0)
        frames = np.frombuffer(self.uc.mem_read(self.syms["drv_out"], 2 * t * tb.N_MELS), np.int16)
        mean = np.frombuffer(self.uc.mem_read(self.syms["drv_mean"], 2 * tb.N_MELS), np.int16)
        return frames.reshape(t, tb.N_MELS).copy(), mean.copy(), n
