"""The embedding of a clip that went through a PDM microphone path, against the embedding of the
original PCM (issue 12's target: cosine >= 0.99 per section on the default model).

Each step of the path is measured on its own, with the int8 network (reference board) and with
the float network the export was made from (on the float log-mel, and on the firmware's
fixed-point log-mel), so that what the audio change costs is told apart
from what the int8 network's own sensitivity adds:

- the reference is the original PCM delayed as the decimator's output is (its group delay,
  1.585 ms, less the 63 bits of the last output period: 49.73 samples): a microphone path has
  latency, and a shift of the sound against the network's 10 ms frames changes the embedding
  by itself (row "delay alone"), decimator or not;
- "1 LSB of noise": the same delayed PCM plus white noise of 1 LSB rms, an inaudible change
  that shows how far the int8 network moves on any change at all; "0.13 dB louder": the same for a
  gain change as large as the decimator's passband ripple;
- "decimator's response alone": the decimator's linear response (magnitude, linear phase, DC
  blocker) applied in float, no modulator;
- "<order> modulator + ideal filter": the PDM bits through a float brick wall at 16 kHz;
- "<order> modulator + decimator": the whole path, the decimator's numpy twin (bit-exact with
  the firmware), its output as is (the reference carries the delay).

Used by bench/pdm_report.py (the table in reports/pdm_decimator.md) and tests/test_pdm.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exporter.audio.files import to_pcm16
from exporter.frontend import pdm, sdm

# Linear phase: the half-lengths of the three FIR stages, 3246 bits = 50.72 PCM samples (the
# latency). Output m is formed when bit 64 m + 63 arrives, and clip sample n is bit 64 n: against
# the clip's sample index, output m is sample m - 49.73 (63 bits earlier than the latency).
GROUP_DELAY_BITS = (pdm.cic_taps().size - 1) // 2 + (pdm.HB_TAPS.size - 1) // 2 * 16 + (pdm.FIR_TAPS.size - 1) // 2 * 32
GROUP_DELAY = (GROUP_DELAY_BITS - (pdm.DECIMATION - 1)) / pdm.DECIMATION
LEVEL = 0.7  # the clips' scale: peaks 0.35 (speech-like) and 0.42 (music-like), in every modulator's stable range
DC_POLE = 1 - 2.0**-10  # the DC blocker's (pdm.dc_block)


def delayed(x: np.ndarray, d: float) -> np.ndarray:
    """``x`` delayed by ``d`` samples (fractional: band-limited), zeros before it, the end cut."""
    n = x.size
    f = np.fft.rfftfreq(2 * n)  # zero padding: a delay, not a rotation
    return np.fft.irfft(np.fft.rfft(x, 2 * n) * np.exp(-2j * np.pi * f * d), 2 * n)[:n]


def decimator_response(x: np.ndarray) -> np.ndarray:
    """``x`` (32 kHz) through the decimator's linear response: magnitude from the integer
    coefficients, linear phase (GROUP_DELAY), the DC blocker's first-order high-pass."""
    n = x.size
    f = np.fft.rfftfreq(2 * n, 1 / pdm.PCM_RATE)
    zi = np.exp(-2j * np.pi * f / pdm.PCM_RATE)
    h = 10 ** (pdm.response_db(np.maximum(f, 1.0)) / 20) * np.exp(-2j * np.pi * f / pdm.PCM_RATE * GROUP_DELAY)
    h *= (1 - zi) / (1 - DC_POLE * zi)
    return np.fft.irfft(np.fft.rfft(x, 2 * n) * h, 2 * n)[:n]


def ideal_filter(bits: np.ndarray, n: int) -> np.ndarray:
    """PDM bytes -> n samples at 32 kHz through a float brick wall at 16 kHz (zero phase), then
    delayed by GROUP_DELAY like the decimator."""
    pm = np.unpackbits(bits, bitorder="little")[: n * pdm.DECIMATION] * 2.0 - 1.0
    spec = np.fft.rfft(pm)
    spec[np.fft.rfftfreq(pm.size, 1 / pdm.PDM_RATE) >= pdm.PCM_RATE / 2] = 0
    return delayed(np.fft.irfft(spec, pm.size)[:: pdm.DECIMATION], GROUP_DELAY)


