"""Boards: where the integer embeddings are computed (``python -m exporter run --board NAME``).

Every board is a module ``exporter.boards.<name>`` (``-`` in the board name
becomes ``_``: ``qemu-an386`` -> ``exporter.boards.qemu_an386``) with one function::

    embed_clips(clips: list[np.ndarray], mode: str, export_dir: Path) -> list[np.ndarray]

- ``clips``: int16 PCM at 32 kHz, one 1-D array per clip (``exporter.audio.to_pcm16``).
- ``mode``: ``"scene"`` or ``"timestamp"``; windows come from ``exporter/windows.py``.
- ``export_dir``: an export folder of ``python -m exporter export`` (graph.json/npz,
  model_int.onnx, C sources).
- Returns, per clip, the integer embeddings ``[L (int16 Q12) | taps (int8)]``
  (docs/int8-graph.md, last section) as int16: shape [D] in scene mode (the
  windows' integers averaged with ``exporter.qembed.average_windows``), [n_ts, D]
  in timestamp mode. Dequantize with ``exporter.qembed.dequantize``.
- Errors in the input raise ``exporter.errors.UserError``.

Every board must return the same integers for the same clips and export: the
``reference`` board (ONNX Runtime, exporter/boards/reference.py) is the one the
others are compared with, byte for byte.
"""

from __future__ import annotations

import importlib

BOARDS = ("reference", "host", "qemu-an386", "qemu-netduinoplus2")
MODES = ("scene", "timestamp")


def board_module(name: str):
    """The module of board ``name``."""
    from exporter.errors import UserError

    if name not in BOARDS:
        raise UserError(f"unknown board {name!r}: choose one of {', '.join(BOARDS)}")
    return importlib.import_module(f"exporter.boards.{name.replace('-', '_')}")
