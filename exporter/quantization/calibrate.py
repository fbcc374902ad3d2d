"""Activation ranges for the quantizer, observed the way the device sees its input.

Each calibration clip goes int16 PCM -> fixed-point frontend (Q12, the
device's own log-mel) -> dequantized -> the folded float graph
(``exporter.quantization.fold.run_float``); every tensor the integer graph quantizes is
observed. The device runs one graph in two modes, so each clip is seen as both: its scene
window (the whole clip) and a few of its 160 ms timestamp windows, cut as the device cuts them
(``timestamp_windows``). The two groups of windows weigh equally in every choice made from them
(ranges, tap narrowing, bias correction): a 160 ms window is 1/25 of a 4 s one, and counted by
values alone the timestamp mode would hardly be seen. Calibration audio is a folder of audio files or, by default, a
built-in deterministic set of synthetic sound scenes (exporter/audio/synthetic.py:
speech, music, environmental sounds, noise, mixtures, near-silence, at -40..0 dBFS).
Each tensor's range is the narrowing of its min/max with the least quantization
error on the calibration values (or a fixed percentile, if asked). The ranges of the tapped block outputs are then narrowed for the
taps (``tap_ranges``).

Reproducible: the float graph runs in float64 (float32 convolutions round
differently with the thread count) and the final ranges are rounded to
``RANGE_DIGITS`` significant digits, so the same inputs give the same graph
bytes on any machine (what tests/test_generated_current.py checks).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from exporter import SAMPLE_RATE
from exporter.errors import UserError
from exporter.quantization.fold import FloatGraph, run_float

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
DEFAULT_PERCENTILE = None  # None: each tensor's range by least quantization error (mse_range)
DEFAULT_SEED = 0
DEFAULT_CLIPS = 48  # six kinds of sound; every voice, instrument, environmental source and noise colour
DEFAULT_SECONDS = 4.0
DEFAULT_TIMESTAMP_WINDOWS = 3  # 160 ms windows per calibration clip (0: scene windows only)
MAX_SECONDS = 10.0  # the longest window the network sees
_SAMPLES_PER_CLIP = 200_000  # values kept per tensor and clip for the percentile observer
_MSE_SAMPLES_PER_CLIP = 20_000  # ... and for the error-based one (its error is a mean: fewer suffice)
_MSE_BINS = 2048
MSE_RANGE_FACTORS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)  # narrowings of min/max tried per tensor
TAP_RANGE_FACTORS = (1.0, 0.7, 0.5, 0.35, 0.25)  # candidate narrowings of a tapped tensor's range
RANGE_DIGITS = 9  # float64 results agree far beyond this between machines


def synthetic_set(seed: int = DEFAULT_SEED, n_clips: int = DEFAULT_CLIPS, seconds: float = DEFAULT_SECONDS):
    """[(name, float32 clip)] of the built-in calibration set (exporter/audio/synthetic.py): every kind
    of sound in turn; deterministic in ``seed`` (clip seeds seed * 100000 + i)."""
    from exporter.audio.synthetic import clip_set

    if not 0 <= seed < 1 << 32:
        raise UserError(f"calibration seed must be in 0 .. 2^32 - 1, got {seed}")
    if not 1 <= n_clips <= 100_000:
        raise UserError(f"calibration clips must be in 1 .. 100000, got {n_clips}")
    return clip_set(seed * 100_000, n_clips, seconds, stream="calibration")


def folder_set(folder: str | os.PathLike) -> list[tuple[str, np.ndarray]]:
    """[(path, float32 clip)] of the audio files in ``folder`` (first 10 s of each)."""
    from exporter.audio.files import load_audio

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"calibration folder {folder} does not exist or is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise UserError(f"calibration folder {folder} contains no audio files ({', '.join(AUDIO_EXTENSIONS)})")
    from exporter.float_model.windows import MIN_CLIP_SAMPLES

    clips = []
    for p in files:
        x = load_audio(p)  # raises UserError naming the file if unreadable
        if len(x) < MIN_CLIP_SAMPLES:
            raise UserError(f"calibration file {p} is too short: {len(x)} samples, at least {MIN_CLIP_SAMPLES} "
                            "at 32 kHz are needed")
        clips.append((str(p), x[: int(MAX_SECONDS * SAMPLE_RATE)]))
    return clips


Groups = dict[str, list[np.ndarray]]  # "scene" / "timestamp" -> log-mels of that mode's windows


def as_groups(logmels: list[np.ndarray] | Groups) -> Groups:
    """A plain list of log-mels is one group (scene windows)."""
    return logmels if isinstance(logmels, dict) else {"scene": list(logmels)}


def timestamp_positions(n_ts: int, k: int) -> list[int]:
    """``k`` timestamp windows spread evenly over a clip's ``n_ts``, at the centres of k equal parts:
    a stream's windows are nearly all interior ones, so the reflect-padded edge windows are not
    favoured (k = 1: the middle one)."""
    return sorted({min(n_ts - 1, int((i + 0.5) * n_ts / k)) for i in range(k)})


def timestamp_logmels(clip: np.ndarray, k: int) -> list[np.ndarray]:
    """Device log-mels (float [17][128]) of ``k`` of the clip's 160 ms timestamp windows."""
    from exporter.audio.files import to_pcm16
    from exporter.float_model.windows import TS_PAD, timestamp_windows
    from exporter.frontend.fixed import logmel_q12

    pcm = to_pcm16(clip)
    if k <= 0 or len(pcm) <= TS_PAD:
        return []
    windows, _ = timestamp_windows(pcm)
    return [logmel_q12(windows[i]).astype(np.float64) / 4096.0 for i in timestamp_positions(len(windows), k)]


