"""QEMU netduinoplus2 (STM32F405, image linked for 128 KiB SRAM): the firmware in the emulator, audio by semihosting, USART1 out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exporter import firmware_runner

BOARD = "qemu-netduinoplus2"


def embed_clips(clips: list[np.ndarray], mode: str, export_dir: Path) -> list[np.ndarray]:
    return firmware_runner.embed_clips(BOARD, clips, mode, export_dir)
