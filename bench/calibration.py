"""How much calibration audio an export needs: fidelity of the default model's int8 graph against
the float model on the held-out set, by calibration source and size.

- the built-in set (exporter/audio/synthetic.py) with N clips of 4 s (the default is 48);
- a user folder (`export --calibration DIR`) of N files, here recordings stood in for by synthetic
  scenes of the same kinds written as 16-bit wav files (a different seed range from the built-in set),
  10 s each as a user's clips would typically be, and by the same folder's first N files at 4 s;
- the default export with another calibration seed, to show the spread that a different draw of
  the same amount of audio gives;
- the built-in set with 0, 3 and 8 timestamp windows (160 ms) per clip observed beside its scene
  window (`export --calibration-timestamp-windows N`).

Held-out: the fidelity report's 28 clips (every kind of sound, -40..0 dBFS), in scene mode and, for
the rows of 48 built-in clips, in timestamp mode (every 160 ms window of every clip). Target
(scene): mean cosine >= 0.995 and worst clip >= 0.98 in every section.

    python bench/calibration.py [--out reports/calibration]
writes OUT.md and OUT.json (takes ~25 min on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter import SAMPLE_RATE, defaults  # noqa: E402
from exporter.quantization import fidelity
from exporter.audio import synthetic as synthetic_audio
from exporter.float_model.checkpoint import resolve_model  # noqa: E402
from exporter.commands.export import build_graph  # noqa: E402

SECTIONS = ("L", "B5", "B11", "B13", "B15")
USER_SEED0 = 7_000_000  # far from the built-in set's seeds (calibration seed k uses k * 100000 + i)


def measure(model, info, held, timestamp: bool = False, **kwargs) -> dict:
    """Build the graph with ``kwargs``; scene fidelity, and with ``timestamp`` that of every 160 ms
    window of the held-out clips too (slow: 2,268 windows)."""
    t = time.time()
    graph = build_graph(model, info, progress=False, **kwargs)
    r = fidelity.evaluate(model, graph, held, analysis=False, timestamp_clips=len(held) if timestamp else 0)
    out = {"seconds": round(time.time() - t, 1), "target_met": r["target_met"],
           "sections": {s: {"mean": r["summary"][s]["mean_cosine"], "worst": r["summary"][s]["min_cosine"]}
                        for s in SECTIONS}}
    if timestamp:
        ts = r["timestamp"]["summary"]
        out.update(timestamp_windows=r["timestamp"]["windows"],
                   timestamp={s: {"mean": ts[s]["mean_cosine"], "worst": ts[s]["min_cosine"]} for s in SECTIONS})
    return out


def write_user_folder(folder: Path, n: int, seconds: float) -> None:
    for name, x in synthetic_audio.clip_set(USER_SEED0, n, seconds):
        sf.write(folder / f"{name}.wav", x, SAMPLE_RATE, subtype="PCM_16")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "calibration")
    args = ap.parse_args()
    model, info = resolve_model(checkpoint=defaults.CHECKPOINT)
    held = fidelity.held_out_clips()
    rows = []
    k0 = defaults.CALIBRATION_TIMESTAMP_WINDOWS
    for k in sorted({0, 3, 8} - {k0}):
        rows.append({"source": "built-in", "clips": defaults.CALIBRATION_CLIPS, "clip_seconds": 4.0,
                     "ts_windows": k, **measure(model, info, held, timestamp=True, timestamp_windows=k)})
        print(rows[-1], flush=True)
    for n in (12, 24, defaults.CALIBRATION_CLIPS):
        rows.append({"source": "built-in", "clips": n, "clip_seconds": 4.0, "ts_windows": k0,
                     **measure(model, info, held, timestamp=n == defaults.CALIBRATION_CLIPS, calibration_clips=n)})
        print(rows[-1], flush=True)
    for seed in (1, 2):
        rows.append({"source": f"built-in, calibration seed {seed}", "clips": defaults.CALIBRATION_CLIPS,
                     "clip_seconds": 4.0, "ts_windows": k0, **measure(model, info, held, calibration_seed=seed)})
        print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in (8, 16, 32):
            folder = Path(tmp) / f"user{n}"
            folder.mkdir()
            write_user_folder(folder, n, 10.0)
            rows.append({"source": "user folder (--calibration DIR)", "clips": n, "clip_seconds": 10.0,
                         "ts_windows": k0, **measure(model, info, held, calibration=folder)})
            print(rows[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"model": info.name, "held_out_clips": len(held),
                                                         "rows": rows}, indent=1) + "\n")
    lines = [
        "# Calibration: how much audio an export needs",
        "",
        f"Model `{info.name}` (the default), int8 graph vs float model, embeddings of the fidelity report's "
        f"{len(held)} held-out clips. Cells: mean cosine / worst clip (scene) or worst window (timestamp). "
        f"Target (scene): mean >= {fidelity.TARGET_MEAN_COSINE} and worst >= {fidelity.TARGET_MIN_COSINE} in "
        f"every section. ts windows: 160 ms windows per calibration clip observed beside its scene window "
        f"(the default is {k0}). Written by `python bench/calibration.py`.",
        "",
        "## Scene embeddings",
        "",
        "| calibration | clips | s each | ts windows | " + " | ".join(SECTIONS) + " | target | build + evaluate |",
        "| --- | --- | --- | --- |" + " --- |" * len(SECTIONS) + " --- | --- |",
    ]
    for r in rows:
        cells = " | ".join(f"{r['sections'][s]['mean']:.4f} / {r['sections'][s]['worst']:.3f}" for s in SECTIONS)
        lines.append(f"| {r['source']} | {r['clips']} | {r['clip_seconds']:g} | {r['ts_windows']} | {cells} | "
                     f"{'met' if r['target_met'] else 'not met'} | {r['seconds']:.0f} s |")
    lines += ["", f"## Timestamp embeddings (every 160 ms window of the same clips, {rows[0]['timestamp_windows']} "
              "windows; the built-in set's rows)", "",
              "| calibration | clips | s each | ts windows | " + " | ".join(SECTIONS) + " |",
              "| --- | --- | --- | --- |" + " --- |" * len(SECTIONS)]
    for r in (r for r in rows if "timestamp" in r):
        cells = " | ".join(f"{r['timestamp'][s]['mean']:.4f} / {r['timestamp'][s]['worst']:.3f}" for s in SECTIONS)
        lines.append(f"| {r['source']} | {r['clips']} | {r['clip_seconds']:g} | {r['ts_windows']} | {cells} |")
    lines += ["", "The user folders hold synthetic scenes standing in for recordings (the built-in generators with "
              "other seeds, 10 s each): what a folder of real recordings of the deployment's sounds gives is "
              "measured the same way by exporting with `--calibration DIR` and reading the export's fidelity report."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