def device_logmel(clip: np.ndarray) -> np.ndarray:
    """float clip -> int16 PCM -> fixed-point frontend (Q12) -> float [T][128], as the network's input."""
    from exporter.audio.files import to_pcm16
    from exporter.frontend.fixed import logmel_q12
    from exporter.float_model.windows import MIN_CLIP_SAMPLES

    if len(clip) < MIN_CLIP_SAMPLES:
        raise UserError(f"calibration clip of {len(clip)} samples is too short (at least {MIN_CLIP_SAMPLES})")
    return logmel_q12(to_pcm16(clip)).astype(np.float64) / 4096.0


def check_percentile(percentile: float | None) -> None:
    if percentile is not None and not 50 < percentile <= 100:
        raise UserError(f"percentile must be in (50, 100] (100 = min/max), got {percentile:g}")


def mse_range(v: np.ndarray, lo: float, hi: float, factors=MSE_RANGE_FACTORS,
              weights: np.ndarray | None = None) -> tuple[float, float]:
    """The narrowing (lo * f, hi * f) of the observed min/max with the least quantization error on ``v``
    (each value counted with its weight, if given).

    The error is computed on a fine histogram of ``v`` (bin width 1/2048 of the range, several
    times finer than any candidate's step), so trying a candidate costs the bins, not the values.
    """
    if hi <= lo:
        return lo, hi
    counts, edges = np.histogram(v, bins=_MSE_BINS, range=(lo, hi), weights=weights)
    centres = (edges[:-1] + edges[1:]) / 2
    costs = [float(np.dot(counts, ((_fake_quant(centres, lo * f, hi * f) - centres) ** 2))) for f in factors]
    f = factors[int(np.argmin(costs))]
    return lo * f, hi * f


