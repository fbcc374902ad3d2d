"""What a microphone sample rate other than 32 kHz does to the int8 embedding (the
nrf52840-dk's I2S gives 31,746 Hz): the firmware takes the samples as 32 kHz, so the sound
appears 0.8 % higher and faster. Compared on the reference board (ONNX Runtime, the default
export): cosine of the embedding of each clip sampled at the board's rate and read as 32 kHz
against the embedding at 32 kHz, per section (L and each tap, dequantized), for the two
nearest rates the nRF52840's dividers give (31,746 and 32,258 Hz).

    python bench/mic_rate_effect.py   (prints a markdown table)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.audio import example_clips  # noqa: E402,F401
from exporter.audio import synthetic as synthetic_audio
from exporter.audio.files import to_pcm16  # noqa: E402
from exporter.boards import reference  # noqa: E402
from exporter.quantization.graph import Graph  # noqa: E402

EXPORT = ROOT / "firmware" / "generated"


def sections(graph: Graph) -> list[tuple[str, slice, int]]:
    """(name, slice, zero point): cosines are taken on the dequantized values (q - zero point)."""
    out = [("L", slice(0, 128), 0)]
    for tap in graph.meta.get("taps", []):
        out.append((tap["name"], slice(128 + tap["offset"], 128 + tap["offset"] + tap["channels"]), tap["zero_point"]))
    return out


def cos(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def main() -> None:
    graph = Graph.load(EXPORT)
    embed = reference.embedder("scene", EXPORT)
    clips = {"speech-like": example_clips.speech_like(10.0), "music-like": example_clips.music_like(10.0),
             "mixed": 0.5 * (example_clips.speech_like(10.0, seed=3) + example_clips.music_like(10.0, seed=4))}
    secs = sections(graph)
    print("| clip | rate | " + " | ".join(n for n, _, _ in secs) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in secs) + " |")
    for name, x in clips.items():
        ref = embed(to_pcm16(x)).astype(np.float64)
        for rate in (31_746.03, 32_258.06):
            y = soxr.resample(x.astype(np.float64), 32_000, rate)[: x.size]
            e = embed(to_pcm16(y)).astype(np.float64)
            print(f"| {name} | {rate:,.0f} Hz | " + " | ".join(f"{cos(ref[s] - z, e[s] - z):.4f}" for _, s, z in secs) + " |")


if __name__ == "__main__":
    main()
