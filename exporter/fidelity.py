"""Fidelity of the integer embedding: dequantized int8 M_B+L vs the float model's, per section.

Integer path: float clip -> int16 PCM -> fixed-point frontend -> integer graph
(numpy executor, byte-equal to the ONNX reference) -> qembed -> dequantized.
Float path: the paper's float preprocessing and model (exporter/embed_float.py).
Both in scene mode, on held-out clips (seeds other than calibration's).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from exporter import int8_exec, qembed
from exporter.graph import Graph

TARGET_MEAN_COSINE = 0.99
HELD_OUT_SEED = 1000  # calibration uses small seeds; this set never overlaps them
HELD_OUT_CLIPS = 8
HELD_OUT_SECONDS = 3.0


def held_out_clips(seed: int = HELD_OUT_SEED, n: int = HELD_OUT_CLIPS, seconds: float = HELD_OUT_SECONDS):
    from exporter.calibrate import synthetic_set

    return synthetic_set(seed, n, seconds)


def integer_scene(graph: Graph, clip: np.ndarray) -> np.ndarray:
    """int16 [D] scene embedding of a float clip, as every integer board computes it."""
    from exporter.audio import to_pcm16
    from exporter.frontend.fixed import logmel_q12
    from exporter.windows import scene_windows

    windows = scene_windows(to_pcm16(clip))
    embs = []
    for w in windows:
        mel = logmel_q12(w)
        embs.append(qembed.window_embedding(mel, int8_exec.run(graph, mel)))
    return qembed.average_windows(np.stack(embs))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(a @ b / (na * nb))


def evaluate(model, graph: Graph, clips: list[tuple[str, np.ndarray]]) -> dict:
    """Per-section cosine similarity and max abs error (float vs dequantized integer), per clip and summarised."""
    from exporter.embed_float import FloatEmbedder

    embedder = FloatEmbedder(model)
    sections = qembed.sections(graph)
    per_clip = []
    for name, clip in clips:
        ref = embedder.scene(np.asarray(clip, dtype=np.float32)[None]).numpy()[0].astype(np.float64)
        got = qembed.dequantize(graph, integer_scene(graph, clip)).astype(np.float64)
        if ref.shape != got.shape:
            raise ValueError(f"float embedding has {ref.shape[0]} values, integer {got.shape[0]}")
        per_clip.append({
            "clip": name,
            "sections": {
                s: {"cosine": _cosine(ref[sl], got[sl]), "max_abs_error": float(np.abs(ref[sl] - got[sl]).max()),
                    "float_rms": float(np.sqrt(np.mean(ref[sl] ** 2)))}
                for s, sl in sections
            },
        })
    summary = {}
    for s, _ in sections:
        cos = np.array([c["sections"][s]["cosine"] for c in per_clip])
        err = np.array([c["sections"][s]["max_abs_error"] for c in per_clip])
        summary[s] = {"mean_cosine": float(cos.mean()), "min_cosine": float(cos.min()), "max_abs_error": float(err.max())}
    return {
        "mode": "scene",
        "clips": len(per_clip),
        "target_mean_cosine": TARGET_MEAN_COSINE,
        "target_met": all(v["mean_cosine"] >= TARGET_MEAN_COSINE for v in summary.values()),
        "summary": summary,
        "per_clip": per_clip,
    }


def report_markdown(result: dict, context: str = "") -> str:
    lines = ["# Fidelity: dequantized int8 M_B+L vs the float model", ""]
    if context:
        lines += [context, ""]
    lines += [
        f"Scene embeddings of {result['clips']} held-out clips (not used for calibration). "
        f"Target: mean cosine >= {result['target_mean_cosine']} in every section - "
        f"**{'met' if result['target_met'] else 'NOT met'}**.",
        "",
        "| section | mean cosine | min cosine | max abs error |",
        "| --- | --- | --- | --- |",
    ]
    for s, v in result["summary"].items():
        lines.append(f"| {s} | {v['mean_cosine']:.4f} | {v['min_cosine']:.4f} | {v['max_abs_error']:.4g} |")
    return "\n".join(lines) + "\n"


def write_report(result: dict, folder: Path, context: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fidelity.json").write_text(json.dumps(result, indent=1) + "\n")
    (folder / "fidelity.md").write_text(report_markdown(result, context))
