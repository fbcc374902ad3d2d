"""How a clip is cut into network windows: the HEAR wrapper's definitions.

One implementation for every board (float PyTorch model, integer reference,
C on the host, firmware in QEMU), so that all of them embed the same windows.

- Scene: a clip of up to 10 s (320,000 samples) is one window. A longer clip is
  reflect-padded by 5 s on each side and cut into 10 s windows every 2.5 s; the
  scene embedding is the mean over windows.
- Timestamp: reflect-pad by 2,560 samples on each side, then 160 ms windows
  (5,120 samples) every 50 ms; timestamp i is at 50*i ms (the window centre).

``scene_windows`` / ``timestamp_windows`` cut a clip held in memory; ``stream_scene_windows`` /
``stream_timestamp_windows`` cut the same windows from a stream of blocks (a long file read
piece by piece), holding about one window and its padding, whatever the clip's length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from exporter import SAMPLE_RATE
from exporter.errors import UserError

SCENE_MAX_SAMPLES = 10 * SAMPLE_RATE  # 320,000: one pass up to 10 s
SCENE_HOP = SAMPLE_RATE * 2500 // 1000  # 80,000
SCENE_PAD = SCENE_MAX_SAMPLES // 2  # 160,000
TS_WINDOW = SAMPLE_RATE * 160 // 1000  # 5,120
TS_HOP = SAMPLE_RATE * 50 // 1000  # 1,600
TS_PAD = TS_WINDOW // 2  # 2,560

# The log-mel's centred STFT reflect-pads the pre-emphasised signal by 512
# samples, which needs at least 513 of them (514 audio samples).
MIN_CLIP_SAMPLES = 514


def _check_length(n: int, needed: int, what: str) -> None:
    if n < needed:
        raise UserError(
            f"clip of {n} samples ({n / SAMPLE_RATE * 1000:.1f} ms) is too short for {what}: "
            f"at least {needed} samples ({needed / SAMPLE_RATE * 1000:.1f} ms at 32 kHz) are needed"
        )


def check_clip_length(n: int, mode: str) -> None:
    """The error ``timestamp_windows`` / ``scene_windows`` give a clip of ``n`` samples too short for ``mode``."""
    if mode == "timestamp":
        _check_length(n, TS_PAD + 1, "timestamp embeddings (reflect padding of 80 ms)")
    else:
        _check_length(n, MIN_CLIP_SAMPLES, "a log-mel spectrogram")


def _unfold(padded: np.ndarray, n_windows: int, window: int, hop: int) -> np.ndarray:
    """[..., n] -> [..., n_windows, window], a read-only view (no copy: an hour of
    audio would otherwise become gigabytes of overlapping windows)."""
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)
    return view[..., : (n_windows - 1) * hop + 1 : hop, :]


def timestamp_windows(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Timestamp windows of ``audio`` (shape [..., n]).

    Returns (windows [..., n_ts, 5120], timestamps_ms float32 [n_ts]) with
    n_ts = n // 1600 + 1. Reflect padding needs n > 2560 samples.
    """
    audio = np.asarray(audio)
    n = audio.shape[-1]
    check_clip_length(n, "timestamp")
    pad = [(0, 0)] * (audio.ndim - 1) + [(TS_PAD, TS_PAD)]
    padded = np.pad(audio, pad, mode="reflect")
    n_ts = n // TS_HOP + 1
    return _unfold(padded, n_ts, TS_WINDOW, TS_HOP), timestamps_ms(n_ts)


def timestamps_ms(n_ts: int) -> np.ndarray:
    """The window centres of ``n_ts`` timestamp windows, ms, float32: 0, 50, 100, ..."""
    return (np.arange(n_ts, dtype=np.float64) * TS_HOP * 1000.0 / SAMPLE_RATE).astype(np.float32)


def scene_windows(audio: np.ndarray) -> np.ndarray:
    """Scene windows of ``audio`` (shape [..., n]): [..., n_windows, window_len].

    Up to 10 s: one window, the whole clip. Longer: n // 80000 + 1 windows of
    10 s on the clip reflect-padded by 5 s on each side.
    """
    audio = np.asarray(audio)
    n = audio.shape[-1]
    check_clip_length(n, "scene")
    if n <= SCENE_MAX_SAMPLES:
        return audio[..., None, :].copy()
    pad = [(0, 0)] * (audio.ndim - 1) + [(SCENE_PAD, SCENE_PAD)]
    padded = np.pad(audio, pad, mode="reflect")
    return _unfold(padded, n // SCENE_HOP + 1, SCENE_MAX_SAMPLES, SCENE_HOP)


# ---- the same windows from a stream of blocks -----------------------------------------------


def _head(blocks: Iterator[np.ndarray], k: int) -> tuple[np.ndarray, bool]:
    """At least the first ``k`` samples of the stream (all of it if it is shorter), and whether it ended."""
    parts, n = [], 0
    for b in blocks:
        parts.append(np.asarray(b))
        n += len(b)
        if n >= k:
            return np.concatenate(parts), False
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), True


def _reflect_padded(head: np.ndarray, rest: Iterator[np.ndarray], pad: int) -> Iterator[np.ndarray]:
    """The stream ``head, *rest`` reflect-padded by ``pad`` samples on each side, in blocks, as
    ``np.pad(mode="reflect")`` pads it (``len(head) > pad``). Only the last ``pad + 1`` samples
    are held back: the right reflection is made of them once the stream ends."""
    yield head[pad:0:-1]
    tail = head
    for b in rest:
        tail = np.concatenate([tail, b])
        if len(tail) > pad + 1:
            yield tail[: len(tail) - pad - 1]
            tail = tail[len(tail) - pad - 1 :]
    yield tail
    yield tail[-2::-1][:pad]


def _cut(blocks: Iterable[np.ndarray], window: int, hop: int) -> Iterator[np.ndarray]:
    """Every whole window of ``window`` samples, ``hop`` apart, of the concatenated blocks."""
    buf = None
    for b in blocks:
        buf = b if buf is None else np.concatenate([buf, b])
        while len(buf) >= window:
            yield buf[:window]  # a view: buf is replaced, never written
            buf = buf[hop:]


def stream_timestamp_windows(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """The windows of ``timestamp_windows`` of the concatenated 1-D ``blocks``, one at a time
    (the i-th at ``timestamps_ms``'s i-th centre). A clip too short is the same error, raised
    before the first window."""
    blocks = iter(blocks)
    head, _ = _head(blocks, TS_PAD + 1)
    check_clip_length(len(head), "timestamp")
    yield from _cut(_reflect_padded(head, blocks, TS_PAD), TS_WINDOW, TS_HOP)


def stream_scene_windows(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """The windows of ``scene_windows`` of the concatenated 1-D ``blocks``, one at a time: the
    whole clip up to 10 s, else the 10 s windows of the padded clip. Too short: the same error."""
    blocks = iter(blocks)
    head, ended = _head(blocks, SCENE_MAX_SAMPLES + 1)
    if ended:  # up to 10 s: one window, the whole clip
        check_clip_length(len(head), "scene")
        yield head
        return
    yield from _cut(_reflect_padded(head, blocks, SCENE_PAD), SCENE_MAX_SAMPLES, SCENE_HOP)


def batched(windows: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Consecutive windows stacked into arrays of ``size`` (the last one may be smaller)."""
    batch = []
    for w in windows:
        batch.append(w)
        if len(batch) == size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)
