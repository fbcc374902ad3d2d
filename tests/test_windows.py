"""exporter/windows.py: the HEAR wrapper's windows, counts and timestamps."""

import numpy as np
import pytest

from exporter.errors import UserError
from exporter.windows import (
    SCENE_HOP,
    SCENE_MAX_SAMPLES,
    SCENE_PAD,
    TS_HOP,
    TS_PAD,
    TS_WINDOW,
    scene_windows,
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