def modulated(x: np.ndarray, order: int, seed: int = 0) -> np.ndarray:
    """PDM bytes of the 32 kHz clip ``x``: order 2 is pdm.sigma_delta, 4 and 5 sdm.modulate."""
    up = pdm.upsample_to_pdm_rate(x)
    return pdm.sigma_delta(up, seed=seed) if order == 2 else sdm.modulate(up, order=order, seed=seed)


def mic_path(x: np.ndarray, order: int = 4, seed: int = 0) -> np.ndarray:
    """The whole path: the clip as PDM from the ``order`` modulator, decimated (int16)."""
    return pdm.decimate(modulated(x, order, seed))[: x.size]


class Embeddings:
    """Scene embeddings of the export ``export_dir``, int8 (reference board) and float, and
    cosines per section (L and the tapped blocks; int8 values taken from their zero points)."""

    def __init__(self, export_dir: Path, with_float: bool = True):
        from exporter.boards import reference
        from exporter.quantization.graph import Graph

        graph = Graph.load(export_dir)
        self.sections = [("L", slice(0, 128), 0)] + [
            (t["name"], slice(128 + t["offset"], 128 + t["offset"] + t["channels"]), t["zero_point"])
            for t in graph.meta["taps"]]  # fmt: skip
        self._int8 = reference.embedder("scene", export_dir)
        self._float = None
        if with_float:
            from exporter.commands.heads import float_model
            from exporter.float_model.embed import FloatEmbedder

            self._float = FloatEmbedder(float_model(graph))

    def int8(self, pcm: np.ndarray) -> np.ndarray:
        return self._int8(pcm).astype(np.float64)

    def fixed_float(self, pcm: np.ndarray) -> np.ndarray:
        """The float network on the firmware's fixed-point log-mel (Q12, the reference board's):
        tells the int8 network's share from the fixed-point frontend's."""
        import torch

        from exporter.frontend.fixed import logmel_q12

        mel = torch.from_numpy(logmel_q12(pcm).T.astype(np.float32) / 4096)[None]
        return self._float.embed_logmel(mel)[0].numpy().astype(np.float64)

    def float(self, pcm: np.ndarray) -> np.ndarray:
        import torch

        audio = torch.from_numpy((np.asarray(pcm, dtype=np.float32) / 32768)[None])
        return self._float.scene(audio)[0].numpy().astype(np.float64)

    def cosines(self, a: np.ndarray, b: np.ndarray, int8: bool) -> dict[str, float]:
        out = {}
        for name, s, zp in self.sections:
            u, v = a[s] - (zp if int8 else 0), b[s] - (zp if int8 else 0)
            out[name] = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))
        return out


def steps(x: np.ndarray, orders=(4, 2), noise_seeds=(0,)) -> dict[str, np.ndarray]:
    """The int16 signals compared with the delayed reference, by name (see the module doc)."""
    ref = delayed(x, GROUP_DELAY)
    out = {"delay alone (the original, not delayed)": to_pcm16(x)}
    for seed in noise_seeds:
        noise = np.random.default_rng(seed).standard_normal(x.size) / 32768
        out["1 LSB of noise" + (f" (seed {seed})" if len(noise_seeds) > 1 else "")] = to_pcm16(ref + noise)
    out["0.13 dB louder"] = to_pcm16(ref * 10 ** (0.13 / 20))
    out["decimator's response alone"] = to_pcm16(decimator_response(x))
    for order in orders:
        bits = modulated(x, order)
        out[f"order-{order} modulator + ideal filter"] = to_pcm16(ideal_filter(bits, x.size))
        out[f"order-{order} modulator + decimator"] = pdm.decimate(bits)[: x.size]
    return out


def measure(emb: Embeddings, x: np.ndarray, orders=(4, 2), noise_seeds=(0,)) -> list[dict]:
    """Rows {"path", "int8": {section: cosine}, "fixed_float": {...}, "float": {...}} of ``steps``
    against the delayed reference (only "int8" when ``emb`` has no float network)."""
    ref = to_pcm16(delayed(x, GROUP_DELAY))
    kinds = {"int8": emb.int8}
    if emb._float is not None:
        kinds.update(fixed_float=emb.fixed_float, float=emb.float)
    refs = {k: f(ref) for k, f in kinds.items()}
    rows = []
    for name, sig in steps(x, orders, noise_seeds).items():
        rows.append({"path": name, **{k: emb.cosines(refs[k], f(sig), k == "int8") for k, f in kinds.items()}})
    return rows
