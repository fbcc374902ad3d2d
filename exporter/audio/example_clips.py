"""Deterministic example clips (float32 in [-1, 1], 32 kHz) made by the project itself:
for the firmware tests, the benchmark and the CI demo (ci/main-job.sh).

Not realistic audio, but each exercises the frontend and the network differently:
voiced harmonics with formants and pauses, tonal notes with onsets, broadband noise,
digital silence, and a square wave clipped at full scale.
"""

from __future__ import annotations

import numpy as np

from exporter import SAMPLE_RATE


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(round(seconds * SAMPLE_RATE))) / SAMPLE_RATE


def speech_like(seconds: float = 1.2, seed: int = 0) -> np.ndarray:
    """Glottal-pulse harmonics (f0 110-200 Hz) shaped by moving formants, in 4 Hz syllables with pauses."""
    rng = np.random.default_rng(seed)
    t = _t(seconds)
    f0 = 150 + 40 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    formants = [(500 + 200 * np.sin(2 * np.pi * 2.1 * t), 80), (1500 + 400 * np.sin(2 * np.pi * 1.3 * t), 120),
                (2500, 200)]
    x = np.zeros_like(t)
    for k in range(1, 40):
        fk = k * f0
        gain = sum(np.exp(-0.5 * ((fk - fc) / bw) ** 2) for fc, bw in formants) / k**0.5
        x += gain * np.sin(k * phase)
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t), 0, None) ** 2
    pauses = (np.sin(2 * np.pi * 0.9 * t) > -0.6).astype(float)
    x *= syllables * pauses
    x += 0.01 * rng.standard_normal(t.size)  # breath
    return (0.5 * x / max(np.abs(x).max(), 1e-9)).astype(np.float32)


def music_like(seconds: float = 1.2, seed: int = 1) -> np.ndarray:
    """An arpeggio of harmonic notes with decaying envelopes over a bass note, plus a kick every 0.5 s."""
    rng = np.random.default_rng(seed)
    t = _t(seconds)
    notes = 220.0 * 2 ** (np.array([0, 3, 7, 12, 15, 12, 7, 3]) / 12)
    step = 0.15
    x = 0.3 * np.sin(2 * np.pi * 110 * t) * (1 + 0.2 * np.sin(2 * np.pi * 0.5 * t))
    for i, f in enumerate(notes[rng.permutation(len(notes))]):
        for start in np.arange(i * step, seconds, len(notes) * step):
            tt = t - start
            on = tt >= 0
            env = np.where(on, np.exp(-np.clip(tt, 0, None) * 6), 0.0)
            x += env * sum(np.sin(2 * np.pi * f * h * tt) / h for h in (1, 2, 3, 4))
    beat = np.mod(t, 0.5)
    x += 0.8 * np.exp(-beat * 30) * np.sin(2 * np.pi * (60 + 80 * np.exp(-beat * 40)) * beat)
    return (0.6 * x / np.abs(x).max()).astype(np.float32)


def noise(seconds: float = 1.2, seed: int = 2) -> np.ndarray:
    """White Gaussian noise, std 0.25."""
    return np.clip(0.25 * np.random.default_rng(seed).standard_normal(_t(seconds).size), -1, 1).astype(np.float32)


def silence(seconds: float = 1.2) -> np.ndarray:
    return np.zeros(_t(seconds).size, dtype=np.float32)


def full_scale(seconds: float = 1.2) -> np.ndarray:
    """A 441 Hz square wave at full scale (±1: clips to -32768 / 32767 as int16)."""
    t = _t(seconds)
    return np.where(np.sin(2 * np.pi * 441 * t) >= 0, 1.0, -1.0).astype(np.float32)


CLIPS = {"speech": speech_like, "music": music_like, "noise": noise, "silence": silence, "full_scale": full_scale}
