"""``python -m exporter export``: checkpoint -> int8 graph, ONNX models, C sources and reports.

The export folder holds manifest.json (the tool version and the graph's hash,
exporter/manifest.py), graph.json/graph.npz (the one source of truth),
model_int.onnx (bit-exact reference), model_qdq.onnx (for other tools), the C
sources (network.*, logmel_tables.*) and reports/ (fidelity, QDQ
differences), and is a self-contained C library (exporter/codegen/library.py: the
kernels, the frontend, the streaming API efat.h and the build files). It is written into a temporary folder and moved into place at the
end (see export_to), so a failed or interrupted export leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from exporter import ROOT, defaults, manifest
from exporter.errors import UserError
from exporter.outputs import check_out_folder, follow_umask, make_parents, remove_folders

REPORTS = "reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from exporter.float_model.checkpoint import add_model_arguments

    add_model_arguments(parser)
    parser.add_argument("--calibration", metavar="DIR", type=Path, default=None,
                        help="folder of calibration audio (wav, flac, ogg; first 10 s of each); "
                             "default: the built-in deterministic synthetic set")
    parser.add_argument("--percentile", type=float, default=defaults.PERCENTILE,
                        help="activation ranges from a fixed percentile in (50, 100] (100 = min/max) instead of "
                             "the default: per tensor, the range with the least quantization error")
    parser.add_argument("--calibration-seed", type=int, default=defaults.CALIBRATION_SEED,
                        help="seed of the built-in calibration set, 0 ... 2^32-1")
    parser.add_argument("--calibration-clips", type=int, default=defaults.CALIBRATION_CLIPS,
                        help="clips in the built-in calibration set")
    parser.add_argument("--calibration-timestamp-windows", type=int, default=defaults.CALIBRATION_TIMESTAMP_WINDOWS,
                        metavar="N",
                        help="160 ms timestamp windows of each calibration clip observed beside its scene window, "
                             f"so that the ranges also fit timestamp mode (0: scene windows only; default "
                             f"{defaults.CALIBRATION_TIMESTAMP_WINDOWS})")
    parser.add_argument("--fidelity-clips", type=int, default=None,
                        help="held-out clips for the fidelity report (default 28)")
    parser.add_argument("--head", metavar="HEAD_DIR", type=Path, action="append", default=[],
                        help="a task head (python -m exporter heads train) to run on the device after each "
                             "embedding; repeat for several. It must have been trained on this export's graph")
    parser.add_argument("--optimize", choices=("speed", "size"), default="speed",
                        help="speed (default): the kernel instances of the network's shapes, with records and "
                             "tables prepared for them; size: the general kernels alone, for the smallest flash "
                             "(mn01: 36 KB less flash, 2.3-2.7 times the instructions; build with -Os); the same integers")
    parser.add_argument("--out", metavar="DIR", type=Path, required=True,
                        help="export folder to create (must not exist or be empty)")
    parser.epilog = (f"Without model arguments, the default model (exporter/defaults.py: the trained mn01 {defaults.CHECKPOINT.name}, "
                     "shipped with the package) is exported. The folder records this tool version (manifest.json): "
                     "other versions refuse it.")


def _model_info(info) -> dict:
    path = info.path
    if path is not None:
        p = Path(path).resolve()
        path = str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
    return {"name": info.name, "width": info.width, "source": info.source, "checkpoint": path,
            "checkpoint_sha256": info.sha256, "seed": info.seed}


def check_out_dir(out: Path) -> None:
    """``out`` is new (its parent writable or creatable) or an empty writable folder."""
    check_out_folder(out)


def build_graph(model, info, calibration: Path | None = None, percentile: float = defaults.PERCENTILE,
                calibration_seed: int = defaults.CALIBRATION_SEED, calibration_clips: int = defaults.CALIBRATION_CLIPS,
                calibration_seconds: float = defaults.CALIBRATION_SECONDS,
                timestamp_windows: int = defaults.CALIBRATION_TIMESTAMP_WINDOWS, progress: bool = True):
    """Fold, calibrate, quantize and bias-correct ``model``: the integer graph (meta["calibration"] says how).
    ``timestamp_windows``: 160 ms windows per calibration clip observed beside its scene window."""
    import numpy as np

    from exporter.quantization import calibrate
    from exporter.quantization.fold import fold_model
    from exporter.quantization.quantize import correct_biases, quantize_graph

    fgraph = fold_model(model)
    groups, source = calibrate.calibration_windows(calibration, calibration_seed, calibration_clips,
                                                   calibration_seconds, timestamp_windows, progress=progress)
    ranges, tap_factors = calibrate.calibrated_ranges(fgraph, groups, percentile, progress=progress)
    info_calib = {"source": source, "clips": len(groups["scene"]), "percentile": percentile,
                  "tap_range_factors": tap_factors, "bias_correction": True}
    if timestamp_windows:
        info_calib["timestamp_windows"] = len(groups.get("timestamp", []))
    graph = quantize_graph(fgraph, ranges, _model_info(info), extra={"calibration": info_calib})
    correct_biases(graph, fgraph, {g: [np.round(m * 4096).astype(np.int16) for m in mels] for g, mels in groups.items()})
    graph.validate()
    return graph


def write_export(model, info, folder: Path, calibration: Path | None = None, percentile: float = defaults.PERCENTILE,
                 calibration_seed: int = defaults.CALIBRATION_SEED, calibration_clips: int = defaults.CALIBRATION_CLIPS,
                 calibration_seconds: float = defaults.CALIBRATION_SECONDS,
                 timestamp_windows: int = defaults.CALIBRATION_TIMESTAMP_WINDOWS, fidelity_clips: int | None = None,
                 fidelity_seconds: float | None = None, progress: bool = True, library: bool = True,
                 heads: list[Path] = (), optimize: str = "speed") -> dict:
    """Write every export file into ``folder`` (which must exist). Returns a summary.

    ``library``: add the C library's static sources and build files (exporter/codegen/library.py);
    firmware/generated/ goes without them, the repository has them in firmware/.
    ``heads``: HEAD_DIRs whose heads are quantized into the graph (exporter/heads.py).
    ``optimize``: the C network's kernels (exporter/codegen/network.py, OPTIMIZE)."""
    import numpy as np
    import onnx

    from exporter.quantization import fidelity
    from exporter.reference import onnx_int
    from exporter.reference import onnx_qdq
    from exporter.codegen.network import render_network
    from exporter.frontend.fixed import logmel_q12
    from exporter.frontend.render import render_frontend
    from exporter.audio.files import to_pcm16
    from exporter.codegen.library import write_library

    graph = build_graph(model, info, calibration, percentile, calibration_seed, calibration_clips,
                        calibration_seconds, timestamp_windows, progress)
    if heads:
        from exporter.heads import add_heads

        add_heads(graph, list(heads))  # checks each was trained on this very graph
        graph.validate()
    source, tap_factors = graph.meta["calibration"]["source"], graph.meta["calibration"]["tap_range_factors"]
    graph.save(folder)
    int_model = onnx_int.build_model(graph)
    onnx.save(int_model, folder / "model_int.onnx")
    qdq_model = onnx_qdq.build_model(graph)
    onnx.save(qdq_model, folder / "model_qdq.onnx")
    plan = render_network(graph, folder, max_frames=defaults.MAX_FRAMES, optimize=optimize)
    render_frontend(folder)
    if graph.meta.get("heads"):
        from exporter.codegen.network import render_heads

        onnx.save(onnx_int.build_heads_model(graph), folder / "heads_int.onnx")
        render_heads(graph, folder)
    if library:
        write_library(folder, graph, plan)
    manifest.write(folder, graph)

    reports = folder / REPORTS
    reports.mkdir()
    clips = fidelity.held_out_clips(n=fidelity_clips or fidelity.HELD_OUT_CLIPS,
                                    seconds=fidelity_seconds or fidelity.HELD_OUT_SECONDS)
    fid = fidelity.evaluate(model, graph, clips)
    ranges = "least-error ranges" if percentile is None else f"percentile {percentile}"
    fidelity.write_report(fid, reports, context=f"Model `{info.name}`; calibration: {source}, {ranges}, "
                                 f"tapped ranges narrowed by {tap_factors}.", notes=graph.meta.get("quantization_notes"))
    # QDQ vs integer: the held-out clips as scene windows and as 160 ms windows.
    qdq_inputs = []
    for _, clip in clips:
        mel = logmel_q12(to_pcm16(clip))
        qdq_inputs += [mel, mel[:16]]
    qdq = onnx_qdq.compare(graph, qdq_model, int_model, qdq_inputs)
    (reports / "qdq.json").write_text(json.dumps(qdq, indent=1) + "\n")
    (reports / "qdq.md").write_text(onnx_qdq.report_markdown(qdq))
    summary = {
        "model": graph.meta["model"], "calibration": graph.meta["calibration"],
        "ops": len(graph.ops), "tap_dim": graph.tap_dim,
        "macs": {str(t): int(np.sum(graph.macs(t))) for t in defaults.MAX_FRAMES},
        "fidelity": fid["summary"], "fidelity_target_met": fid["target_met"],
        "fidelity_out_of_reach": fidelity.out_of_reach(fid),
        "quantization_notes": graph.meta.get("quantization_notes", []),
        "qdq_max_abs_steps": qdq["max_abs_steps"],
        "arena": plan,
        "heads": [h["name"] for h in graph.meta.get("heads", [])],
        "optimize": optimize,
    }
    (reports / "export.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary


def export_to(out: Path, replace: bool = False, **kwargs) -> dict:
    """Export into ``out`` so that a failed or interrupted export leaves nothing behind.

    A new ``out``: written into a temporary sibling folder, renamed into place when complete.
    An existing empty ``out`` (perhaps a mount point, which cannot be removed or renamed over):
    filled in place, through a temporary folder inside it. ``replace``: an existing ``out`` is
    replaced whatever it holds (firmware/generated/, the run cache).
    """
    out = Path(out)
    if not replace:
        check_out_dir(out)
        if out.is_dir():
            return _fill_in_place(out, kwargs)
    created = make_parents(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        follow_umask(tmp, folder=True)  # becomes the export folder: not mkdtemp's 0700
        summary = write_export(folder=tmp, **kwargs)
        if replace and out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)  # fails, rather than mixing, if someone made a non-empty `out` meanwhile
        return summary
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_folders(created)
        raise


def _fill_in_place(out: Path, kwargs: dict) -> dict:
    """Export into the existing empty folder ``out`` without removing or replacing it."""
    tmp = Path(tempfile.mkdtemp(prefix=".export-tmp-", dir=out))  # same file system: the moves are renames
    moved: list[Path] = []
    try:
        summary = write_export(folder=tmp, **kwargs)
        others = sorted(p.name for p in out.iterdir() if p != tmp)
        if others:
            raise UserError(f"output folder {out} was written to during the export ({', '.join(others[:5])}): "
                            f"nothing exported into it")
        for entry in sorted(tmp.iterdir()):
            moved.append(out / entry.name)
            os.replace(entry, out / entry.name)
        tmp.rmdir()
        return summary
    except BaseException:
        for p in moved:  # an interruption between the moves: take back what was moved
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _print_summary(out: Path, summary: dict) -> None:
    from exporter.quantization.fidelity import TARGET_MEAN_COSINE, TARGET_MIN_COSINE

    fid = " ".join(f"{k}={v['mean_cosine']:.4f}/{v['min_cosine']:.3f}" for k, v in summary["fidelity"].items())
    print(f"exported {summary['model']['name']} to {out}: {summary['ops']} ops, tap dim {summary['tap_dim']}")
    print(f"fidelity (cosine per section, mean/worst clip; target {TARGET_MEAN_COSINE}/{TARGET_MIN_COSINE} "
          f"{'met' if summary['fidelity_target_met'] else 'NOT met'}): {fid}")
    if summary["fidelity_out_of_reach"]:
        print(f"  out of reach for this model with int8 input and weights: {', '.join(summary['fidelity_out_of_reach'])} "
              f"(see fidelity.md)")
    for note in summary.get("quantization_notes", []):
        print(f"  note: {note['tensor']}: {note['case']}")
    print(f"reports: {out / REPORTS}")


def model_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, a, None) is not None for a in ("checkpoint", "model", "weights"))


