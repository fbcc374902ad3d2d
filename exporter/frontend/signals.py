"""Test signals for the frontend's exactness tests and accuracy benchmark: int16 PCM at
32 kHz, each class at a given level (dBFS of the peak), deterministic for a seed."""

from __future__ import annotations

import numpy as np

from exporter import SAMPLE_RATE

FULL = 32767.0


def _scale(x: np.ndarray, level_db: float) -> np.ndarray:
    peak = np.max(np.abs(x))
    x = x / peak if peak > 0 else x
    return np.clip(np.rint(x * FULL * 10.0 ** (level_db / 20.0)), -32768, 32767).astype(np.int16)


def white(n, level_db, rng):
    return _scale(rng.standard_normal(n), level_db)


def pink(n, level_db, rng):
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    return _scale(np.fft.irfft(spec / np.sqrt(f), n), level_db)


def sweep(n, level_db, rng):
    """Exponential sine sweep 50 Hz -> 15 kHz."""
    t = np.arange(n) / SAMPLE_RATE
    dur = n / SAMPLE_RATE
    f0, f1 = 50.0, 15000.0
    k = np.log(f1 / f0)
    phase = 2 * np.pi * f0 * dur / k * (np.exp(t / dur * k) - 1.0)
    return _scale(np.sin(phase + rng.uniform(0, 2 * np.pi)), level_db)


def speech_like(n, level_db, rng):
    """Harmonics of a gliding 120-220 Hz voice, amplitude-modulated at 4 Hz, with 1/h roll-off."""
    t = np.arange(n) / SAMPLE_RATE
    f0 = 170.0 + 50.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    x = sum(np.sin(h * phase) / h for h in range(1, 40) if h * 220 < 15000)
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 2 * np.pi))
    return _scale(x * env, level_db)


def silence(n, level_db, rng):
    return np.zeros(n, dtype=np.int16)


def dc(n, level_db, rng):
    return _scale(np.ones(n), level_db)


def square(n, level_db, rng):
    t = np.arange(n) / SAMPLE_RATE
    return _scale(np.sign(np.sin(2 * np.pi * 997.0 * t + 0.1)), level_db)


def clipped(n, level_db, rng):
    """A 440 Hz + 3 kHz tone driven 12 dB into clipping, then set to the level."""
    t = np.arange(n) / SAMPLE_RATE
    x = np.clip(4.0 * (np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 3000 * t)), -1.0, 1.0)
    return _scale(x, level_db)


def impulses(n, level_db, rng):
    x = np.zeros(n)
    x[rng.integers(0, n, size=max(1, n // 4000))] = 1.0
    x[:: SAMPLE_RATE // 10] = -1.0
    return _scale(x, level_db)


def random_int16(n, level_db, rng):
    """Uniform random samples over the whole int16 range (level ignored)."""
    return rng.integers(-32768, 32768, size=n).astype(np.int16)


CLASSES = {
    "white": white,
    "pink": pink,
    "sweep": sweep,
    "speech_like": speech_like,
    "silence": silence,
    "dc": dc,
    "square": square,
    "clipped": clipped,
    "impulses": impulses,
    "random_int16": random_int16,
}
LEVELS_DB = (-60.0, -40.0, -20.0, -6.0, 0.0)


def make(name: str, n: int, level_db: float = 0.0, seed: int = 0) -> np.ndarray:
    return CLASSES[name](n, level_db, np.random.default_rng(seed))
