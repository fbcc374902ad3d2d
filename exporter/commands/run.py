"""``python -m exporter run``: integer embeddings of audio files on a board.

Boards: ``reference`` (frontend twin + integer ONNX model in ONNX Runtime),
``host`` (the generated C, compiled for this machine), ``qemu-an386`` and
``qemu-netduinoplus2`` (the firmware in QEMU). The export comes from ``--export
DIR`` or is made from the model arguments (default: the project's default
configuration, exporter/defaults.py) into a cache folder. Files are read and
embedded one at a time: a file that fails (unreadable, too short, too long for
the board, a firmware fault) is reported by name and skipped; the others are
still written, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from exporter.boards import BOARDS, MODES
from exporter.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from exporter.checkpoint import add_model_arguments

    parser.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files (wav, flac, ogg, ...)")
    parser.add_argument("--board", required=True, choices=BOARDS, help="where the integers are computed")
    parser.add_argument("--mode", choices=MODES, default="scene", help="default scene")
    add_model_arguments(parser)
    parser.add_argument("--export", metavar="DIR", type=Path, default=None,
                        help="an existing export folder (python -m exporter export); excludes the model arguments")
    parser.add_argument("--out", required=True, metavar="OUT.npz",
                        help="embeddings (dequantized), embeddings_q (int16), timestamps_ms, files; with task "
                             "heads in the export: scores and labels (see README)")


def _code_digest() -> str:
    """Hash of the exporter's code and templates: a cached export is reused only by the code that made it."""
    from exporter import ROOT, TEMPLATES_DIR

    h = hashlib.sha256()
    for root in (ROOT / "exporter", TEMPLATES_DIR):
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.suffix in (".py", ".j2", ".c", ".h", ".jinja", ".tmpl") and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(ROOT)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def cached_export(model, info) -> Path:
    """An export of ``model`` with the default calibration, made once into the cache folder."""
    from exporter import defaults
    from exporter.checkpoint import cache_dir
    from exporter.commands.export import export_to

    key = json.dumps({"model": info.as_dict() | {"path": None}, "percentile": defaults.PERCENTILE,
                      "calibration_seed": defaults.CALIBRATION_SEED, "clips": defaults.CALIBRATION_CLIPS,
                      "seconds": defaults.CALIBRATION_SECONDS,
                      "code": _code_digest()}, sort_keys=True)
    folder = cache_dir() / "exports" / f"{info.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    if not (folder / "graph.json").is_file():
        print(f"exporting {info.name} into {folder} (once)", file=sys.stderr)
        export_to(folder, replace=True, model=model, info=info, percentile=defaults.PERCENTILE,
                  calibration_seed=defaults.CALIBRATION_SEED, calibration_clips=defaults.CALIBRATION_CLIPS,
                  calibration_seconds=defaults.CALIBRATION_SECONDS, progress=sys.stderr.isatty())
    return folder


def resolve_export(args: argparse.Namespace) -> Path:
    from exporter.commands.export import model_given, resolve_model_or_default
    from exporter.graph import Graph

    if args.export is not None:
        if model_given(args):
            raise UserError("--export and the model arguments (--checkpoint / --model / --weights) exclude each other")
        Graph.load(args.export)  # a clear error if it is not an export folder
        return args.export
    return cached_export(*resolve_model_or_default(args))


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from exporter import qembed
    from exporter.audio import load_audio, to_pcm16
    from exporter.boards import board_module
    from exporter.graph import Graph
    from exporter.outputs import check_out_file
    from exporter.results import each_file, pad_ragged, write_embeddings_npz
    from exporter.windows import MIN_CLIP_SAMPLES, scene_windows, timestamp_windows

    check_out_file(args.out)  # before the (slow) work
    board = board_module(args.board)
    export_dir = resolve_export(args)
    graph = Graph.load(export_dir)
    heads = graph.meta.get("heads", [])
    if heads:  # the board's own head outputs (the device's scores frames), beside the integers
        from exporter.boards import scores_embedder

        embed_clip = scores_embedder(args.board, args.mode, Path(export_dir))
    else:
        embed_clip = board.embedder(args.mode, Path(export_dir))

    def embed(path: str):
        pcm = to_pcm16(load_audio(path))
        # The windowing's too-short check first: the same message on every board.
        if args.mode == "scene":
            scene_windows(pcm[:MIN_CLIP_SAMPLES])  # its length check alone: the rest of the clip need not be copied
            return embed_clip(pcm), None
        timestamps = timestamp_windows(pcm)[1]
        return embed_clip(pcm), timestamps

    files, results, failed = each_file(args.audio, embed)
    head_out = [q[1] for q, _ in results] if heads else []
    results = [(q[0], t) if heads else (q, t) for q, t in results]
    q_list = [q for q, _ in results]
    extra = {"board": np.asarray(args.board), "model": np.asarray(graph.meta["model"]["name"])}
    if heads:
        extra.update(_head_arrays(heads, head_out, args.mode))
    if args.mode == "scene":
        q = np.stack(q_list).astype(np.int16)
        write_embeddings_npz(args.out, qembed.dequantize(graph, q), files, embeddings_q=q, **extra)
    else:
        # Clips of different lengths have different numbers of timestamps: pad (NaN, 0 for the integers).
        q, n_ts = pad_ragged(q_list, 0, np.int16)
        emb, _ = pad_ragged([qembed.dequantize(graph, r) for r in q_list], np.nan, np.float32)
        ts, _ = pad_ragged([t for _, t in results], np.nan, np.float32)
        write_embeddings_npz(args.out, emb, files, timestamps_ms=ts, embeddings_q=q, n_timestamps=n_ts, **extra)
    print(f"wrote {args.out}: {len(files)} file(s), {args.mode} embeddings of {qembed.embedding_dim(graph)} "
          f"on board {args.board}" + (f"; {len(failed)} file(s) failed" if failed else ""))
    return 1 if failed else 0


def _head_arrays(heads: list[dict], per_file: list[dict], mode: str) -> dict:
    """npz arrays of the task heads: per head NAME ``scores.NAME`` (float32 probabilities: softmax, or
    sigmoid for multi-label), ``scores_q.NAME`` (the int8 logits), ``labels.NAME`` (top class), and
    ``classes.NAME``; ``heads`` lists the names; ``scores`` / ``labels`` are the first head's."""
    import numpy as np

    from exporter.heads import dequantize_logits, scores
    from exporter.results import pad_ragged

    out = {"heads": np.asarray([h["name"] for h in heads])}
    for k, h in enumerate(heads):
        name, classes = h["name"], np.asarray(h["classes"])
        q = [f[name] for f in per_file]
        if mode == "scene":
            q_arr = np.stack(q).astype(np.int8)
            prob = scores(dequantize_logits(h, q_arr), h["multi_label"]).astype(np.float32)
            labels = classes[np.argmax(q_arr, axis=-1)]
        else:  # NaN / empty-label padded like the embeddings
            q_arr, n = pad_ragged(q, 0, np.int8)
            prob = scores(dequantize_logits(h, q_arr), h["multi_label"]).astype(np.float32)
            valid = np.arange(q_arr.shape[1])[None, :] < n[:, None]
            prob[~valid] = np.nan
            labels = np.where(valid, classes[np.argmax(q_arr, axis=-1)], "")
        out.update({f"scores.{name}": prob, f"scores_q.{name}": q_arr, f"labels.{name}": labels,
                    f"classes.{name}": classes})
        if k == 0:
            out.update(scores=prob, labels=labels)
    return out
