"""``python -m exporter heads train DATA --name NAME --out HEAD_DIR``: a task head on the device's embedding.

DATA: a folder with one sub-folder of audio per class, or a CSV ``file,label[,split]``. The
embeddings are the export's reference-board integers, dequantized (what the device computes); the
head (exporter/heads.py) is chosen on a validation split and measured on a held-out split: float
head on float embeddings, on the device's embeddings, and the int8 head the export will run.
``python -m exporter export --head HEAD_DIR`` then puts it on the device.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from exporter.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="heads_command", metavar="SUBCOMMAND", required=True)
    t = sub.add_parser("train", help="train a head on labelled audio and report its held-out accuracy",
                       description="Train a task head on the device's embeddings of labelled audio.")
    t.add_argument("data", metavar="DATA", type=Path,
                   help="folder with one sub-folder of audio files per class, or a CSV `file,label[,split]` "
                        "(split: train, valid or test; a file with several labels makes a multi-label head)")
    t.add_argument("--name", required=True, help="head name: a letter, then letters, digits or _ (at most 32)")
    t.add_argument("--mode", choices=("scene", "timestamp"), default="scene",
                   help="embeddings the head is trained on: one per file, or one per 50 ms (default scene)")
    t.add_argument("--export", metavar="DIR", type=Path, default=None,
                   help="export folder whose embeddings the head uses (default: firmware/generated)")
    t.add_argument("--hidden", type=int, default=None, metavar="N",
                   help="fix the head: N hidden ReLU units, 0 for logistic regression (default: chosen on the "
                        f"validation split among {', '.join(map(str, (0, 32, 64)))})")
    t.add_argument("--seed", type=int, default=0, help="seed of the held-out and validation splits (default 0)")
    t.add_argument("--count-instructions", action="store_true",
                   help="also measure the head on the device: build the qemu-an386 embedder with and without "
                        "it, count the instructions per embedding in QEMU and the flash and RAM it adds "
                        "(needs qemu-system-arm and the Arm GNU toolchain; about a minute)")
    t.add_argument("--out", metavar="HEAD_DIR", type=Path, required=True,
                   help="folder to create (new or empty): head.json, head.npz, report.md/json, confusion.png")


def run(args: argparse.Namespace) -> int:
    from exporter import defaults, heads
    from exporter.quantization.graph import Graph
    from exporter.outputs import check_out_folder

    check_out_folder(args.out)
    if not heads.NAME_RE.match(args.name):
        raise UserError(f"--name {args.name!r}: a letter, then letters, digits or _ (at most 32 characters)")
    ds = heads.load_dataset(args.data)
    export_dir = args.export or defaults.GENERATED_DIR
    graph = Graph.load(export_dir)
    if args.hidden is not None and not 0 <= args.hidden <= 256:
        raise UserError(f"--hidden {args.hidden}: 0 (logistic regression) to 256 units")
    if args.count_instructions:  # before the slow work
        from exporter.benchmark.heads import BOARD
        from exporter.manifest import load_export

        load_export(export_dir, c_sources=True)
        for tool, why in (("qemu-system-arm", "QEMU"), ("arm-none-eabi-gcc", "the Arm GNU toolchain"), ("cmake", "CMake")):
            if shutil.which(tool) is None:
                raise UserError(f"--count-instructions needs {why} ('{tool}' is not on PATH; bash ci/setup.sh "
                                f"installs it) to build and run the {BOARD} firmware")
    result = train(ds, graph, Path(export_dir), args.name, args.mode, args.seed,
                   None if args.hidden is None else (args.hidden,))

    def write(tmp: Path) -> None:
        heads.save_head(tmp, result["head"], result["meta"])
        if args.count_instructions:  # the head just saved, on the device
            from exporter.benchmark.heads import measure

            result["report"]["device_cost"] = measure(Path(export_dir), [tmp], args.mode)
        write_head_dir(tmp, result)

    _write_atomically(args.out, write)
    r = result["report"]
    key = heads.main_metric(ds.multi_label)
    cost = r.get("device_cost")
    counted = (f"; {cost['instructions_per_embedding']:,.0f} instructions per embedding on {cost['board']}"
               if cost else "")
    print(f"head {args.name}: {len(ds.classes)} classes, {'multi' if ds.multi_label else 'single'}-label, "
          f"{r['model']}; held-out {key}: float {r['held_out']['float_head_float_embeddings'][key]:.3f}, "
          f"device {r['held_out']['int8_head_device_embeddings'][key]:.3f}{counted} -> {args.out}")
    return 0


def _embed_all(ds, graph, export_dir: Path, mode: str):
    """Device integers and float embeddings per file; unreadable files are named and dropped."""
    import numpy as np

    from exporter.audio.files import load_audio, to_pcm16
    from exporter.boards import reference
    from exporter.float_model.embed import FloatEmbedder

    embed_q = reference.embedder(mode, export_dir)
    fe = FloatEmbedder(float_model(graph))
    q, f, keep = [], [], []
    for i, path in enumerate(ds.files):
        try:
            x = load_audio(path)
            qi = embed_q(to_pcm16(x))
        except UserError as e:
            print(f"warning: skipped {path}: {e}", file=sys.stderr)
            continue
        fi = (fe.scene(x[None]) if mode == "scene" else fe.timestamp(x[None])[0])[0].numpy()
        q.append(np.atleast_2d(qi))
        f.append(np.atleast_2d(fi))
        keep.append(i)
    for c in ds.classes:
        if not any(c in ds.labels[i] for i in keep):
            raise UserError(f"class {c!r} has no readable audio (every file failed; see the warnings above)")
    return q, f, keep


def float_model(graph):
    """The float network the export was made from (graph.json ``model``)."""
    from exporter import ROOT
    from exporter.float_model.checkpoint import resolve_model

    m = graph.meta["model"]
    if m["source"] == "random":
        return resolve_model(weights="random", seed=m["seed"], width=m["width"])[0]
    if m["source"] == "official":
        return resolve_model(model=m["name"])[0]
    path = Path(m["checkpoint"])
    return resolve_model(checkpoint=path if path.is_absolute() else ROOT / path)[0]


def train(ds, graph, export_dir: Path, name: str, mode: str, seed: int = 0, hidden_choices=None) -> dict:
    import numpy as np

    from exporter import heads
    from exporter.quantization import qembed

    q_files, f_files, keep = _embed_all(ds, graph, export_dir, mode)
    y_files = ds.targets()[keep]
    sub = heads.Dataset([ds.files[i] for i in keep], [ds.labels[i] for i in keep], ds.classes,
                        [ds.split[i] for i in keep] if ds.split else None, ds.multi_label)
    heads._checked(sub)
    idx_files = heads.split_indices(sub, seed)
    # One row per embedding (timestamp mode: many per file, each with its file's labels); the
    # splits are by file, so no clip is in two of them.
    q_all = np.concatenate(q_files).astype(np.int16)
    f_all = np.concatenate(f_files).astype(np.float64)
    file_of = np.concatenate([np.full(len(q), i) for i, q in enumerate(q_files)])
    y_all = y_files[file_of]
    x_all = qembed.dequantize(graph, q_all).astype(np.float64)
    idx = {s: np.flatnonzero(np.isin(file_of, v)) for s, v in idx_files.items()}
    head, trials = heads.select_and_fit(x_all, y_all, idx, ds.multi_label, seed,
                                        hidden_choices or heads.HIDDEN_CHOICES)
    both = np.concatenate([idx["train"], idx["valid"]])
    meta = {"format": heads.HEAD_FORMAT, "version": 1, "name": name, "classes": list(ds.classes),
            "multi_label": ds.multi_label, "mode": mode, "layers": len(head.layers),
            "hidden": int(head.layers[0][0].shape[0]) if len(head.layers) > 1 else 0,
            "embedding_dim": int(x_all.shape[1]), "embedding_layout": heads.layout(graph),
            "graph_hash": heads.graph_hash(graph), "export": str(export_dir), "model": graph.meta["model"]["name"],
            "ranges": heads.calibrate_ranges(head, x_all[both]), "seed": seed}
    # The int8 head, exactly as the export will build it, on the device's integers.
    q = heads.quantize_head(graph, head, meta)
    hg_graph = type(graph)({**graph.meta, "heads": [q["entry"]]}, {**graph.arrays, **q["arrays"]})
    test = idx["test"]
    logits_q = heads.run_heads(hg_graph, q_all[test])[name]
    logits_int8 = heads.dequantize_logits(q["entry"], logits_q)
    y_test = y_all[test]
    float_dev = head.logits(x_all[test])
    held = {
        "float_head_float_embeddings": heads.metrics(head.logits(f_all[test]), y_test, ds.multi_label),
        "float_head_device_embeddings": heads.metrics(float_dev, y_test, ds.multi_label),
        "int8_head_device_embeddings": heads.metrics(logits_int8, y_test, ds.multi_label),
    }
    zp = q["entry"]["tensors"][q["entry"]["output"]]["zero_point"]
    if ds.multi_label:  # the decisions: logit > 0, i.e. the integer above the zero point
        agreement = float(np.mean((float_dev > 0) == (logits_q.astype(int) > zp)))
    else:
        agreement = float(np.mean(np.argmax(float_dev, -1) == np.argmax(logits_q, -1)))
    key = heads.main_metric(ds.multi_label)
    # the target: the device (int8 head, device embeddings) at most 1 point below float (float head, float embeddings)
    gap = held["int8_head_device_embeddings"][key] - held["float_head_float_embeddings"][key]
    report = {
        "name": name, "classes": ds.classes, "multi_label": ds.multi_label, "mode": mode,
        "model": "logistic regression" if meta["hidden"] == 0 else f"one hidden layer of {meta['hidden']} (ReLU)",
        "files": {s: int(len(v)) for s, v in idx_files.items()},
        "embeddings": {s: int(len(v)) for s, v in idx.items()},
        "skipped_files": [str(p) for i, p in enumerate(ds.files) if i not in set(keep)],
        "validation_trials": trials, "held_out": held,
        "device_minus_float_points": 100.0 * gap, "within_1_point": bool(gap >= -0.01),
        "int8_vs_float_head_agreement": agreement,
        "cost": head_cost(q["entry"], q["arrays"]),
        "quantization_notes": q["entry"]["quantization_notes"],
        "export": str(export_dir), "graph_hash": meta["graph_hash"],
    }
    return {"head": head, "meta": meta, "report": report, "y_test": y_test, "pred_test": logits_q,
            "logits_zero_point": zp}


def head_cost(entry: dict, arrays: dict) -> dict:
    """Flash (constant arrays), RAM (the int8 input, hidden and logits buffers) and MACs of one head."""
    flash = sum(int(arrays[op[f]].nbytes) for op in entry["ops"] for f in ("center", "weights", "bias", "mult", "shift")
                if f in op)
    ram = sum(t["channels"] for t in entry["tensors"].values())
    macs = sum(int(arrays[op["weights"]].size) for op in entry["ops"] if op["op"] == "fully_connected")
    return {"flash_bytes": flash, "ram_bytes": ram, "macs": macs}


def write_head_dir(folder: Path, result: dict) -> None:
    from exporter import heads

    heads.save_head(folder, result["head"], result["meta"])
    r = result["report"]
    (folder / "report.json").write_text(json.dumps(r, indent=1) + "\n")
    (folder / "report.md").write_text(report_markdown(r))
    confusion_png(folder / "confusion.png", result, r)


def report_markdown(r: dict) -> str:
    rows = "\n".join(f"| {k.replace('_', ' ')} | " + ", ".join(f"{m} {v:.3f}" for m, v in vals.items()) + " |"
                     for k, vals in r["held_out"].items())
    return (f"# Head `{r['name']}`\n\n{len(r['classes'])} classes ({', '.join(r['classes'])}), "
            f"{'multi' if r['multi_label'] else 'single'}-label, {r['mode']} embeddings; {r['model']} "
            f"(chosen on the validation split).\n\nFiles train/valid/test: {r['files']['train']}/"
            f"{r['files']['valid']}/{r['files']['test']}; embeddings: {r['embeddings']}.\n\n"
            f"## Held-out split\n\n| head on embeddings | metrics |\n| --- | --- |\n{rows}\n\n"
            f"Device (int8 head on the device's embeddings) minus float (float head on float embeddings): "
            f"{r['device_minus_float_points']:+.1f} points ({'within' if r['within_1_point'] else 'NOT within'} 1 point "
            f"of float or better). "
            f"int8 head agrees with the float head on {100 * r['int8_vs_float_head_agreement']:.1f}% of the "
            f"held-out decisions.\n\n## On the device\n\n{_device_cost_markdown(r)}\n\n"
            f"Export: `{r['export']}` (graph {r['graph_hash'][:12]}).\n")


def _device_cost_markdown(r: dict) -> str:
    c, d = r["cost"], r.get("device_cost")
    lines = ["| per embedding | measured |", "| --- | --- |"]
    if d:
        lines += [f"| instructions (the head and its scores frame; {d['board']}, {d['mode']} mode, QEMU -icount) | "
                  f"{d['instructions_per_embedding']:,.0f} |",
                  f"| flash added to the image (code and constants) | {d['flash_bytes']:,} B |",
                  f"| RAM added to the image (.data + .bss) | {d['ram_bytes']:,} B |"]
    else:
        lines.append("| instructions | not counted (`heads train --count-instructions` counts them in QEMU) |")
    lines += [f"| the head's constants (weights, biases, requantization) | {c['flash_bytes']:,} B |",
              f"| its buffers (int8 input, hidden, logits) | {c['ram_bytes']:,} B |",
              f"| multiply-accumulates | {c['macs']:,} |"]
    return "\n".join(lines)


def confusion_png(path: Path, result: dict, r: dict) -> None:
    """Held-out confusion of the int8 head on the device's embeddings (multi-label: true label x
    predicted label counts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    classes, y, pred = r["classes"], result["y_test"], result["pred_test"]
    n = len(classes)
    m = np.zeros((n, n), dtype=int)
    if r["multi_label"]:
        fired = np.asarray(pred, dtype=int) > result["logits_zero_point"]  # logit > 0: sigmoid > 0.5
        for yi, fi in zip(y, fired):
            for a in np.flatnonzero(yi):
                for b in np.flatnonzero(fi):
                    m[a, b] += 1
    else:
        for a, b in zip(y, np.argmax(pred, axis=-1)):
            m[a, b] += 1
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * n, 1.0 + 0.6 * n))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted (int8 head, device embeddings)")
    ax.set_ylabel("true")
    for a in range(n):
        for b in range(n):
            ax.text(b, a, str(m[a, b]), ha="center", va="center", color="black")
    ax.set_title(f"{r['name']}: held-out")
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)


def _write_atomically(out: Path, write) -> None:
    """Write into a temporary folder beside ``out``, then move it into place: nothing half-written."""
    from exporter.outputs import follow_umask, make_parents, remove_folders

    out = Path(out)
    created = make_parents(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        follow_umask(tmp, folder=True)
        write(tmp)
        if out.is_dir():  # an existing empty folder: filled in place
            for entry in sorted(tmp.iterdir()):
                os.replace(entry, out / entry.name)
            tmp.rmdir()
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_folders(created)
        raise
