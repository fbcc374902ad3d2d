"""Flash and RAM of the real boards' images (docs/boards.md), read from their ELFs.

The images are the CMake presets of the real boards (CMakePresets.json: stm32f4-discovery-*,
nrf52840-dk-*; their board and mode), built for the export being benchmarked. Sizes come from
the ELF's allocated sections, each placed in the part's memory that holds its address (flash
also holds the initial values of .data), and from a few symbols that say where the RAM goes
(the network's arena, the stack, the microphone's DMA buffer, its sample ring). Nothing here
runs: these parts have no emulator (docs/boards.md, "Not done").

``measure(export_dir)`` returns one dict per image (bench.json's ``real_boards``);
``markdown(images)`` renders its section of reports/bench.md.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from exporter import ROOT
from exporter.benchmark.elf import symbols as elf_symbols

# The parts' memories (RM0090 2.3 for the STM32F407VG; the nRF52840 PS memory map):
# name -> (start, size). tests/test_live_boards.py checks each image against the same limits.
PARTS = {
    "stm32f4-discovery": {"flash": (0x0800_0000, 1024 * 1024), "sram": (0x2000_0000, 128 * 1024),
                          "ccm": (0x1000_0000, 64 * 1024)},
    "nrf52840-dk": {"flash": (0x0000_0000, 1024 * 1024), "sram": (0x2000_0000, 256 * 1024)},
}
# Symbols whose sizes say where the memory goes: name in the ELF -> what the report calls it.
PARTS_OF_INTEREST = {
    "net_arena": "network arena", "pdm_dma": "PDM DMA buffer", "i2s_buf": "I2S DMA buffers",
    "ring": "sample ring", "uart_ring": "UART ring", "cic_tab": "CIC tables (RAM)", "rs_taps": "resampler taps (flash)",
}
PRESETS_FILE = ROOT / "CMakePresets.json"


def presets() -> list[tuple[str, str, str]]:
    """(preset, board, mode) of the real boards' configure presets, in the file's order."""
    data = json.loads(PRESETS_FILE.read_text())
    out = []
    for p in data["configurePresets"]:
        cache = p.get("cacheVariables", {})
        if cache.get("BOARD") in PARTS and not p.get("hidden"):
            out.append((p["name"], cache["BOARD"], cache.get("EMBED_MODE", "scene")))
    return out


def _tool(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


def elf_sizes(board: str, elf: Path) -> dict:
    """Bytes used in each of the part's memories and the symbols of PARTS_OF_INTEREST."""
    used = {name: 0 for name in PARTS[board]}
    for line in _tool("arm-none-eabi-readelf", "-S", "-W", str(elf)).splitlines():
        head, _, rest = line.partition("]")
        f = rest.split()
        if not head.strip().startswith("[") or len(f) < 7 or not f[0].startswith("."):
            continue
        name, addr, size, flags = f[0], int(f[2], 16), int(f[4], 16), f[6]
        if "A" not in flags or size == 0:
            continue
        where = next((m for m, (start, length) in PARTS[board].items() if start <= addr < start + length), None)
        if where is None:
            raise ValueError(f"{elf}: section {name} at {addr:#x} is outside the {board}'s memories")
        used[where] += size
        if name == ".data":
            used["flash"] += size  # its initial values
    table = elf_symbols(elf)
    symbols = {name: size for name, (_, size) in table.items() if name in PARTS_OF_INTEREST and size is not None}
    if "__stack_top" in table and "__stack_limit" in table:
        symbols["stack"] = table["__stack_top"][0] - table["__stack_limit"][0]
    return {"used": used, "symbols": symbols}


def measure(export_dir: Path | None = None) -> list[dict]:
    """Build each real board's preset image (embedder) for ``export_dir`` (default: the
    repository's firmware/generated/) and read its sizes."""
    from exporter.boards import cmake_build

    results = []
    for preset, board, mode in presets():
        build = cmake_build.build(board, generated_dir=export_dir, options={"EMBED_MODE": mode}, targets=["embedder"])
        elf = build / "firmware" / "app" / "embedder.elf"
        sizes = elf_sizes(board, elf)
        results.append({"preset": preset, "board": board, "mode": mode,
                        "limits": {m: length for m, (_, length) in PARTS[board].items()}, **sizes})
    return results


def _kib(n: int) -> str:
    return f"{n >> 20} MiB" if n % (1 << 20) == 0 else f"{n / 1024:.1f} KiB"


def markdown(images: list[dict]) -> list[str]:
    """A report section: one row per image (flash, each RAM, where the RAM goes)."""
    if not images:
        return []
    lines = ["## Real boards: flash and RAM", "",
             "The real boards' preset images (embedder; docs/boards.md), sizes from their ELFs: allocated sections "
             "in each of the part's memories (flash includes the initial values of .data; RAM is static: the stack "
             "is reserved, not measured, on these boards). Built, not run: no emulator models these parts.", "",
             "| image | flash | RAM | of which |", "| --- | --- | --- | --- |"]
    for r in images:
        used, lim, sym = r["used"], r["limits"], r["symbols"]
        ram = " + ".join(f"{m.upper() if m == 'ccm' else 'SRAM'} {_kib(used[m])} of {_kib(lim[m])}"
                         for m in lim if m != "flash")
        parts = ([f"stack {sym['stack']:,} B"] if "stack" in sym else []) + \
                [f"{label} {sym[name]:,} B" for name, label in PARTS_OF_INTEREST.items() if sym.get(name)]
        lines.append(f"| {r['preset']} | {_kib(used['flash'])} of {_kib(lim['flash'])} | {ram} | {', '.join(parts)} |")
    lines.append("")
    return lines
