"""A few C sources built for a Cortex-M4 (arm-none-eabi-gcc, the firmware's flags) into a flat
image and run function by function in the unicorn emulator, counting the instructions executed.
The microphone paths' Cortex-M4 twins (pdm_m4.py, resample_m4.py) are drivers on top of it:
bit-exactness of the target build against the numpy twins, and the instruction counts of the
reports. Needs arm-none-eabi-gcc and ``unicorn`` (a dev dependency)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from exporter.benchmark import elf
from exporter.frontend.m4sim import CFLAGS, FLASH, LINKER, MEM_SIZE, RAM


class M4Program:
    """``sources`` (with ``driver``, a C file of drv_* entry points) linked with ``entry`` as the
    entry point and ``keep`` kept; ``call(name, r0, r1)`` runs a function to its return.
    ``instructions`` counts every instruction run so far (reset it to measure a span);
    ``syms`` / ``symbol_sizes`` are the ELF's addresses and sizes, ``text_bytes`` its code."""

    def __init__(self, what: str, sources: list[Path], include: Path, driver: str, entry: str,
                 keep: tuple[str, ...] = ()):
        from unicorn import UC_ARCH_ARM, UC_HOOK_CODE, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
        from unicorn.arm_const import UC_CPU_ARM_CORTEX_M4

        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            (work / "driver.c").write_text(driver)
            (work / "link.ld").write_text(LINKER)
            program = work / "program.elf"
            cmd = ["arm-none-eabi-gcc", *CFLAGS, f"-I{include}", *map(str, sources), str(work / "driver.c"),
                   "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
                   f"-Wl,-e,{entry}", *(f"-Wl,--undefined={k}" for k in keep),
                   f"-T{work / 'link.ld'}", "-o", str(program)]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"Cortex-M4 build of {what} failed:\n{proc.stderr[-3000:]}")
            binary = work / "program.bin"
            subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(program), str(binary)], check=True)
            image = binary.read_bytes()
            table = elf.symbols(program)
            self.text_bytes = elf.section_sizes(program).get(".text", 0)
        self.syms = {name: addr for name, (addr, _) in table.items()}
        self.symbol_sizes = {name: size for name, (_, size) in table.items() if size is not None}
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)
        self.uc.mem_map(FLASH, MEM_SIZE)
        self.uc.mem_map(RAM, MEM_SIZE)
        self.uc.mem_write(FLASH, image)
        self.instructions = 0

        def on_insn(uc, address, size, user):
            self.instructions += 1

        self.uc.hook_add(UC_HOOK_CODE, on_insn)

    def call(self, name: str, *args: int) -> int:
        from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_SP

        stop = FLASH + MEM_SIZE - 0x100  # returns here: the emulation ends
        self.uc.reg_write(UC_ARM_REG_SP, RAM + MEM_SIZE - 16)
        self.uc.reg_write(UC_ARM_REG_LR, stop | 1)
        for reg, v in zip((UC_ARM_REG_R0, UC_ARM_REG_R1), args):
            self.uc.reg_write(reg, v & 0xFFFFFFFF)
        self.uc.emu_start(self.syms[name] | 1, stop)
        return self.uc.reg_read(UC_ARM_REG_R0)

    def write(self, symbol: str, data: bytes) -> None:
        self.uc.mem_write(self.syms[symbol], data)

    def read(self, symbol: str, n_bytes: int) -> bytes:
        return bytes(self.uc.mem_read(self.syms[symbol], n_bytes))
