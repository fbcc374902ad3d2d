"""exporter/float_model/windows.py: the HEAR wrapper's windows, counts and timestamps."""

import numpy as np
import pytest

from exporter.errors import UserError
from exporter.float_model.windows import (
    SCENE_HOP,
    SCENE_MAX_SAMPLES,
    SCENE_PAD,
    TS_HOP,
    TS_PAD,
    TS_WINDOW,
    batched,
    scene_windows,
    stream_scene_windows,
    stream_timestamp_windows,
    timestamp_windows,
)


@pytest.mark.parametrize("n", [TS_PAD + 1, 5119, 5120, 96000, 96001, 97599])
def test_timestamp_windows_are_reflect_padded_slices(n):
    audio = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    windows, ts = timestamp_windows(audio)
    padded = np.pad(audio, TS_PAD, mode="reflect")
    assert windows.shape == (n // TS_HOP + 1, TS_WINDOW)
    for i in range(len(windows)):
        np.testing.assert_array_equal(windows[i], padded[i * TS_HOP : i * TS_HOP + TS_WINDOW])
    np.testing.assert_array_equal(ts, 50.0 * np.arange(len(windows), dtype=np.float32))
    assert ts.dtype == np.float32


def test_timestamp_windows_batch_axis():
    audio = np.arange(2 * 8000, dtype=np.float32).reshape(2, 8000)
    windows, _ = timestamp_windows(audio)
    assert windows.shape == (2, 6, TS_WINDOW)
    np.testing.assert_array_equal(windows[1], timestamp_windows(audio[1])[0])


def test_scene_up_to_ten_seconds_is_one_window():
    audio = np.arange(SCENE_MAX_SAMPLES, dtype=np.float32)
    windows = scene_windows(audio)
    assert windows.shape == (1, SCENE_MAX_SAMPLES)
    np.testing.assert_array_equal(windows[0], audio)


def test_scene_longer_than_ten_seconds():
    n = SCENE_MAX_SAMPLES + 1
    audio = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    windows = scene_windows(audio)
    padded = np.pad(audio, SCENE_PAD, mode="reflect")
    assert windows.shape == (n // SCENE_HOP + 1, SCENE_MAX_SAMPLES)
    for i in range(len(windows)):
        np.testing.assert_array_equal(windows[i], padded[i * SCENE_HOP : i * SCENE_HOP + SCENE_MAX_SAMPLES])


def test_too_short_clips_get_a_clear_error():
    with pytest.raises(UserError, match="too short for timestamp"):
        timestamp_windows(np.zeros(TS_PAD))
    with pytest.raises(UserError, match="too short for a log-mel"):
        scene_windows(np.zeros(513))


def _blocks(audio: np.ndarray, sizes: list[int]):
    """``audio`` cut into blocks of the given sizes, cycling through them (a file read piece by piece)."""
    out, i, k = [], 0, 0
    while i < len(audio):
        out.append(audio[i : i + sizes[k % len(sizes)]])
        i += sizes[k % len(sizes)]
        k += 1
    return out


# Lengths around every boundary of the windowing: the shortest clips, whole hops and windows,
# 10 s and 10 s + 1 sample, and a few odd ones; blocks smaller and larger than a window.
TS_LENGTHS = [TS_PAD + 1, TS_PAD + 2, TS_WINDOW - 1, TS_WINDOW, TS_WINDOW + TS_HOP, 96000, 96001, 97599, 250_003]
SCENE_LENGTHS = [514, 5000, SCENE_MAX_SAMPLES, SCENE_MAX_SAMPLES + 1, SCENE_MAX_SAMPLES + SCENE_HOP - 1,
                 SCENE_MAX_SAMPLES + SCENE_HOP, 5 * SCENE_HOP + 12_345, 1_300_001]
BLOCKS = [[1], [7, 3000], [65536], [SCENE_PAD + 1], [10**7]]


# one-sample blocks on short clips only (a Python call per sample is slow)
TS_CASES = [(n, sizes) for sizes in BLOCKS for n in TS_LENGTHS if not (sizes == [1] and n > 10_000)]


@pytest.mark.parametrize("n, sizes", TS_CASES, ids=str)
def test_streamed_timestamp_windows_equal_whole_clip(n, sizes):
    audio = np.random.default_rng(n).integers(-32768, 32768, n).astype(np.int16)
    whole, _ = timestamp_windows(audio)
    got = list(stream_timestamp_windows(_blocks(audio, sizes)))
    assert len(got) == len(whole) == n // TS_HOP + 1
    for w, expected in zip(got, whole):
        assert w.dtype == np.int16 and w.tobytes() == expected.tobytes()


@pytest.mark.parametrize("sizes", BLOCKS[1:], ids=str)
@pytest.mark.parametrize("n", SCENE_LENGTHS)
def test_streamed_scene_windows_equal_whole_clip(n, sizes):
    audio = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    whole = scene_windows(audio)
    got = list(stream_scene_windows(_blocks(audio, sizes)))
    assert len(got) == len(whole)
    for w, expected in zip(got, whole):
        assert w.dtype == np.float32 and w.tobytes() == expected.tobytes()


def test_streamed_windows_hold_about_one_window():
    """Bounded memory: the windows of a long stream come from buffers of about a window and
    its padding, not from the whole clip (a 200 s clip in 1 s blocks)."""
    block = np.zeros(32000, np.float32)
    blocks = (block for _ in range(200))
    largest = 0
    for w in stream_scene_windows(blocks):
        base = w
        while base.base is not None:
            base = base.base
        largest = max(largest, base.size)
    assert largest <= SCENE_MAX_SAMPLES + SCENE_PAD + 2 * 32000


def test_streamed_too_short_clips_get_the_same_error():
    for n, stream, whole in [(TS_PAD, stream_timestamp_windows, timestamp_windows), (513, stream_scene_windows, scene_windows),
                             (0, stream_scene_windows, scene_windows)]:
        audio = np.zeros(n, np.int16)
        with pytest.raises(UserError) as expected:
            whole(audio)
        with pytest.raises(UserError) as got:
            next(stream(_blocks(audio, [100])))
        assert str(got.value) == str(expected.value)


def test_batched():
    windows = [np.full(3, i) for i in range(7)]
    batches = list(batched(iter(windows), 3))
    assert [b.shape for b in batches] == [(3, 3), (3, 3), (1, 3)]
    np.testing.assert_array_equal(np.concatenate(batches), np.stack(windows))
