"""Built-in audio for calibration and the fidelity report: deterministic synthetic sound scenes.

No recordings ship with the exporter, so it makes its own: what the network meets in the field,
by kind -- speech (voiced syllables with formants, fricatives and plosives, several voices),
music (instruments with different spectra and envelopes, chords, drums), environmental sounds
(rain, wind, engines, birds, knocks, sirens, alarms, footsteps, applause), noise of several
colours, near-silence, and mixtures of them -- at levels from -40 to 0 dBFS, loud passages
clipped. Each kind is its own generator; a clip's kind and parameters come from a seeded
generator, so a seed names a clip exactly (calibration and held-out sets use disjoint seeds).

Everything is vectorised numpy (harmonic sums, FFT-domain filters): a few ms per second of audio.
"""

from __future__ import annotations

import numpy as np

from exporter import SAMPLE_RATE

SR = SAMPLE_RATE
KINDS = ("speech", "music", "environment", "noise", "mixture", "quiet")
# Share of each kind in a set: the network's input is mostly speech, music and environment.
KIND_WEIGHTS = {"speech": 3, "music": 3, "environment": 4, "noise": 1, "mixture": 2, "quiet": 1}
VOICES = ("male", "female", "child")
INSTRUMENTS = ("plucked", "bowed", "reed", "bell", "organ")
SOURCES = ("rain", "wind", "engine", "birds", "knock", "siren", "alarm", "footsteps", "applause", "water", "glass",
           "dog")
LEVEL_DBFS = (-40.0, 0.0)  # peak level of a clip

# (F1, F2, F3) in Hz of a few vowels (adult male; scaled per voice)
_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480],
                    [660, 1720, 2410], [570, 840, 2410], [440, 1020, 2240], [490, 1350, 1690]], dtype=float)


def _n(seconds: float) -> int:
    return int(round(seconds * SR))


