"""What the task heads cost on the Cortex-M4: an export with heads against the same export without.

    python bench/heads_cost.py EXPORT_WITHOUT_HEADS EXPORT_WITH_HEADS [CLIP.wav]

Both exports must hold the same network (the heads' graph hash). Builds the qemu-an386 firmware of
each in scene and timestamp mode, runs one clip with instruction counting (QEMU -icount) and
prints, per mode, the instructions the heads add per embedding, and the flash and RAM they add
(exporter/benchmark/heads.py's `compare`, which `heads train --count-instructions` uses too).
"""

from __future__ import annotations

import sys
from pathlib import Path

from exporter.audio.files import load_audio, to_pcm16
from exporter.benchmark.heads import BOARD, compare, default_clip
from exporter.heads import graph_hash
from exporter.quantization.graph import Graph


def main(argv: list[str]) -> int:
    base, with_heads = Path(argv[0]), Path(argv[1])
    if graph_hash(Graph.load(base)) != graph_hash(Graph.load(with_heads)):
        sys.exit("the two exports hold different networks")
    heads = [h["name"] for h in Graph.load(with_heads).meta.get("heads", [])]
    clip = to_pcm16(load_audio(argv[2])) if argv[2:] else default_clip()
    print(f"heads {', '.join(heads)}; clip of {clip.size} samples; board {BOARD}")
    for mode in ("scene", "timestamp"):
        r = compare(base, with_heads, mode, clip)
        print(f"{mode}: {r['embeddings']} embedding(s); heads add {r['instructions_per_embedding']:,.0f} instructions "
              f"per embedding, flash {r['flash_bytes']:+,} B, RAM {r['ram_bytes']:+,} B")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
