"""What a microphone sample rate other than 32 kHz does to the int8 embedding (the
nrf52840-dk's I2S gives 31,746 Hz): the firmware takes the samples as 32 kHz, so the sound
appears 0.8 % higher and faster. Compared on the reference board (ONNX Runtime, the default
export): cosine of the embedding of each clip sampled at the board's rate and read as 32 kHz
against the embedding at 32 kHz, per section (L and each tap, dequantized), for the two
nearest rates the nRF52840's dividers give (31,746 and 32,258 Hz), and at 31,746 Hz through
the board's 126/125 resampler (firmware/mic/resample_126_125.c; its bit-exact twin here).

    python bench/mic_rate_effect.py   (writes reports/mic_rate_effect.md)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.audio import example_clips  # noqa: E402,F401
from exporter.audio.files import to_pcm16  # noqa: E402
from exporter.boards import reference  # noqa: E402
from exporter.frontend import resample  # noqa: E402
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


REPORT = ROOT / "reports" / "mic_rate_effect.md"
DELAY = 24  # the resampler's group delay in samples (firmware/mic/resample_126_125.h)


def main() -> None:
    graph = Graph.load(EXPORT)
    embed = reference.embedder("scene", EXPORT)
    clips = {"speech-like": example_clips.speech_like(10.0), "music-like": example_clips.music_like(10.0),
             "mixed": 0.5 * (example_clips.speech_like(10.0, seed=3) + example_clips.music_like(10.0, seed=4))}
    secs = sections(graph)
    cases = [("31,746 Hz read as 32 kHz", 31_746.03, False), ("32,258 Hz read as 32 kHz", 32_258.06, False),
             ("31,746 Hz, resampled 126/125", resample.IN_RATE, True),
             ("control: 32 kHz delayed 24 samples", None, False)]
    rows, worst = [], {c: {n: 1.0 for n, _, _ in secs} for c, _, _ in cases}
    for name, x in clips.items():
        ref = embed(to_pcm16(x)).astype(np.float64)
        for case, rate, resampled in cases:
            if rate is None:  # the resampler's group delay alone, no rate change
                pcm = np.concatenate([np.zeros(DELAY, np.int16), to_pcm16(x)])
            else:
                y = soxr.resample(x.astype(np.float64), 32_000, rate)  # what a microphone at `rate` samples
                pcm = resample.resample(to_pcm16(y)) if resampled else to_pcm16(y)
            e = embed(pcm[: x.size]).astype(np.float64)
            c = [cos(ref[s] - z, e[s] - z) for _, s, z in secs]
            for (n, _, _), v in zip(secs, c):
                worst[case][n] = min(worst[case][n], v)
            rows.append(f"| {name} | {case} | " + " | ".join(f"{v:.4f}" for v in c) + " |")
    head = "| clip | microphone | " + " | ".join(n for n, _, _ in secs) + " |"
    sep = "| --- | --- | " + " | ".join("---" for _ in secs) + " |"
    summary = [f"| all | {case} (worst) | " + " | ".join(f"{worst[case][n]:.4f}" for n, _, _ in secs) + " |"
               for case, _, _ in cases]
    text = "\n".join([
        "# Microphone sample rate vs the embedding", "",
        "Written by `python bench/mic_rate_effect.py` (reference board, default export, scene mode, 10 s clips). "
        "Cosine of the dequantized embedding of each clip as a board would send it against the embedding of the "
        "clip at exactly 32 kHz, per section. \"Read as 32 kHz\": the clip sampled at the rate shown and taken "
        "as 32 kHz samples (sound 0.8 % higher and faster). \"Resampled 126/125\": sampled at 31,746 Hz (the "
        "nRF52840's I2S with 32MDIV21 and RATIO 48X) and resampled to 32 kHz by the nrf52840-dk's resampler "
        "(firmware/mic/resample_126_125.c, bit-exact twin exporter/frontend/resample.py); it delays the sound by "
        "its group delay, 24 samples (0.75 ms), and the control row shows what that delay alone does: the windows "
        "(hop 10 ms) fall 0.75 ms later on the sound, which the int8 embedding feels about as much as the rest "
        "of the resampled path.", "",
        head, sep, *rows, "", "Worst clip per section:", "", head, sep, *summary, ""])
    REPORT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
