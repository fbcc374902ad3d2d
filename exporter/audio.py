"""Reading audio files and the float -> int16 conversion the device sees."""

from __future__ import annotations

import os

import numpy as np

from exporter import SAMPLE_RATE
from exporter.errors import UserError


def check_audio(x: np.ndarray, name: str = "audio") -> np.ndarray:
    """Reject empty audio and NaN/inf samples; returns ``x`` unchanged."""
    x = np.asarray(x)
    if x.size == 0:
        raise UserError(f"{name}: no audio samples")
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise UserError(f"{name}: {bad} sample(s) are NaN or infinite")
    return x


def load_audio(path: str | os.PathLike) -> np.ndarray:
    """Any file soundfile reads (wav, flac, ogg; int or float) -> float32 mono at 32 kHz.

    Channels are averaged; other rates are resampled with soxr (high quality).
    """
    import soundfile as sf
    import soxr

    path = os.fspath(path)
    if os.path.isdir(path):
        raise UserError(f"{path}: is a folder, not an audio file")
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such audio file")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile reports corrupt/unknown formats as several exception types
        raise UserError(f"{path}: cannot read audio ({e})") from None
    if data.shape[0] == 0:
        raise UserError(f"{path}: the file contains no audio samples")
    x = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    check_audio(x, path)
    if rate != SAMPLE_RATE:
        x = soxr.resample(x, rate, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
    return np.ascontiguousarray(x, dtype=np.float32)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] -> int16 as the device receives it: clip(rint(x * 32768))."""
    x = check_audio(x)
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)
