"""A small labelled demo set the project makes itself: class folders of wav files for `heads train`.

Two tasks, deterministic (a clip is named by its task, class and index, each from its own seeded
random stream, disjoint from the calibration and held-out streams of exporter/audio/synthetic.py):

- ``scenes``: speech / music / noise (single-label), the generators of exporter/audio/synthetic.py
  at random peak levels of -30 to -3 dBFS;
- ``events``: five kinds of sound events (siren, alarm, dog, knock, birds) over faint background
  noise (single-label, class folders), and ``events.csv``: the same kinds, one or two per clip
  (multi-label: ``file,label`` rows, one per label of a file).

``write_demo_set(folder)`` writes ``folder/scenes/<class>/*.wav``, ``folder/events/<class>/*.wav``
and ``folder/events_multi/*.wav`` + ``folder/events_multi.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exporter import SAMPLE_RATE
from exporter.audio import synthetic as sa

SCENE_CLASSES = ("speech", "music", "noise")
EVENT_CLASSES = ("siren", "alarm", "dog", "knock", "birds")
DEMO_STREAM = 0xDE30  # not one of synthetic_audio.STREAMS: no demo clip is a calibration clip
SECONDS = 1.5


def _rng(task: str, label: str, index: int) -> np.random.Generator:
    key = [ord(c) for c in f"{task}/{label}"]
    return np.random.default_rng([DEMO_STREAM, index, *key])


def _event(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """One sound event of ``kind``, ``n`` samples, peak 1."""
    t = np.arange(n) / SAMPLE_RATE
    if kind == "siren":  # a harmonic tone sweeping up and down
        f = rng.uniform(600, 900) + rng.uniform(200, 600) * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t)
        y = sa._harmonic(f, rng, n_harm=6, tilt=1.0)
    elif kind == "alarm":  # a gated pure tone
        y = np.sin(2 * np.pi * rng.uniform(1500, 4000) * t) * (np.sin(2 * np.pi * rng.uniform(2, 6) * t) > 0)
    elif kind == "dog":  # short harmonic barks with falling pitch
        y = np.zeros(n)
        for s in np.arange(rng.uniform(0, 0.2), n / SAMPLE_RATE - 0.1, rng.uniform(0.3, 0.6)):
            i = int(s * SAMPLE_RATE)
            m = min(int(0.15 * SAMPLE_RATE), n - i)
            f0 = np.linspace(rng.uniform(400, 700), rng.uniform(250, 400), m)
            y[i:i + m] += (sa._harmonic(f0, rng, n_harm=15, tilt=0.8) + 0.3 * rng.standard_normal(m)) * np.hanning(m)
    elif kind == "knock":  # damped low resonances, a few per second
        y = np.zeros(n)
        for s in np.arange(rng.uniform(0, 0.2), n / SAMPLE_RATE, rng.uniform(0.18, 0.35)):
            i = int(s * SAMPLE_RATE)
            m = min(int(0.2 * SAMPLE_RATE), n - i)
            tt = np.arange(m) / SAMPLE_RATE
            f = rng.uniform(80, 400)
            y[i:i + m] += (np.sin(2 * np.pi * f * tt) + 0.5 * rng.standard_normal(m) * np.exp(-tt * 80)) * np.exp(-tt * 30)
    elif kind == "birds":  # high chirps
        y = np.zeros(n)
        for _ in range(int(rng.integers(3, 8))):
            m = int(rng.uniform(0.05, 0.2) * SAMPLE_RATE)
            s = int(rng.integers(0, max(n - m, 1)))
            tt = np.arange(m) / SAMPLE_RATE
            f = rng.uniform(2000, 6000) + rng.uniform(-2000, 2000) * tt / tt[-1]
            y[s:s + m] += np.sin(2 * np.pi * np.cumsum(f) / SAMPLE_RATE) * np.hanning(m)
    else:
        raise ValueError(f"unknown event kind {kind!r}")
    return sa._norm(y)


def _level(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (sa._norm(x) * 10 ** (rng.uniform(-30, -3) / 20)).astype(np.float32)


def scene_clip(label: str, index: int, seconds: float = SECONDS) -> np.ndarray:
    rng = _rng("scenes", label, index)
    return _level(sa.GENERATORS[label](rng, seconds), rng)


def event_clip(labels: tuple[str, ...], index: int, seconds: float = SECONDS) -> np.ndarray:
    """The events ``labels`` (summed) over faint pink noise."""
    rng = _rng("events", "+".join(labels), index)
    n = int(round(seconds * SAMPLE_RATE))
    x = sum(rng.uniform(0.5, 1.0) * _event(k, rng, n) for k in labels)
    x = sa._norm(x) + 10 ** (rng.uniform(-40, -20) / 20) * sa._norm(sa.noise(rng, seconds))
    return _level(x, rng)


def _write(path: Path, x: np.ndarray) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, SAMPLE_RATE, subtype="PCM_16")


def write_demo_set(folder: str | Path, per_class: int = 16, seconds: float = SECONDS) -> Path:
    """Write the demo set into ``folder`` (see the module docstring); returns ``folder``."""
    folder = Path(folder)
    for label in SCENE_CLASSES:
        for i in range(per_class):
            _write(folder / "scenes" / label / f"{label}_{i:03d}.wav", scene_clip(label, i, seconds))
    for label in EVENT_CLASSES:
        for i in range(per_class):
            _write(folder / "events" / label / f"{label}_{i:03d}.wav", event_clip((label,), i, seconds))
    # Multi-label: every clip one or two kinds, every kind in about 2 * per_class clips.
    rows = []
    rng = np.random.default_rng([DEMO_STREAM, 0x3017])
    for i in range(len(EVENT_CLASSES) * per_class):
        k = 1 + int(rng.random() < 0.5)
        labels = tuple(sorted(rng.choice(EVENT_CLASSES, size=k, replace=False).tolist()))
        name = f"events_multi/clip_{i:03d}.wav"
        _write(folder / name, event_clip(labels, 1000 + i, seconds))
        rows += [f"{name},{lab}" for lab in labels]
    (folder / "events_multi.csv").write_text("file,label\n" + "\n".join(rows) + "\n")
    return folder