def _fake_quant(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    from exporter.quantization.quantize import activation_params, round_away

    scale, zp = activation_params(lo, hi)
    return (np.clip(round_away(v / scale) + zp, -128, 127) - zp) * scale


class RangeObserver:
    """Per-tensor ranges, from min/max and a random sample of each tensor's values per window.

    ``percentile`` None: the narrowing of min/max with the least quantization error on the
    sampled values (``mse_range``); 100: min/max; otherwise the (100-p, p) percentiles.
    Values observed in several ``group``s (scene and timestamp windows) are weighted so that
    each group weighs the same, whatever its number of values; min/max spans them all.
    """

    def __init__(self, percentile: float | None = DEFAULT_PERCENTILE, seed: int = 0):
        check_percentile(percentile)
        self.percentile = percentile
        self.samples: dict[str, dict[str, list[np.ndarray]]] = {}
        self.minmax: dict[str, tuple[float, float]] = {}
        self._rng = np.random.default_rng(seed)

    def observe(self, name: str, values: np.ndarray, minmax_only: bool = False, group: str = "scene") -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        lo, hi = self.minmax.get(name, (np.inf, -np.inf))
        self.minmax[name] = (min(lo, float(v.min())), max(hi, float(v.max())))
        if self.percentile != 100 and not minmax_only:
            keep = _SAMPLES_PER_CLIP if self.percentile is not None else _MSE_SAMPLES_PER_CLIP
            if v.size > keep:
                v = self._rng.choice(v, keep, replace=False)
            self.samples.setdefault(name, {}).setdefault(group, []).append(v)

    def ranges(self) -> dict[str, tuple[float, float]]:
        out = {k: v for k, v in self.minmax.items() if k not in self.samples}
        for name, groups in self.samples.items():
            parts = [np.concatenate(chunks) for chunks in groups.values()]
            v = np.concatenate(parts)
            w = np.concatenate([np.full(p.size, 1.0 / p.size) for p in parts]) if len(parts) > 1 else None
            if self.percentile is None:
                out[name] = mse_range(v, *self.minmax[name], weights=w)
            else:
                out[name] = (_percentile(v, 100 - self.percentile, w), _percentile(v, self.percentile, w))
        return out


def _percentile(v: np.ndarray, q: float, weights: np.ndarray | None) -> float:
    """np.percentile (linear), or with ``weights`` the weighted quantile (inverted weighted CDF)."""
    if weights is None:
        return float(np.percentile(v, q))
    order = np.argsort(v, kind="stable")
    cdf = np.cumsum(weights[order])
    return float(v[order][min(int(np.searchsorted(cdf, q / 100.0 * cdf[-1])), v.size - 1)])


def collect_ranges(
    fgraph: FloatGraph, logmels: list[np.ndarray] | Groups, percentile: float | None = DEFAULT_PERCENTILE,
    progress: bool = True
) -> dict[str, tuple[float, float]]:
    """Observe every non-pooled map and every fully connected output of ``fgraph`` on ``logmels``
    (a list, or groups of windows that weigh equally: ``as_groups``).

    Pre-activations (``<op>.acc``) get their min/max only: the quantizer reads them where a
    ReLU output is zero on every clip. A non-finite value stops with the first op that made it.
    """
    observer = RangeObserver(percentile)
    windows = [(g, m) for g, mels in as_groups(logmels).items() for m in mels]
    for group, logmel in tqdm(windows, desc="calibrating", unit="window", disable=not progress):
        env = run_float(fgraph, logmel, dtype=torch.float64)
        for name, value in env.items():
            v = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            if not np.isfinite(v).all():
                raise UserError(f"the float model produces non-finite values (NaN or inf) at "
                                f"{name.removesuffix('.acc').removesuffix('.pre')} on the "
                                "calibration audio: the checkpoint's weights or BatchNorm statistics are broken there")
            observer.observe(name, v, minmax_only=name.endswith(".acc"), group=group)
    return observer.ranges()


def calibration_clips(folder: str | os.PathLike | None, seed: int = DEFAULT_SEED, n_clips: int = DEFAULT_CLIPS,
                      seconds: float = DEFAULT_SECONDS) -> tuple[list[tuple[str, np.ndarray]], str]:
    """([(name, float clip)], a description of the source): the built-in set, or ``folder``'s files."""
    if folder is None:
        return synthetic_set(seed, n_clips, seconds), f"built-in synthetic set (seed {seed}, {n_clips} clips of {seconds:g} s)"
    clips = folder_set(folder)
    return clips, f"{folder} ({len(clips)} files)"


def calibration_logmels(folder: str | os.PathLike | None, seed: int = DEFAULT_SEED, n_clips: int = DEFAULT_CLIPS,
                        seconds: float = DEFAULT_SECONDS, progress: bool = True) -> tuple[list[np.ndarray], str]:
    """(device log-mels of the calibration clips' scene windows, a description of the source)."""
    clips, source = calibration_clips(folder, seed, n_clips, seconds)
    mels = [device_logmel(x) for _, x in tqdm(clips, desc="frontend", unit="clip", disable=not progress)]
    return mels, source


def calibration_windows(folder: str | os.PathLike | None, seed: int = DEFAULT_SEED, n_clips: int = DEFAULT_CLIPS,
                        seconds: float = DEFAULT_SECONDS, timestamp_windows: int = DEFAULT_TIMESTAMP_WINDOWS,
                        progress: bool = True) -> tuple[Groups, str]:
    """(groups of device log-mels: "scene" (each clip's scene window) and, with ``timestamp_windows``,
    "timestamp" (that many 160 ms windows of each clip), a description of the source)."""
    if not 0 <= timestamp_windows <= 100:
        raise UserError(f"timestamp windows per calibration clip must be in 0 .. 100, got {timestamp_windows}")
    clips, source = calibration_clips(folder, seed, n_clips, seconds)
    scene, ts = [], []
    for _, x in tqdm(clips, desc="frontend", unit="clip", disable=not progress):
        scene.append(device_logmel(x))
        ts += timestamp_logmels(x, timestamp_windows)
    if ts:
        source += f", and {timestamp_windows} timestamp windows (160 ms) of each"
        return {"scene": scene, "timestamp": ts}, source
    return {"scene": scene}, source


def tap_cost(maps: list[np.ndarray], lo: float, hi: float, map_too: bool) -> float:
    """Mean over clips of the relative squared error of the pooled tap (+ of the map with ``map_too``)
    when the float maps ``[C][T][F]`` are quantized to the int8 grid of (lo, hi) and pooled as the device does."""
    from exporter.quantization.int8_math import round_div
    from exporter.quantization.quantize import activation_params, round_away

    scale, zp = activation_params(lo, hi)
    cost = 0.0
    for x in maps:
        q = np.clip(round_away(x / scale) + zp, -128, 127).astype(np.int64)
        pooled = (round_div(q.sum(axis=(1, 2)), q.shape[1] * q.shape[2]) - zp) * scale
        ref = x.mean(axis=(1, 2))
        cost += np.sum((pooled - ref) ** 2) / max(float(np.sum(ref ** 2)), 1e-30)
        if map_too:
            cost += np.sum(((q - zp) * scale - x) ** 2) / max(float(np.sum(x ** 2)), 1e-30)
    return cost / len(maps)


def tap_ranges(fgraph: FloatGraph, logmels: list[np.ndarray] | Groups, ranges: dict[str, tuple[float, float]],
               factors=TAP_RANGE_FACTORS) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """Narrow the range of each tapped block output for its tap: (new ranges, tensor -> factor chosen).

    A tap is the mean of a block output over time and mel, and the pool keeps the
    block output's scale. The maps are large where the means are small (BatchNorm
    makes channels nearly zero-mean), so a percentile range rounds the tap coarsely:
    a narrower range trades clipping of the map for a finer tap. Each tapped tensor
    gets the factor of ``factors`` with the least relative tap error on the
    calibration clips, plus the relative error of the map itself where later blocks
    read it. Measured on mn01_seed0, fidelity report metric (8 held-out clips), calibration
    seeds 0 / 1 / 2: mean cosine B11 +0.002 / +0.005 / +0.005, B13 +0.050 / +0.026 / +0.012;
    B15 moves by +0.06 / -0.21 / +0.00 (the upstream change; narrowing B15 itself: +0.03 / -0.005 / +0.01).
    With groups of windows (scene, timestamp) the cost is the mean of the groups' costs.
    """
    taps = [t for t, _ in fgraph.taps]
    read_by_blocks = {t: any(t in op.inputs and op.op != "global_avgpool" for op in fgraph.ops) for t in taps}
    groups = as_groups(logmels)
    maps: dict[str, dict[str, list[np.ndarray]]] = {t: {g: [] for g in groups} for t in taps}
    for g, mels in groups.items():
        for logmel in mels:
            env = run_float(fgraph, logmel, dtype=torch.float64)
            for t in taps:
                maps[t][g].append(env[t][0].double().numpy())
    out, chosen = dict(ranges), {}
    for t in taps:
        lo, hi = ranges[t]
        costs = [np.mean([tap_cost(m, lo * f, hi * f, read_by_blocks[t]) for m in maps[t].values()]) for f in factors]
        f = factors[int(np.argmin(costs))]
        out[t], chosen[t] = (lo * f, hi * f), f
    return out, chosen


def calibrated_ranges(fgraph: FloatGraph, logmels: list[np.ndarray] | Groups, percentile: float | None = DEFAULT_PERCENTILE,
                      progress: bool = True) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """The export's activation ranges: percentile ranges, tapped tensors narrowed (``tap_ranges``).
    Returns (ranges, tapped tensor -> narrowing factor)."""
    ranges, chosen = tap_ranges(fgraph, logmels, collect_ranges(fgraph, logmels, percentile, progress=progress))
    return {k: (_round(lo), _round(hi)) for k, (lo, hi) in ranges.items()}, chosen


def _round(x: float) -> float:
    return float(f"{x:.{RANGE_DIGITS}g}")