def resolve_model_or_default(args: argparse.Namespace):
    """The model of the model arguments, or the default configuration's (exporter/defaults.py) without any."""
    from exporter.float_model.checkpoint import resolve_model, resolve_model_args

    return resolve_model_args(args) if model_given(args) else resolve_model(checkpoint=defaults.CHECKPOINT)


def run(args: argparse.Namespace) -> int:
    from exporter.quantization.calibrate import check_percentile

    from exporter.float_model.checkpoint import check_seed

    check_out_dir(args.out)  # fail before the (slow) work
    check_percentile(args.percentile)
    check_seed(args.calibration_seed, "--calibration-seed")
    if args.calibration_clips < 1 or (args.fidelity_clips is not None and args.fidelity_clips < 1):
        raise UserError("--calibration-clips and --fidelity-clips must be at least 1")
    if not 0 <= args.calibration_timestamp_windows <= 100:
        raise UserError(f"--calibration-timestamp-windows must be in 0 .. 100, got {args.calibration_timestamp_windows}")
    model, info = resolve_model_or_default(args)
    _check_heads_early(args.head, info)
    summary = export_to(args.out, model=model, info=info, calibration=args.calibration, percentile=args.percentile,
                        heads=args.head, optimize=args.optimize,
                        calibration_seed=args.calibration_seed, calibration_clips=args.calibration_clips,
                        timestamp_windows=args.calibration_timestamp_windows,
                        fidelity_clips=args.fidelity_clips, progress=sys.stderr.isatty())
    _print_summary(args.out, summary)
    return 0


