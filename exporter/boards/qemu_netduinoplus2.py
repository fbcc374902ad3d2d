"""QEMU netduinoplus2 (STM32F405, image linked for 128 KiB SRAM): the firmware in the emulator, audio by semihosting, USART1 out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from exporter.boards import firmware_runner

BOARD = "qemu-netduinoplus2"


def embedder(mode: str, export_dir: Path) -> Callable[[np.ndarray], np.ndarray]:
    return firmware_runner.embedder(BOARD, mode, export_dir)


def embed_clips(clips: list[np.ndarray], mode: str, export_dir: Path) -> list[np.ndarray]:
    from exporter.boards import embed_clips

    return embed_clips(BOARD, clips, mode, export_dir)
