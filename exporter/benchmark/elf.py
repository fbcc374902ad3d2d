"""What a built image holds, read with binutils: its sections' sizes and its symbols."""

from __future__ import annotations

import subprocess
from pathlib import Path


# What an image puts in flash (vectors, code and constants, .data's initial values) and in static RAM.
FLASH_SECTIONS = (".isr_vector", ".text", ".ARM.exidx", ".data")
RAM_SECTIONS = (".data", ".bss")


def _tool(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


def section_sizes(elf: Path) -> dict[str, int]:
    """Section name -> bytes (arm-none-eabi-size -A)."""
    sizes = {}
    for line in _tool("arm-none-eabi-size", "-A", str(elf)).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def image_bytes(sizes: dict[str, int]) -> tuple[int, int]:
    """(flash, static RAM) bytes of an image, from its section sizes (section_sizes)."""
    return sum(sizes.get(k, 0) for k in FLASH_SECTIONS), sum(sizes.get(k, 0) for k in RAM_SECTIONS)


def symbols(elf: Path) -> dict[str, tuple[int, int | None]]:
    """Symbol name -> (address, size; None where the symbol table gives none) (arm-none-eabi-nm -S)."""
    found = {}
    for line in _tool("arm-none-eabi-nm", "-S", str(elf)).splitlines():
        parts = line.split()
        if len(parts) == 4:
            found[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
        elif len(parts) == 3:
            found[parts[2]] = (int(parts[0], 16), None)
    return found
