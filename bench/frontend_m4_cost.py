"""Cortex-M4 instruction count of the log-mel frontend, per frame and per stage.

Builds firmware/frontend/logmel.c and freshly rendered tables with arm-none-eabi-gcc
(-O2, the firmware's Cortex-M4 flags, DSP path on), loads the image into the
unicorn emulator and counts executed instructions while streaming audio through
logmel_push in hops of 320 samples. A stage hook marks the stage boundaries.

    python bench/frontend_m4_cost.py [--out reports/frontend_m4_cost] [--frames 20]
writes OUT.md and OUT.json. Target: <= 40,000 instructions per frame.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.frontend import signals  # noqa: E402
from exporter.frontend.render import render_frontend  # noqa: E402

TARGET = 40_000
CFLAGS = [
    "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2",
    "-ffp-contract=off", "-ffunction-sections", "-fdata-sections", "-std=c99",
]  # fmt: skip
FLASH, RAM, RAM_SIZE = 0x0000_0000, 0x2000_0000, 0x0010_0000
STAGES = ["pre-emphasis, buffering, window, fft", "power", "mel", "log2", "scale+output"]

DRIVER = r"""
#include "logmel.h"
logmel_state bench_state;
volatile unsigned bench_marks;
int16_t bench_pcm[8192];
void bench_frame(void *u, const int16_t *f) { (void)u; (void)f; bench_marks++; }
void bench_stage(void *u, int stage, const void *d, size_t n) { (void)u; (void)stage; (void)d; (void)n; bench_marks++; }
void bench_begin(int hook) {
  logmel_begin(&bench_state, bench_frame, 0);
  if (hook) logmel_set_stage_hook(&bench_state, bench_stage, 0);
}
void bench_push(int n) { logmel_push(&bench_state, bench_pcm, (size_t)n); }
"""

LINKER = f"""
MEMORY {{ FLASH (rx) : ORIGIN = {FLASH:#x}, LENGTH = 1M  RAM (rwx) : ORIGIN = {RAM:#x}, LENGTH = 1M }}
SECTIONS {{
  .text : {{ *(.text*) *(.rodata*) }} > FLASH
  .data : {{ *(.data*) }} > RAM AT > FLASH
  .bss (NOLOAD) : {{ *(.bss*) *(COMMON) }} > RAM
}}
"""


def build(work: Path) -> tuple[bytes, dict[str, int], dict[str, int]]:
    gen = work / "gen"
    render_frontend(gen)
    (work / "driver.c").write_text(DRIVER)
    (work / "link.ld").write_text(LINKER)
    elf = work / "bench.elf"
    cmd = ["arm-none-eabi-gcc", *CFLAGS, f"-I{ROOT / 'firmware' / 'frontend'}", f"-I{gen}",
           str(ROOT / "firmware" / "frontend" / "logmel.c"), str(gen / "logmel_tables.c"), str(work / "driver.c"),
           "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
           "-Wl,-e,bench_push", "-Wl,--undefined=bench_begin", f"-T{work / 'link.ld'}", "-o", str(elf)]  # fmt: skip
    subprocess.run(cmd, check=True)
    binary = work / "bench.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(elf), str(binary)], check=True)
    syms = {}
    for line in subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    sizes = {}
    out = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (".text", ".data", ".bss"):
            sizes[parts[0]] = int(parts[1])
    return binary.read_bytes(), syms, sizes


class M4:
    def __init__(self, image: bytes, syms: dict[str, int]):
        from unicorn import UC_ARCH_ARM, UC_HOOK_CODE, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
        from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_R0, UC_ARM_REG_SP

        self.regs = (UC_ARM_REG_R0, UC_ARM_REG_LR, UC_ARM_REG_SP)
        self.syms = syms
        from unicorn.arm_const import UC_CPU_ARM_CORTEX_M4

        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)  # the DSP extension (SMMULR)
        self.uc.mem_map(FLASH, 0x10_0000)
        self.uc.mem_map(RAM, RAM_SIZE)
        self.uc.mem_write(FLASH, image)
        self.count = 0
        self.marks: list[int] = []
        self.uc.hook_add(UC_HOOK_CODE, self._on_insn)
        self._mark_addrs = {syms["bench_stage"] & ~1, syms["bench_frame"] & ~1}

    def _on_insn(self, uc, address, size, user):
        self.count += 1
        if address in self._mark_addrs:
            self.marks.append(self.count)

    def call(self, name: str, arg: int) -> int:
        r0, lr, sp = self.regs
        stop = 0x000F_FF00  # a return address inside FLASH, never executed
        self.uc.reg_write(sp, RAM + RAM_SIZE - 16)
        self.uc.reg_write(lr, stop | 1)
        self.uc.reg_write(r0, arg)
        start = self.count
        self.uc.emu_start(self.syms[name] | 1, stop)
        return self.count - start


def measure(n_frames: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        image, syms, sizes = build(Path(d))
    m4 = M4(image, syms)
    pcm = signals.make("speech_like", 8192, -12.0)
    m4.uc.mem_write(syms["bench_pcm"], pcm.tobytes())

    # per frame, steady state, no hook: push one hop at a time after the start-up frames
    m4.call("bench_begin", 0)
    m4.call("bench_push", 1040 + 1)  # frames 0..2 out
    per_hop = [m4.call("bench_push", 320) for _ in range(n_frames)]

    # per stage, with the hook (its own cost, a call per stage, is included in the stages)
    m4.call("bench_begin", 1)
    m4.call("bench_push", 1040 + 1)
    m4.marks.clear()
    start = m4.count
    m4.call("bench_push", 320)
    bounds = [start, *m4.marks]
    stages = {name: bounds[i + 1] - bounds[i] for i, name in enumerate(STAGES)}
    stages["after the frame callback"] = m4.count - start - sum(stages.values())
    return {
        "instructions_per_frame": {"mean": float(np.mean(per_hop)), "min": int(min(per_hop)), "max": int(max(per_hop))},
        "stages": stages,
        "sizes_bytes": sizes,
        "state_bytes": None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "frontend_m4_cost"))
    ap.add_argument("--frames", type=int, default=20)
    args = ap.parse_args(argv)
    r = measure(args.frames)
    r["target_per_frame"] = TARGET
    r["compiler"] = subprocess.run(["arm-none-eabi-gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    r["flags"] = " ".join(CFLAGS)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(r, indent=2) + "\n")
    ipf = r["instructions_per_frame"]
    lines = [
        "# Frontend cost on a Cortex-M4 (instructions per frame)",
        "",
        f"logmel.c + generated tables, `{r['compiler']}` `{r['flags']}`, executed in the unicorn emulator; "
        f"one frame = one `logmel_push` of 320 samples in steady state ({args.frames} frames).",
        "",
        f"**{ipf['mean']:,.0f} instructions per frame** (min {ipf['min']:,}, max {ipf['max']:,}); "
        f"target <= {TARGET:,}: {'met' if ipf['max'] <= TARGET else 'NOT met'}. "
        f"At 100 frames/s that is {ipf['mean'] * 100 / 1e6:.2f} M instructions per second of audio.",
        "",
        "| stage | instructions |",
        "| --- | --- |",
        *[f"| {k} | {v:,} |" for k, v in r["stages"].items()],
        "",
        "Sizes (bytes): " + ", ".join(f"{k} {v:,}" for k, v in r["sizes_bytes"].items()) + " (.bss includes the benchmark's 16 KB PCM buffer).",
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