def _check_heads_early(head_dirs: list[Path], info) -> None:
    """Before the slow work: each head folder loads and was trained on this model's export. (The
    graph hash, checked once the graph is built, is the final word.)"""
    from exporter.heads import load_head

    for folder in head_dirs:
        _, meta = load_head(folder)
        if meta.get("model") != info.name:
            raise UserError(f"head {meta['name']} ({folder}) was trained on an export of {meta.get('model')}, "
                            f"not {info.name}: train it on this export")


def regenerate_default() -> int:
    """Regenerate firmware/generated/ for the default configuration (exporter/defaults.py)."""
    from exporter.float_model.checkpoint import resolve_model

    model, info = resolve_model(checkpoint=defaults.CHECKPOINT)
    summary = export_to(defaults.GENERATED_DIR, replace=True, model=model, info=info,
                        calibration=defaults.CALIBRATION_FOLDER, percentile=defaults.PERCENTILE,
                        calibration_seed=defaults.CALIBRATION_SEED, calibration_clips=defaults.CALIBRATION_CLIPS,
                        calibration_seconds=defaults.CALIBRATION_SECONDS,
                        timestamp_windows=defaults.CALIBRATION_TIMESTAMP_WINDOWS, progress=sys.stderr.isatty(),
                        library=False)  # the repository's firmware/ holds the library's other files
    _print_summary(defaults.GENERATED_DIR, summary)
    return 0
