"""``python -m exporter run``: integer embeddings of audio files on a board.

Boards: ``reference`` (frontend twin + integer ONNX model in ONNX Runtime),
``host`` (the generated C, compiled for this machine), ``qemu-an386`` and
``qemu-netduinoplus2`` (the firmware in QEMU), ``serial:PORT`` (a board flashed with the
validation firmware: each file's integers are compared with the reference board's, "equal" or
the first differing window and section; a difference fails that file). The export comes from ``--export
DIR`` or is made from the model arguments (default: the project's default
configuration, exporter/defaults.py) into a cache folder. Files are read and
embedded one at a time, streamed in blocks (memory does not grow with a file's
length; a progress bar on a terminal beyond a minute): a file that fails
(unreadable, too short, too long for the board, a firmware fault) is reported by
name and skipped; the others are still written, and the exit code is 1.
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
    from exporter.float_model.checkpoint import add_model_arguments

    parser.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files (wav, flac, ogg, ...)")
    parser.add_argument("--board", required=True, metavar="BOARD",
                        help=f"where the integers are computed: {', '.join(BOARDS)}, or serial:PORT (a board "
                             "flashed with the validation firmware; its integers are compared with the reference "
                             "board's)")
    parser.add_argument("--baud", type=int, default=None, help="serial:PORT only: baud rate (default 115200)")
    parser.add_argument("--mode", choices=MODES, default="scene", help="default scene")
    add_model_arguments(parser)
    parser.add_argument("--export", metavar="DIR", type=Path, default=None,
                        help="an existing export folder written by this version of the tool (python -m exporter export); "
                             "excludes the model arguments")
    parser.add_argument("--out", required=True, metavar="OUT.npz",
                        help="embeddings (dequantized), embeddings_q (int16), timestamps_ms, files; with task "
                             "heads in the export: scores and labels (see README)")


def _code_digest() -> str:
    """Hash of the exporter's code and templates and of the C library's sources an export copies:
    a cached export is reused only by the code that made it."""
    from exporter import FIRMWARE_DIR, PACKAGE_DIR, TEMPLATES_DIR
    from exporter.codegen.library import STATIC_PARTS

    h = hashlib.sha256()
    # the same files in a checkout and in an installed wheel (its exporter/_data holds no code)
    for base, suffixes in ((PACKAGE_DIR, (".py",)), (TEMPLATES_DIR, (".j2",)),
                           *((FIRMWARE_DIR / part, (".c", ".h", ".S", ".cmake", ".txt")) for part in STATIC_PARTS)):
        for p in sorted(base.rglob("*")):
            rel = p.relative_to(base)
            if p.is_file() and p.suffix in suffixes and rel.parts[0] != "_data" and "__pycache__" not in rel.parts:
                h.update(f"{base.name}/{rel}".encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def cached_export(model, info) -> Path:
    """An export of ``model`` with the default calibration, made once into the cache folder."""
    from exporter import defaults
    from exporter.float_model.checkpoint import cache_dir
    from exporter.commands.export import export_to

    key = json.dumps({"model": info.as_dict() | {"path": None}, "percentile": defaults.PERCENTILE,
                      "calibration_seed": defaults.CALIBRATION_SEED, "clips": defaults.CALIBRATION_CLIPS,
                      "seconds": defaults.CALIBRATION_SECONDS,
                      "timestamp_windows": defaults.CALIBRATION_TIMESTAMP_WINDOWS,
                      "code": _code_digest()}, sort_keys=True)
    folder = cache_dir() / "exports" / f"{info.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    if not (folder / "graph.json").is_file():
        print(f"exporting {info.name} into {folder} (once)", file=sys.stderr)
        export_to(folder, replace=True, model=model, info=info, percentile=defaults.PERCENTILE,
                  calibration_seed=defaults.CALIBRATION_SEED, calibration_clips=defaults.CALIBRATION_CLIPS,
                  calibration_seconds=defaults.CALIBRATION_SECONDS,
                  timestamp_windows=defaults.CALIBRATION_TIMESTAMP_WINDOWS, progress=sys.stderr.isatty())
    return folder


def resolve_export(args: argparse.Namespace) -> Path:
    from exporter.commands.export import model_given, resolve_model_or_default
    from exporter.manifest import load_export

    if args.export is not None:
        if model_given(args):
            raise UserError("--export and the model arguments (--checkpoint / --model / --weights) exclude each other")
        load_export(args.export)  # a clear error if it is not an export folder of this tool version
        return args.export
    return cached_export(*resolve_model_or_default(args))


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from exporter.quantization import qembed
    from exporter.audio.files import AudioStream
    from exporter.boards import board_module
    from exporter.quantization.graph import Graph
    from exporter.outputs import check_out_file
    from exporter.results import each_file, file_progress, pad_ragged, write_embeddings_npz
    from exporter.float_model.windows import timestamps_ms

    check_out_file(args.out)  # before the (slow) work
    serial_port = args.board[len("serial:"):] if args.board.startswith("serial:") else None
    if serial_port == "":
        raise UserError("--board serial:PORT needs a port, e.g. serial:/dev/ttyACM0")
    if args.baud is not None and serial_port is None:
        raise UserError("--baud is for --board serial:PORT")
    board = None if serial_port is not None else board_module(args.board)
    export_dir = resolve_export(args)
    graph = Graph.load(export_dir)
    heads = graph.meta.get("heads", [])
    if serial_port is not None:  # the validation firmware runs the export's heads too: their scores are checked
        from exporter.boards import serial

        embed_clip = serial.embedder(args.mode, Path(export_dir), serial_port, args.baud or serial.DEFAULT_BAUD,
                                     with_scores=bool(heads))
    elif heads:  # the board's own head outputs (the device's scores frames), beside the integers
        from exporter.boards import scores_embedder

        embed_clip = scores_embedder(args.board, args.mode, Path(export_dir))
    else:
        embed_clip = board.embedder(args.mode, Path(export_dir))

    def embed(path: str):
        stream = AudioStream(path)
        if serial_port is not None:
            # the board over a UART takes the clip whole (it is compared with the reference board's)
            pcm = np.concatenate(list(stream.pcm16()))
            q = embed_clip(pcm)  # raises unless equal
            q_emb = q[0] if heads else q
            scored = f", and the scores of {len(heads)} head(s)" if heads else ""
            print(f"{path}: equal to the reference board ({len(np.atleast_2d(q_emb))} embedding(s) of "
                  f"{q_emb.shape[-1]} values{scored}, byte for byte)")
        else:
            with file_progress(path, stream.seconds) as progress:
                # A too-short clip is the windowing's error on every board (exporter/float_model/windows.py).
                q = embed_clip(stream.pcm16(), progress=progress)
        n_windows = len(q[0] if heads else q)  # with heads: (integers, {head name: logits})
        return q, (None if args.mode == "scene" else timestamps_ms(n_windows))

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
