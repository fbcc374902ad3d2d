"""The reference board: frontend twin (numpy) + integer ONNX model (ONNX Runtime) + qembed.

The bit-exact model every other board is compared with. See exporter/boards/__init__.py for the API.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from exporter.reference import onnx_int
from exporter.quantization import qembed
from exporter.audio.files import counted
from exporter.boards import pcm_blocks
from exporter.errors import UserError
from exporter.manifest import load_export
from exporter.float_model.windows import stream_scene_windows, stream_timestamp_windows

MODEL_FILE = "model_int.onnx"


def _window_embeddings(sess, windows) -> np.ndarray:
    """[n_windows, D] int16 of the windows, one at a time (a stream of windows: one held at a time)."""
    from exporter.frontend.fixed import logmel_q12

    out = []
    for w in windows:
        mel = logmel_q12(np.ascontiguousarray(w, dtype=np.int16))
        out.append(qembed.window_embedding(mel, onnx_int.run(sess, mel)))
    return np.stack(out)


def embedder(mode: str, export_dir: Path) -> Callable[[np.ndarray], np.ndarray]:
    export_dir = Path(export_dir)
    load_export(export_dir)  # an export folder of this tool version
    if mode not in ("scene", "timestamp"):
        raise UserError(f"unknown mode {mode!r}: scene or timestamp")
    model = export_dir / MODEL_FILE
    if not model.is_file():
        raise UserError(f"{export_dir} is not a complete export folder: {model} is missing")
    try:
        sess = onnx_int.session(str(model))
    except Exception as e:  # onnxruntime reports a damaged model as several exception types
        raise UserError(f"{model} is damaged ({str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}): "
                        f"export again") from None

    def embed(clip, progress=None) -> np.ndarray:
        blocks = counted(pcm_blocks(clip), progress)  # windows are cut as the blocks come
        if mode == "scene":
            return qembed.average_windows(_window_embeddings(sess, stream_scene_windows(blocks)))
        return _window_embeddings(sess, stream_timestamp_windows(blocks))

    return embed


HEADS_MODEL_FILE = "heads_int.onnx"


def scores_embedder(mode: str, export_dir: Path):
    """clip -> (integers as ``embedder``, {head name: int8 logits}) with the integer ONNX model of
    the export's task heads (heads_int.onnx) on the embeddings, as the firmware runs them."""
    embed = embedder(mode, export_dir)
    model = Path(export_dir) / HEADS_MODEL_FILE
    if not model.is_file():
        raise UserError(f"{export_dir} has no task heads ({model} is missing): export with --head HEAD_DIR")
    sess = onnx_int.session(str(model))

    def run(clip, progress=None):
        q = embed(clip, progress)
        rows = [onnx_int.run_heads(sess, e) for e in np.atleast_2d(q)]
        scores = {n: np.stack([r[n] for r in rows]) for n in rows[0]}
        return q, {n: (v[0] if q.ndim == 1 else v) for n, v in scores.items()}

    return run


def embed_clips(clips: list[np.ndarray], mode: str, export_dir: Path) -> list[np.ndarray]:
    from exporter.boards import embed_clips

    return embed_clips("reference", clips, mode, export_dir)
