"""Accuracy of the fixed-point log-mel frontend against the float reference.

For every signal class (exporter/frontend/signals.py) and level, and for the golden
test audio: max and RMS error of the normalised log-mel ((ln(mel + 1e-5) + 4.5) / 5)
of the integer frontend (the numpy twin, bit-exact with the C code) against
exporter.float_model.preprocess.LogMel (the reference's float32 computation) on the same int16
samples (float audio = int16 / 32768). Targets: RMS <= 0.005, max <= 0.03.

    python bench/frontend_accuracy.py [--out reports/frontend_accuracy] [--seconds 1.0]
writes OUT.md and OUT.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.float_model import preprocess  # noqa: E402
from exporter.audio.files import to_pcm16  # noqa: E402
from exporter.frontend import fixed, signals  # noqa: E402

RMS_TARGET, MAX_TARGET = 0.005, 0.03


def reference(pcm16: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(pcm16.astype(np.float32) / 32768.0)[None]
    with torch.no_grad():
        return preprocess.LogMel()(x)[0].numpy().T.astype(np.float64)


def measure(pcm16: np.ndarray) -> dict:
    err = fixed.dequantize(fixed.logmel_q12(pcm16)).astype(np.float64) - reference(pcm16)
    band_max = np.abs(err).max(axis=0)
    mean_err = fixed.dequantize(fixed.mel_mean_q12(fixed.logmel_q12(pcm16))).astype(np.float64) - reference(
        pcm16
    ).mean(axis=0)
    return {
        "frames": int(err.shape[0]),
        "rms": float(np.sqrt(np.mean(err**2))),
        "max": float(np.abs(err).max()),
        "worst_band": int(np.argmax(band_max)),
        "mel_avgs_max": float(np.abs(mean_err).max()),
        "_sq": float(np.sum(err**2)),
        "_n": int(err.size),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "frontend_accuracy"), help="output path without suffix")
    ap.add_argument("--seconds", type=float, default=1.0, help="length of each synthetic signal")
    args = ap.parse_args(argv)
    n = int(round(args.seconds * 32000))

    rows = []
    golden = to_pcm16(np.load(ROOT / "tests" / "data" / "test_audio.npy").reshape(-1))
    rows.append({"signal": "golden test audio", "level_dbfs": None, **measure(golden)})
    for name in signals.CLASSES:
        levels = [None] if name in ("silence", "random_int16") else signals.LEVELS_DB
        for level in levels:
            pcm = signals.make(name, n, 0.0 if level is None else level, seed=7)
            rows.append({"signal": name, "level_dbfs": level, **measure(pcm)})

    total_sq = sum(r.pop("_sq") for r in rows)
    total_n = sum(r.pop("_n") for r in rows)
    overall = {
        "rms": float(np.sqrt(total_sq / total_n)),
        "max": max(r["max"] for r in rows),
        "worst_rms": max(r["rms"] for r in rows),
        "mel_avgs_max": max(r["mel_avgs_max"] for r in rows),
    }
    overall["meets_targets"] = overall["worst_rms"] <= RMS_TARGET and overall["max"] <= MAX_TARGET
    report = {
        "what": "fixed-point log-mel (Q3.12) vs exporter.float_model.preprocess.LogMel float32, normalised units",
        "targets": {"rms": RMS_TARGET, "max": MAX_TARGET},
        "seconds_per_signal": args.seconds,
        "overall": overall,
        "rows": rows,
        "environment": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__},
    }

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Frontend accuracy: fixed-point log-mel vs float reference",
        "",
        f"Error of the normalised log-mel, Q3.12 integer frontend (C == numpy twin, bit-exact) minus "
        f"`exporter.float_model.preprocess.LogMel` (float32) on the same int16 samples; {args.seconds:g} s per synthetic signal. "
        f"Targets: RMS <= {RMS_TARGET}, max <= {MAX_TARGET}. One Q12 step is {1 / 4096:.2e}.",
        "",
        f"**Overall**: RMS {overall['rms']:.2e}, worst per-signal RMS {overall['worst_rms']:.2e}, "
        f"max {overall['max']:.2e}, mel_avgs (L) max {overall['mel_avgs_max']:.2e}: "
        f"{'meets' if overall['meets_targets'] else 'MISSES'} the targets.",
        "",
        "| signal | level (dBFS peak) | frames | RMS | max | worst band | L max |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        level = "-" if r["level_dbfs"] is None else f"{r['level_dbfs']:g}"
        lines.append(
            f"| {r['signal']} | {level} | {r['frames']} | {r['rms']:.2e} | {r['max']:.2e} | {r['worst_band']} "
            f"| {r['mel_avgs_max']:.2e} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[4:6]))
    return 0 if overall["meets_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
