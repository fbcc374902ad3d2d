"""Reading audio files and the float -> int16 conversion the device sees.

``load_audio`` reads a whole file; ``AudioStream`` reads it block by block (the same samples,
in bounded memory: `embed` and `run` stream files of any length through it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

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

    path = _check_path(path)
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


def _check_path(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    if os.path.isdir(path):
        raise UserError(f"{path}: is a folder, not an audio file")
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such audio file")
    return path


# Frames read from the file at a time: a stream holds a few blocks, whatever the file's length.
BLOCK_FRAMES = 1 << 16


class AudioStream:
    """An audio file as float32 mono blocks at 32 kHz: the samples of ``load_audio(path)``, in
    order, without ever holding the whole file (channels are averaged frame by frame, and soxr's
    stream resampler gives its one-shot result exactly; tests/test_audio.py checks both).

    ``seconds`` is the duration from the file's header (for progress bars). Every iteration reads
    the file again. Errors are UserErrors naming the file: the path and header when the stream is
    made, the samples (unreadable, NaN or infinite, none at all) as they are read.
    """

    def __init__(self, path: str | os.PathLike, block_frames: int = BLOCK_FRAMES):
        import soundfile as sf

        self.path = _check_path(path)
        try:
            info = sf.info(self.path)
        except Exception as e:  # libsndfile reports corrupt/unknown formats as several exception types
            raise UserError(f"{self.path}: cannot read audio ({e})") from None
        self.rate, self.block_frames = int(info.samplerate), block_frames
        if self.rate <= 0:
            raise UserError(f"{self.path}: cannot read audio (sample rate {self.rate})")
        self.seconds = info.frames / self.rate

    def _file_blocks(self) -> Iterator[np.ndarray]:
        import soundfile as sf

        try:
            f = sf.SoundFile(self.path)
        except Exception as e:
            raise UserError(f"{self.path}: cannot read audio ({e})") from None
        with f:
            while True:
                try:
                    data = f.read(self.block_frames, dtype="float32", always_2d=True)
                except Exception as e:
                    raise UserError(f"{self.path}: cannot read audio ({e})") from None
                if data.shape[0] == 0:
                    return
                yield data

    def __iter__(self) -> Iterator[np.ndarray]:
        import soxr

        resampler = None
        if self.rate != SAMPLE_RATE:
            resampler = soxr.ResampleStream(self.rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        read = 0
        for data in self._file_blocks():
            x = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
            # load_audio's message; past the first block, where the bad samples start
            check_audio(x, self.path if read == 0 else f"{self.path} (from {read / self.rate:.1f} s)")
            read += x.size
            if resampler is not None:
                x = resampler.resample_chunk(x)
            if x.size:
                yield np.ascontiguousarray(x, dtype=np.float32)
        if read == 0:
            raise UserError(f"{self.path}: the file contains no audio samples")
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            if tail.size:
                yield np.ascontiguousarray(tail, dtype=np.float32)

    def pcm16(self) -> Iterator[np.ndarray]:
        """The blocks as the device receives them (``to_pcm16``)."""
        return (to_pcm16(x) for x in self)


def counted(blocks: Iterable[np.ndarray], progress: Callable[[int], None] | None) -> Iterator[np.ndarray]:
    """``blocks`` unchanged, calling ``progress(samples so far)`` as each one is taken."""
    done = 0
    for b in blocks:
        done += len(b)
        if progress is not None:
            progress(done)
        yield b


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] -> int16 as the device receives it: clip(rint(x * 32768))."""
    x = check_audio(x)
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)