def _bandpass(x: np.ndarray, lo: float, hi: float, slope: float = 0.0) -> np.ndarray:
    """``x`` filtered in the FFT domain to [lo, hi] Hz, with a spectral tilt of ``slope`` (1 = pink)."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / SR)
    gain = ((f >= lo) & (f <= hi)).astype(float)
    if slope:
        gain /= np.maximum(f, 20.0) ** (0.5 * slope)
    return np.fft.irfft(spec * gain, len(x))


def _norm(x: np.ndarray) -> np.ndarray:
    peak = np.abs(x).max()
    return x / peak if peak > 0 else x


def _harmonic(f0: np.ndarray, rng, n_harm: int = 40, tilt: float = 1.0, odd_only: bool = False,
              formants: np.ndarray | None = None, bandwidths=(90.0, 120.0, 180.0)) -> np.ndarray:
    """A harmonic tone on the pitch track ``f0[t]``; amplitude 1/k^tilt, shaped by ``formants[t][3]``."""
    phase = 2 * np.pi * np.cumsum(f0) / SR + rng.uniform(0, 2 * np.pi)
    x = np.zeros_like(f0)
    for k in range(1, n_harm + 1):
        if odd_only and k % 2 == 0:
            continue
        fk = k * f0
        if np.all(fk > SR / 2 - 500):
            break
        a = np.where(fk < SR / 2 - 500, k ** -tilt, 0.0)
        if formants is not None:
            a = a * (0.05 + sum(np.exp(-0.5 * ((fk - formants[:, i]) / bw) ** 2) for i, bw in enumerate(bandwidths)))
        x += a * np.sin(k * phase)
    return x


def _envelope(n: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / SR
    return np.minimum(t / max(attack, 1e-4), 1.0) * np.exp(-t * decay)


def speech(rng: np.random.Generator, seconds: float, variant: int | None = None) -> np.ndarray:
    """Syllables of one voice: voiced vowels on a pitch contour, fricatives, plosives, word pauses."""
    n = _n(seconds)
    voice = VOICES[rng.integers(len(VOICES)) if variant is None else variant % len(VOICES)]
    f0_base = {"male": rng.uniform(85, 150), "female": rng.uniform(160, 260), "child": rng.uniform(240, 340)}[voice]
    formant_scale = {"male": 1.0, "female": 1.17, "child": 1.3}[voice] * rng.uniform(0.95, 1.05)
    x = np.zeros(n)
    pos = int(rng.uniform(0, 0.3) * SR)
    while pos < n:
        if rng.random() < 0.15:  # pause between words
            pos += int(rng.uniform(0.08, 0.4) * SR)
            continue
        # consonant: fricative (band noise) or plosive (short burst)
        if rng.random() < 0.6:
            dur = int(rng.uniform(0.03, 0.12) * SR)
            lo = rng.choice([1500.0, 3000.0, 4500.0])
            seg = _bandpass(rng.standard_normal(dur), lo, min(lo * 2.5, 15000)) * np.hanning(dur)
            end = min(pos + dur, n)
            x[pos:end] += rng.uniform(0.05, 0.4) * _norm(seg)[: end - pos]
            pos = end
        # vowel: glottal harmonics through moving formants
        dur = int(rng.uniform(0.08, 0.3) * SR)
        end = min(pos + dur, n)
        m = end - pos
        if m <= 0:
            break
        t = np.arange(m) / SR
        v0, v1 = _VOWELS[rng.integers(len(_VOWELS))], _VOWELS[rng.integers(len(_VOWELS))]
        mix = np.linspace(0, 1, m)[:, None]
        formants = ((1 - mix) * v0 + mix * v1) * formant_scale
        f0 = f0_base * (1 + rng.uniform(-0.15, 0.15) + rng.uniform(-0.2, 0.2) * t / max(t[-1], 1e-3))
        f0 = f0 * (1 + 0.01 * rng.standard_normal(m).cumsum() / np.sqrt(np.arange(1, m + 1)))  # jitter
        seg = _harmonic(f0, rng, tilt=rng.uniform(0.6, 1.2), formants=formants)
        seg += 0.02 * rng.standard_normal(m)  # breath
        x[pos:end] += _norm(seg * np.hanning(m) ** 0.5) * rng.uniform(0.4, 1.0)
        pos = end
    return x


def music(rng: np.random.Generator, seconds: float, variant: int | None = None) -> np.ndarray:
    """Notes of one or two instruments on a scale, optional chords and a drum pattern."""
    n = _n(seconds)
    x = np.zeros(n)
    beat = 60.0 / rng.uniform(60, 180)
    root = 55.0 * 2 ** (rng.integers(0, 36) / 12)
    scale = [[0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10], [0, 3, 5, 7, 10]][rng.integers(3)]
    for k in range(rng.integers(1, 3)):
        instrument = INSTRUMENTS[variant % len(INSTRUMENTS) if k == 0 and variant is not None
                                 else rng.integers(len(INSTRUMENTS))]
        octave = 2 ** rng.integers(0, 3)
        pos = 0
        while pos < n:
            dur = int(beat * rng.choice([0.5, 1, 1, 2]) * SR)
            m = min(dur, n - pos)
            degrees = [scale[rng.integers(len(scale))]]
            if rng.random() < 0.3:  # chord
                degrees += [degrees[0] + 4, degrees[0] + 7]
            for d in degrees:
                f = root * octave * 2 ** (d / 12)
                t = np.arange(m) / SR
                vib = 1 + (0.006 * np.sin(2 * np.pi * 5.5 * t) if instrument == "bowed" else 0)
                f0 = np.full(m, f) * vib
                if instrument == "bell":  # inharmonic partials
                    tone = sum(np.sin(2 * np.pi * f * r * t) / (i + 1) for i, r in enumerate((1, 2.76, 5.4, 8.93)))
                    env = _envelope(m, 0.002, 3.0)
                else:
                    tone = _harmonic(f0, rng, n_harm=25, tilt={"plucked": 1.3, "bowed": 0.9, "reed": 0.8,
                                                               "organ": 1.5}[instrument],
                                     odd_only=instrument == "reed")
                    env = {"plucked": _envelope(m, 0.003, 6.0), "bowed": _envelope(m, 0.08, 0.5),
                           "reed": _envelope(m, 0.03, 0.8), "organ": _envelope(m, 0.01, 0.0)}[instrument]
                x[pos:pos + m] += tone * env * np.minimum(1.0, (m - np.arange(m)) / (0.01 * SR))
            pos += dur
    x = _norm(x)
    if rng.random() < 0.6:  # drums
        pattern = rng.integers(0, 3, size=8)
        step = int(beat / 2 * SR)
        for i, start in enumerate(range(0, n, step)):
            hit = pattern[i % 8]
            m = min(step, n - start)
            t = np.arange(m) / SR
            if hit == 0:  # kick
                d = np.sin(2 * np.pi * (50 * t + 60 / 25 * (1 - np.exp(-25 * t)))) * np.exp(-t * 12)
            elif hit == 1:  # snare
                d = (0.6 * rng.standard_normal(m) + 0.4 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 20)
            else:  # hi-hat
                d = _bandpass(rng.standard_normal(m), 6000, 15000) * np.exp(-t * 60)
                d = 2 * _norm(d)
            x[start:start + m] += rng.uniform(0.3, 0.8) * d
    return x


def environment(rng: np.random.Generator, seconds: float, variant: int | None = None) -> np.ndarray:
    """One or two everyday sound sources (the first is SOURCES[variant] when given)."""
    n = _n(seconds)
    t = np.arange(n) / SR
    x = np.zeros(n)
    sources = list(rng.choice(SOURCES, size=rng.integers(1, 3), replace=False))
    if variant is not None:
        first = SOURCES[variant % len(SOURCES)]
        sources = [first] + [s for s in sources if s != first][: len(sources) - 1]
    for source in sources:
        if source == "rain":  # dense random drops
            y = np.zeros(n)
            idx = rng.integers(0, n, size=int(rng.uniform(200, 2000) * seconds))
            y[idx] = rng.uniform(-1, 1, size=idx.size)
            y = _bandpass(y, 800, 12000) + 0.3 * _bandpass(rng.standard_normal(n), 200, 8000, slope=1)
        elif source == "wind":
            am = 1 + 0.8 * _norm(_bandpass(rng.standard_normal(n), 0.1, 2))
            y = _bandpass(rng.standard_normal(n), 20, rng.uniform(300, 1500), slope=1) * am
        elif source == "engine":
            f0 = rng.uniform(25, 90) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t))
            y = _harmonic(f0, rng, n_harm=30, tilt=0.7) + 0.3 * _norm(_bandpass(rng.standard_normal(n), 50, 3000, 1))
        elif source == "birds":
            y = np.zeros(n)
            for _ in range(int(rng.uniform(2, 8) * seconds)):
                m = int(rng.uniform(0.05, 0.25) * SR)
                s = rng.integers(0, max(n - m, 1))
                tt = np.arange(m) / SR
                f = rng.uniform(2000, 6000) + rng.uniform(-2000, 2000) * tt / tt[-1]
                y[s:s + m] += np.sin(2 * np.pi * np.cumsum(f) / SR) * np.hanning(m)
        elif source in ("knock", "footsteps", "glass"):
            y = np.zeros(n)
            gap = {"knock": 0.25, "footsteps": 0.5, "glass": 0.8}[source]
            for s in np.arange(rng.uniform(0, gap), seconds, gap * rng.uniform(0.7, 1.3)):
                i = int(s * SR)
                m = min(int(0.4 * SR), n - i)
                tt = np.arange(m) / SR
                if source == "glass":
                    hit = sum(np.sin(2 * np.pi * f * tt) for f in rng.uniform(2500, 9000, size=4)) * np.exp(-tt * 8)
                else:
                    f = rng.uniform(80, 400)
                    hit = (np.sin(2 * np.pi * f * tt) + 0.5 * rng.standard_normal(m) * np.exp(-tt * 80)) * np.exp(-tt * 30)
                y[i:i + m] += hit
        elif source == "siren":
            f = rng.uniform(600, 900) + rng.uniform(200, 600) * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t)
            y = _harmonic(f, rng, n_harm=6, tilt=1.0)
        elif source == "alarm":
            y = np.sin(2 * np.pi * rng.uniform(1500, 4000) * t) * (np.sin(2 * np.pi * rng.uniform(1, 6) * t) > 0)
        elif source == "applause":
            y = np.zeros(n)
            idx = rng.integers(0, n, size=int(rng.uniform(1000, 5000) * seconds))
            y[idx] = rng.standard_normal(idx.size)
            y = _bandpass(np.convolve(y, np.exp(-np.arange(64) / 8), mode="same"), 300, 12000)
        elif source == "water":
            y = _bandpass(rng.standard_normal(n), 200, 4000) * (1 + _norm(_bandpass(rng.standard_normal(n), 2, 20)))
        else:  # dog: short harmonic barks
            y = np.zeros(n)
            for s in np.arange(rng.uniform(0, 0.5), seconds, rng.uniform(0.4, 1.2)):
                i = int(s * SR)
                m = min(int(0.15 * SR), n - i)
                f0 = np.linspace(rng.uniform(400, 700), rng.uniform(250, 400), m)
                y[i:i + m] += (_harmonic(f0, rng, n_harm=15, tilt=0.8) + 0.3 * rng.standard_normal(m)) * np.hanning(m)
        x += rng.uniform(0.3, 1.0) * _norm(y)
    return x


def noise(rng: np.random.Generator, seconds: float, variant: int | None = None) -> np.ndarray:
    """White, pink or brown noise, sometimes band-limited or gated."""
    n = _n(seconds)
    colour = rng.integers(0, 3) if variant is None else variant % 3
    y = _bandpass(rng.standard_normal(n), 0, SR / 2, slope=float(colour))
    if rng.random() < 0.3:
        lo = rng.uniform(50, 4000)
        y = _bandpass(y, lo, lo * rng.uniform(2, 8))
    if rng.random() < 0.3:
        t = np.arange(n) / SR
        y *= (np.sin(2 * np.pi * rng.uniform(0.5, 4) * t) > 0) + 0.05
    return y


def quiet(rng: np.random.Generator, seconds: float, variant: int | None = None) -> np.ndarray:
    """Digital silence or a faint room tone (its level is set low by :func:`clip`)."""
    n = _n(seconds)
    if rng.random() < 0.3:
        return np.zeros(n)
    return _bandpass(rng.standard_normal(n), 20, 8000, slope=1)


def mixture(rng: np.random.Generator, seconds: float, variant: int | None = None) -> np.ndarray:
    """Speech or music over a background, at a signal-to-noise ratio of -5 to 20 dB."""
    fg = (speech if rng.random() < 0.6 else music)(rng, seconds)
    bg = (environment if rng.random() < 0.6 else noise)(rng, seconds)
    snr = rng.uniform(-5, 20)
    rms = lambda v: np.sqrt(np.mean(v ** 2)) + 1e-12  # noqa: E731
    return fg / rms(fg) + bg / rms(bg) * 10 ** (-snr / 20)


GENERATORS = {"speech": speech, "music": music, "environment": environment, "noise": noise,
              "mixture": mixture, "quiet": quiet}


STREAMS = {"calibration": 0xCA1, "held-out": 0x4E1D}  # disjoint random streams: no clip is in both sets


def clip(seed: int, seconds: float, kind: str | None = None, stream: str = "calibration",
         variant: int | None = None) -> tuple[str, np.ndarray]:
    """(kind, float32 clip in [-1, 1]) for ``seed`` of ``stream``: a kind (drawn by its weight unless
    given), its sound (``variant`` picks the voice, first instrument, first source or noise colour in
    turn), then a peak level in LEVEL_DBFS (quiet clips -90..-50 dBFS); a fifth of the loud clips (over
    -6 dBFS) is driven 3-12 dB into clipping, as an overloaded microphone does."""
    rng = np.random.default_rng([seed, STREAMS[stream]])
    if kind is None:
        w = np.array([KIND_WEIGHTS[k] for k in KINDS], dtype=float)
        kind = KINDS[rng.choice(len(KINDS), p=w / w.sum())]
    x = _norm(GENERATORS[kind](rng, seconds, variant))
    level = rng.uniform(-90, -50) if kind == "quiet" else rng.uniform(*LEVEL_DBFS)
    x = x * 10 ** (level / 20)
    if level > -6 and rng.random() < 0.2:
        x = np.clip(x * 10 ** (rng.uniform(3, 12) / 20), -1, 1)
    return kind, x.astype(np.float32)


def _kind_order() -> list[str]:
    """Kinds in turn, in proportion to KIND_WEIGHTS, interleaved: kind k at the positions
    (j + 0.5) / weight_k, j < weight_k."""
    return [k for _, k in sorted(((j + 0.5) / KIND_WEIGHTS[k], k) for k in KINDS for j in range(KIND_WEIGHTS[k]))]


def clip_set(first_seed: int, n: int, seconds: float, stream: str = "calibration",
             stratified: bool = True) -> list[tuple[str, np.ndarray]]:
    """[(name, clip)] for seeds first_seed .. first_seed + n - 1 of ``stream``. ``stratified``: kinds
    in turn, in proportion to KIND_WEIGHTS, and within a kind its voices, instruments, sources and
    noise colours in turn, so that a set spans them all (a source missing from calibration, say
    birdsong, drives later layers beyond their ranges when it comes)."""
    order = _kind_order()
    out, seen = [], {k: 0 for k in KINDS}
    for i in range(n):
        seed = first_seed + i
        kind = order[i % len(order)] if stratified else None
        variant = None
        if kind is not None:
            variant, seen[kind] = seen[kind], seen[kind] + 1
        kind, x = clip(seed, seconds, kind, stream, variant)
        out.append((f"{stream}-{kind}-{seed}", x))
    return out


def pieces(seconds: float, piece_seconds: float = 15.0, first_seed: int = 0, stream: str = "held-out"):
    """Long varied audio, one piece at a time: ``(name, float32 clip)`` of ``piece_seconds``
    (the last one shorter), every kind in turn as in ``clip_set``, ``seconds`` in all. For soak
    tests and the long-audio benchmark: an hour of sound without an hour of it in memory."""
    order = _kind_order()
    total, i = _n(seconds), 0
    while total > 0:
        n = min(total, _n(piece_seconds))
        kind, x = clip(first_seed + i, piece_seconds, order[i % len(order)], stream)
        yield f"{stream}-{kind}-{first_seed + i}", x[:n]
        total -= n
        i += 1
