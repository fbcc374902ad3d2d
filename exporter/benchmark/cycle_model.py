"""A Cortex-M4 cycle estimate beside the exact instruction counts.

QEMU counts instructions; silicon spends cycles. The TCG plugin firmware/tools/m4_cycle_plugin.c
sorts every executed instruction into the classes whose cost differs on the Cortex-M4 and counts
the branches taken (and does so per function of the ELF); ``COSTS`` turns that into cycles. The
costs are the Cortex-M4 Technical Reference Manual's instruction timings (ARM DDI 0439, table
"Cortex-M4 instruction set summary" and the load/store timing rules after it) with zero wait
states:

- data processing, saturation, extends, DSP SIMD, multiplies and MACs (MUL, MLA, SMLAD, SMMULR,
  SMULL, SMLAL): 1 cycle;
- SDIV/UDIV: 2-12 cycles, data dependent: counted at 7 (the middle);
- single loads (LDR, LDRH, LDRB, LDRSH, LDRSB, LDREX): 2 cycles, 1 when pipelined directly behind
  another single load (the TRM's rule; the address dependency that breaks pipelining is ignored);
  single stores: 1 cycle (the write buffer);
- LDRD/STRD: 3 cycles (not pipelined);
- LDM/STM/PUSH/POP: 1 + N cycles for N registers;
- branches: 1 cycle, plus a pipeline refill P when taken (P is 1-3 with the target's alignment
  and width: counted at 2); a POP or LDR of PC and a TBB/TBH (2 + 1 cycles before its refill)
  take the refill too.

Not modelled: flash wait states and the prefetch buffer (a Cortex-M4 at 168 MHz on STM32F4 runs
flash at 5 wait states behind the ART accelerator; code in SRAM or a hit in the cache has none),
the stall of a load whose address the previous instruction computed, bus contention, interrupts.
The estimate is therefore a plausible lower-middle figure for code running at zero wait states,
not a measurement: the instruction counts stay the headline figures.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporter import ROOT, subproc
from exporter.boards import firmware_runner
from exporter.errors import UserError

PLUGIN_SOURCE = ROOT / "firmware" / "tools" / "m4_cycle_plugin.c"
CLASSES = ("alu", "mul", "div", "load", "load_pipelined", "store", "ldrd_strd", "multi_register", "branch",
           "table_branch")
COSTS = {"alu": 1, "mul": 1, "div": 7, "load": 2, "load_pipelined": 1, "store": 1, "ldrd_strd": 3,
         "multi_register": 1, "branch": 1, "table_branch": 3}
PER_REGISTER = 1  # LDM/STM/PUSH/POP: + 1 cycle per register
TAKEN_REFILL = 2  # pipeline refill after a taken branch (1-3 on the M4)


@dataclass
class Counts:
    classes: dict[str, int]
    registers: int
    taken: int

    @property
    def instructions(self) -> int:
        return sum(self.classes.values())

    @property
    def cycles(self) -> int:
        return (sum(COSTS[c] * n for c, n in self.classes.items()) + PER_REGISTER * self.registers
                + TAKEN_REFILL * self.taken)


@dataclass
class Estimate:
    total: Counts
    functions: dict[str, Counts] = field(default_factory=dict)

    def as_dict(self) -> dict:
        def one(c: Counts) -> dict:
            return {"instructions": c.instructions, "cycles": c.cycles, "taken_branches": c.taken,
                    "registers_moved": c.registers, "classes": c.classes,
                    "cycles_per_instruction": round(c.cycles / c.instructions, 3) if c.instructions else None}
        return {"model": {"costs": COSTS, "per_register": PER_REGISTER, "taken_refill": TAKEN_REFILL},
                "total": one(self.total), "functions": {k: one(v) for k, v in self.functions.items()}}


def build_plugin(out_dir: Path) -> Path:
    """The plugin as a shared library (host gcc), in ``out_dir``."""
    lib = Path(out_dir) / "libm4cycles.so"
    if not lib.exists() or lib.stat().st_mtime < PLUGIN_SOURCE.stat().st_mtime:
        proc = subproc.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(lib), str(PLUGIN_SOURCE)])
        if proc.returncode:
            raise UserError(f"building the cycle-model plugin failed: {proc.stderr.decode(errors='replace')[:300]}")
    return lib


def function_regions(elf: Path) -> list[tuple[int, int, str]]:
    """(start, end, name) of every function in ``elf`` (from its symbol table; Thumb bit cleared)."""
    out = subprocess.run(["arm-none-eabi-nm", "-S", "--defined-only", str(elf)], capture_output=True,
                         text=True, check=True).stdout
    regions = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "Tt" and int(parts[1], 16) > 0:
            start = int(parts[0], 16) & ~1
            regions.append((start, start + int(parts[1], 16), parts[3]))
    regions.sort()
    # overlapping symbols (aliases): keep the first
    kept, end = [], -1
    for s, e, n in regions:
        if s >= end:
            kept.append((s, e, n))
            end = e
    return kept


def parse(text: str) -> Estimate:
    classes, registers, taken, functions = {}, 0, 0, {}
    for line in text.splitlines():
        parts = line.split()
        if parts[0] == "class":
            classes[parts[1]] = int(parts[2])
        elif parts[0] == "registers":
            registers = int(parts[1])
        elif parts[0] == "taken":
            taken = int(parts[1])
        elif parts[0] == "region":
            values = [int(v) for v in parts[2:]]
            functions[parts[1]] = Counts(dict(zip(CLASSES, values[: len(CLASSES)])), values[len(CLASSES)],
                                         values[len(CLASSES) + 1])
    if tuple(classes) != CLASSES:
        raise RuntimeError(f"unexpected plugin output (classes {list(classes)})")
    return Estimate(Counts(classes, registers, taken), functions)


def estimate(board: str, exe: Path, clip: np.ndarray, timeout: float = 1200.0) -> Estimate:
    """Run the firmware image ``exe`` on ``clip`` in QEMU with the plugin: the cycle estimate of the run."""
    with tempfile.TemporaryDirectory(prefix="m4cycles-") as tmp:
        tmp = Path(tmp)
        lib = build_plugin(tmp)
        regions = tmp / "regions.txt"
        regions.write_text("".join(f"{s:x} {e:x} {n}\n" for s, e, n in function_regions(exe)))
        pcm = tmp / "clip.raw"
        np.asarray(clip, dtype="<i2").tofile(pcm)
        out = tmp / "counts.txt"
        cmd = firmware_runner.qemu_command(board, exe, pcm) + ["-plugin", f"{lib},out={out},regions={regions}"]
        proc = subproc.run(cmd, stdin=subprocess.DEVNULL, timeout=timeout)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"{board}: QEMU with the cycle-model plugin failed (exit {proc.returncode}): "
                               f"{proc.stderr.decode(errors='replace')[-300:]}")
        return parse(out.read_text())
