"""Fidelity of the shipped export on audio the exporter never made: speech from espeak-ng, music
rendered by FluidSynth from a MIDI file written here, and sox-generated events and noise, at
their own rates and channel counts (the loader resamples and downmixes) and at several levels.

The built-in calibration and held-out sets are the exporter's own synthetic scenes; this checks
that the ranges they give hold on sound made by other programs. Needs espeak-ng, sox, fluidsynth
and a General MIDI soundfont (Debian: espeak-ng sox fluidsynth fluid-soundfont-gm); what is
missing is left out and said so in the report.

    python bench/external_audio.py [--export firmware/generated] [--out reports/fidelity_external]
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter import defaults  # noqa: E402
from exporter.quantization import fidelity
from exporter.audio.files import load_audio  # noqa: E402
from exporter.float_model.checkpoint import resolve_model  # noqa: E402
from exporter.quantization.graph import Graph  # noqa: E402

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SENTENCES = [
    ("en", "The quick brown fox jumps over the lazy dog while the children play outside."),
    ("en-us+f3", "Please turn on the lights in the kitchen and set an alarm for seven thirty."),
    ("de+m3", "Guten Morgen, wie geht es Ihnen heute? Das Wetter ist schoen und warm."),
    ("fr+f2", "Bonjour tout le monde, nous allons commencer la reunion dans cinq minutes."),
]
SOX_EVENTS = {  # name: (rate, channels, sox synth arguments)
    "pink-noise-stereo-44k": (44100, 2, ["synth", "4", "pinknoise", "fade", "0", "4", "0.5"]),
    "beeps-sweeps-plucks": (32000, 1, ["synth", "0.3", "sine", "1000", ":", "synth", "0.5", "brownnoise", ":",
                                       "synth", "0.8", "square", "300-900", ":", "synth", "1", "pluck", "C3", ":",
                                       "synth", "1", "pluck", "E4"]),
    "band-noise-tremolo-48k": (48000, 1, ["synth", "4", "whitenoise", "band", "2000", "500", "tremolo", "3", "80"]),
    "chirp-16k": (16000, 1, ["synth", "3", "sine", "200-4000"]),
}
LEVELS_DB = (0.0, -20.0, -35.0)  # applied to each clip after normalising its peak to -1 dBFS


def _midi(path: Path) -> None:
    """A melody with chords on piano and strings and a drum beat, as a one-track MIDI file."""
    def var(n):
        out = [n & 0x7F]
        n >>= 7
        while n:
            out.insert(0, (n & 0x7F) | 0x80)
            n >>= 7
        return bytes(out)
    ev = var(0) + bytes([0xC0, 0]) + var(0) + bytes([0xC1, 48])
    for n in [60, 64, 67, 72, 71, 67, 64, 62, 60, 65, 69, 72]:
        ev += var(0) + bytes([0x90, n, 100, 0, 0x91, n - 12, 70, 0, 0x99, 36 if n % 2 else 38, 100])
        ev += var(240) + bytes([0x80, n, 0, 0, 0x81, n - 12, 0, 0, 0x89, 36 if n % 2 else 38, 0])
    ev += var(0) + b"\xff\x2f\x00"
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(ev)) + ev)


def make_clips(folder: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    made, missing = [], []
    if shutil.which("espeak-ng"):
        for i, (voice, text) in enumerate(SENTENCES):
            p = folder / f"speech-{voice}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(p), text], check=True, capture_output=True)
            made.append((f"speech ({voice}, espeak-ng)", p))
    else:
        missing.append("espeak-ng")
    if shutil.which("fluidsynth") and SOUNDFONT.exists():
        _midi(folder / "m.mid")
        p = folder / "music.wav"
        subprocess.run(["fluidsynth", "-ni", "-F", str(p), "-r", "44100", str(SOUNDFONT), str(folder / "m.mid")],
                       check=True, capture_output=True)
        made.append(("music (FluidSynth, piano, strings, drums)", p))
    else:
        missing.append("fluidsynth + FluidR3_GM soundfont")
    if shutil.which("sox"):
        for name, (rate, ch, args) in SOX_EVENTS.items():
            p = folder / f"{name}.wav"
            subprocess.run(["sox", "-n", "-r", str(rate), "-c", str(ch), str(p), *args], check=True, capture_output=True)
            made.append((f"{name} (sox)", p))
    else:
        missing.append("sox")
    return made, missing


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, default=defaults.GENERATED_DIR)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "fidelity_external")
    args = ap.parse_args()
    graph = Graph.load(args.export)
    meta = graph.meta["model"]
    model, _ = resolve_model(checkpoint=ROOT / meta["checkpoint"] if meta["checkpoint"] else None,
                             weights=None if meta["checkpoint"] else "random", seed=meta["seed"] or 0,
                             width=None if meta["checkpoint"] else meta["width"])
    with tempfile.TemporaryDirectory() as tmp:
        made, missing = make_clips(Path(tmp))
        clips = []
        for name, path in made:
            x = load_audio(path)[: 10 * 32000]
            x = x / max(np.abs(x).max(), 1e-9) * 10 ** (-1 / 20)
            clips += [(f"{name} @ {lvl:g} dB", (x * 10 ** (lvl / 20)).astype(np.float32)) for lvl in LEVELS_DB]
    if not clips:
        print("no external audio tool found: install espeak-ng, sox, fluidsynth", file=sys.stderr)
        return 1
    r = fidelity.evaluate(model, graph, clips, analysis=False, timestamp_clips=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"export": str(args.export), "missing": missing,
                                                         "summary": r["summary"], "per_clip": r["per_clip"]},
                                                        indent=1) + "\n")
    sections = list(r["summary"])
    lines = ["# Fidelity on external audio", "",
             f"Export `{args.export.relative_to(ROOT) if args.export.is_relative_to(ROOT) else args.export}` "
             f"(model `{meta['name']}`), scene embeddings, dequantized int8 vs float model, {len(clips)} clips: "
             f"{len(made)} sounds made by other programs, each at {', '.join(f'{lv:g}' for lv in LEVELS_DB)} dB "
             "below -1 dBFS. Written by `python bench/external_audio.py`.", ""]
    if missing:
        lines += [f"Not available here, left out: {', '.join(missing)}.", ""]
    lines += ["| section | mean cosine | worst clip | (which) | mean relative error |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {s} | {v['mean_cosine']:.4f} | {v['min_cosine']:.4f} | {v['worst_clip']} | {v['mean_relative_error']:.4f} |"
              for s, v in r["summary"].items()]
    lines += ["", "| clip | " + " | ".join(sections) + " |", "| --- |" + " --- |" * len(sections)]
    lines += [f"| {c['clip']} | " + " | ".join(f"{c['sections'][s]['cosine']:.4f}" for s in sections) + " |"
              for c in r["per_clip"]]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:14]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
