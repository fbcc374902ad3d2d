"""What task heads cost on the Cortex-M4, measured: the embedder firmware of an export with the
heads against the same export without them (qemu-an386).

Both images are built (exporter/boards/firmware_runner.py) and run on the same clip with
instruction counting (QEMU -icount); the heads' instructions per embedding are the difference of
the two runs' totals divided by the embeddings (the head itself plus its scores frame on the UART:
what the device spends on it). Flash and RAM are the difference of the two images' sections
(flash = vectors + code + constants + .data initializers, RAM = .data + .bss).

Used by ``heads train --count-instructions`` (the head's report) and bench/heads_cost.py.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

BOARD = "qemu-an386"
CLIP_SECONDS = 1.0  # scene: one embedding; timestamp: 21


def default_clip(seconds: float = CLIP_SECONDS) -> np.ndarray:
    """int16 PCM: a quiet tone (what the heads cost does not depend on the sound)."""
    from exporter import SAMPLE_RATE
    from exporter.audio.files import to_pcm16

    return to_pcm16(0.1 * np.sin(np.arange(int(seconds * SAMPLE_RATE)) * 0.05).astype(np.float32))


def image_bytes(elf: Path) -> tuple[int, int]:
    """(flash, RAM) bytes of an image, from its sections."""
    from exporter.benchmark import elf as elf_sizes

    return elf_sizes.image_bytes(elf_sizes.section_sizes(elf))


def export_with_heads(export_dir: Path, head_dirs: list[Path], folder: Path) -> None:
    """Write into ``folder`` the export ``export_dir`` with exactly the heads of ``head_dirs`` (none:
    the network alone): its graph, the network and head sources, the heads' ONNX model and the
    manifest, as ``export --head`` writes them (the network's own files are copied)."""
    import onnx

    from exporter import defaults, manifest
    from exporter.codegen.network import render_heads, render_network
    from exporter.heads import ARRAY_PREFIX, add_heads
    from exporter.reference import onnx_int

    shutil.copytree(export_dir, folder, ignore=shutil.ignore_patterns("reports", "heads.c", "heads.h",
                                                                      "heads_int.onnx"))
    graph = manifest.load_export(export_dir)
    graph.meta.pop("heads", None)
    for key in [k for k in graph.arrays if k.startswith(ARRAY_PREFIX)]:
        del graph.arrays[key]
    add_heads(graph, list(head_dirs))
    graph.validate()
    graph.save(folder)
    render_network(graph, folder, max_frames=defaults.MAX_FRAMES)
    if render_heads(graph, folder):
        onnx.save(onnx_int.build_heads_model(graph), folder / "heads_int.onnx")
    manifest.write(folder, graph)


def compare(without: Path, with_heads: Path, mode: str, clip: np.ndarray | None = None, board: str = BOARD) -> dict:
    """Per embedding in ``mode``: what export ``with_heads`` costs over export ``without`` (the same
    network): instructions, flash and RAM bytes."""
    from exporter.boards import firmware_runner as fr

    clip = default_clip() if clip is None else clip
    runs, sizes = [], []
    for folder in (without, with_heads):
        exe = fr.build_embedder(board, mode, folder)
        run = fr.run_embedder(board, exe, clip, icount=True, timeout=600)
        fr.check_run(board, run, clip.size, mode)
        runs.append(run)
        sizes.append(image_bytes(exe))
    n = runs[1].end.n_embeddings
    if n != runs[0].end.n_embeddings or not n:
        raise RuntimeError(f"the two images made {runs[0].end.n_embeddings} and {n} embeddings of the same clip")
    return {"board": board, "mode": mode, "embeddings": int(n),
            "instructions_per_embedding": (runs[1].end.instructions - runs[0].end.instructions) / n,
            "flash_bytes": sizes[1][0] - sizes[0][0], "ram_bytes": sizes[1][1] - sizes[0][1]}


def measure(export_dir: Path, head_dirs: list[Path], mode: str, clip: np.ndarray | None = None,
            board: str = BOARD) -> dict:
    """Per embedding in ``mode``: the instructions the heads of ``head_dirs`` add; flash and RAM bytes."""
    from exporter.manifest import load_export

    export_dir = Path(export_dir)
    plain = not load_export(export_dir).meta.get("heads")
    with tempfile.TemporaryDirectory(prefix="heads-cost-") as tmp:
        folders = []
        for name, heads in (("without", []), ("with", head_dirs)):
            folder = Path(tmp) / name
            if heads or not plain:
                export_with_heads(export_dir, heads, folder)
            else:  # the export itself (its build is kept between measurements)
                folder = export_dir
            folders.append(folder)
        return compare(*folders, mode, clip, board)
