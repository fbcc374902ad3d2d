"""Boards: where the integer embeddings are computed (``python -m exporter run --board NAME``).

Every board is a module ``exporter.boards.<name>`` (``-`` in the board name
becomes ``_``: ``qemu-an386`` -> ``exporter.boards.qemu_an386``) with one function::

    embedder(mode: str, export_dir: Path) -> Callable[[np.ndarray], np.ndarray]

- ``mode``: ``"scene"`` or ``"timestamp"``; windows come from ``exporter/float_model/windows.py``.
- ``export_dir``: an export folder of ``python -m exporter export`` (graph.json/npz,
  model_int.onnx, C sources).
- ``embedder`` does the preparation once (load the ONNX model, build the firmware)
  and returns ``embed(clip, progress=None)``: ``clip`` is int16 PCM at 32 kHz, a 1-D
  array (``exporter.audio.files.to_pcm16``) or an iterable of 1-D int16 blocks (a long file
  streamed: ``exporter.audio.files.AudioStream(path).pcm16()``), which the board takes in
  bounded memory; ``progress(samples done)``, if given, is called now and then. The
  result is the clip's integer embeddings
  ``[L (int16 Q12) | taps (int8)]`` (docs/int8-graph.md, last section) as int16:
  shape [D] in scene mode (the windows' integers averaged with
  ``exporter.quantization.qembed.average_windows``), [n_ts, D] in timestamp mode. Dequantize
  with ``exporter.quantization.qembed.dequantize``.
- Errors raise ``exporter.errors.UserError``: from ``embedder`` for the whole
  batch (a bad export folder), from ``embed`` for that clip only (too short, too
  long for the board, a firmware fault), so `run` skips just that file.

``embed_clips(board, clips, mode, export_dir)`` below (and each module's
``embed_clips(clips, mode, export_dir)``) embeds a list of clips.

Every board must return the same integers for the same clips and export: the
``reference`` board (ONNX Runtime, exporter/boards/reference.py) is the one the
others are compared with, byte for byte.

What the firmware boards share: ``cmake_build`` (configure and build the CMake tree),
``firmware_runner`` (build, run, decode) and ``uart_protocol`` (the frames the firmware sends).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator

import numpy as np

BOARDS = ("reference", "host", "qemu-an386", "qemu-netduinoplus2")
MODES = ("scene", "timestamp")


def board_module(name: str):
    """The module of board ``name``."""
    from exporter.errors import UserError

    if name not in BOARDS:
        raise UserError(f"unknown board {name!r}: choose one of {', '.join(BOARDS)}")
    return importlib.import_module(f"exporter.boards.{name.replace('-', '_')}")


def pcm_blocks(clip: np.ndarray | Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """A clip as the boards take it (an int16 1-D array, or an iterable of them) -> its blocks, checked."""
    from exporter.errors import UserError

    for block in [clip] if isinstance(clip, np.ndarray) else clip:
        block = np.asarray(block)
        if block.dtype != np.int16 or block.ndim != 1:
            raise UserError(f"expected int16 mono PCM, got {block.dtype} of shape {block.shape}")
        yield block


def embed_clips(board: str, clips: list, mode: str, export_dir) -> list:
    """The integers of every clip on ``board`` (the first failing clip raises)."""
    embed = board_module(board).embedder(mode, export_dir)
    return [embed(clip) for clip in clips]


def scores_embedder(board: str, mode: str, export_dir):
    """For an export with task heads: int16 clip -> (the integers, {head name: int8 logits}); the
    firmware boards report the scores the device computed (its `scores` frames)."""
    if board == "reference":
        from exporter.boards import reference

        return reference.scores_embedder(mode, export_dir)
    from exporter.boards import firmware_runner

    board_module(board)
    return firmware_runner.embedder(board, mode, export_dir, with_scores=True)
