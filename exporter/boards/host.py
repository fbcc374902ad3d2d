"""The host board: the firmware's application built for this machine (gcc), mic from a file, UART bytes to stdout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from exporter.boards import firmware_runner

BOARD = "host"


def embedder(mode: str, export_dir: Path) -> Callable[[np.ndarray], np.ndarray]:
    return firmware_runner.embedder(BOARD, mode, export_dir)


def embed_clips(clips: list[np.ndarray], mode: str, export_dir: Path) -> list[np.ndarray]:
    from exporter.boards import embed_clips

    return embed_clips(BOARD, clips, mode, export_dir)
