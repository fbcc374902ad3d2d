"""What the task heads cost on the Cortex-M4: an export with heads against the same export without.

    python bench/heads_cost.py EXPORT_WITHOUT_HEADS EXPORT_WITH_HEADS [CLIP.wav]

Both exports must hold the same network (the heads' graph hash). Builds the qemu-an386 firmware of
each in scene and timestamp mode, runs one clip with instruction counting (QEMU -icount) and
prints, per mode, the instructions the heads add per embedding, and the flash and RAM they add
(arm-none-eabi-size of the two images).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from exporter.boards import firmware_runner as fr
from exporter.audio.files import load_audio, to_pcm16
from exporter.quantization.graph import Graph
from exporter.heads import graph_hash

BOARD = "qemu-an386"


def _size(elf: Path) -> tuple[int, int]:
    """(flash = text + data, RAM = data + bss) of an image."""
    out = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True, check=True).stdout
    text, data, bss = (int(v) for v in out.splitlines()[1].split()[:3])
    return text + data, data + bss


def main(argv: list[str]) -> int:
    base, with_heads = Path(argv[0]), Path(argv[1])
    if graph_hash(Graph.load(base)) != graph_hash(Graph.load(with_heads)):
        sys.exit("the two exports hold different networks")
    heads = [h["name"] for h in Graph.load(with_heads).meta.get("heads", [])]
    if argv[2:]:
        clip = to_pcm16(load_audio(argv[2]))
    else:
        clip = to_pcm16(0.1 * np.sin(np.arange(32000) * 0.05).astype(np.float32))
    print(f"heads {', '.join(heads)}; clip of {clip.size} samples; board {BOARD}")
    for mode in ("scene", "timestamp"):
        runs, sizes = [], []
        for export in (base, with_heads):
            exe = fr.build_embedder(BOARD, mode, export)
            run = fr.run_embedder(BOARD, exe, clip, icount=True)
            fr.check_run(BOARD, run, clip.size, mode)
            runs.append(run)
            sizes.append(_size(exe))
        n = runs[1].end.n_embeddings
        extra = (runs[1].end.instructions - runs[0].end.instructions) / n
        print(f"{mode}: {n} embedding(s); heads add {extra:,.0f} instructions per embedding, "
              f"flash {sizes[1][0] - sizes[0][0]:+,} B, RAM {sizes[1][1] - sizes[0][1]:+,} B")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
