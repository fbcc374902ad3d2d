"""Task heads on the device's embedding: labelled data, training, the int8 head and its integer ops.

A head is a shallow classifier on the M_B+L embedding (HEAR's recipe: standardization, then
logistic regression or one hidden ReLU layer, chosen on a validation split). It is trained on the
embeddings the device computes (the reference board's integers, dequantized), so the quantized
network is part of what it learns from.

Quantized, a head is a few ops of the integer graph (graph.json ``heads``, docs/int8-graph.md):

- ``embed_quantize``: the embedding integers (int16: L in Q12, the taps int8 with their own
  scale and zero point) -> one int8 vector, *standardized*: ``x[j] = clamp(requant(q[j] - center[j],
  mult[j], shift[j]))``. Standardization is a per-element scale (folded into mult) and offset
  (the integer ``center``; its rounding is folded into the next layer's bias), so every element
  uses the whole int8 range whatever its section's scale, which one shared scale could not give.
- ``fully_connected`` (ReLU) for the hidden layer, if any, then ``fully_connected`` to the class
  logits (int8). Scores on the host: softmax (single-label) or sigmoid (multi-label) of the
  dequantized logits; the top class is the argmax of the integers.

A HEAD_DIR holds ``head.json`` (classes, kind, mode, embedding layout, the export's graph hash,
the calibrated ranges of the int8 head), ``head.npz`` (float parameters) and ``report.*``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporter.errors import UserError

HEAD_FORMAT = "efficientat-m4/head"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")  # a C identifier part and a UART name
CLASS_RE = re.compile(r"^[A-Za-z0-9_ .+-]{1,64}$")  # goes into C string literals as it is
MIN_PER_CLASS = 4  # train, validation and held-out need a file each, stratified
HELD_OUT_FRACTION = 0.25
VALID_FRACTION = 0.2
HIDDEN_CHOICES = (0, 32, 64)  # 0: logistic regression
C_CHOICES = (0.1, 1.0, 10.0)  # inverse L2 strength of the logistic regression
EMBEDDING = "embedding"  # the heads' input tensor: the embedding integers, int16 [D]
ARRAY_PREFIX = "heads."  # graph.npz keys of the heads (not part of the network's hash)


# ---- the export's identity ------------------------------------------------------------------


def graph_hash(graph) -> str:
    """sha256 of the network part of an integer graph (everything but its heads): a head is
    valid for exactly the graph whose embeddings it was trained on."""
    meta = {k: v for k, v in graph.meta.items() if k != "heads"}
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for key in sorted(k for k in graph.arrays if not k.startswith(ARRAY_PREFIX)):
        a = np.ascontiguousarray(graph.arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def layout(graph) -> list[dict]:
    """The embedding's sections with their dequantization (what a head's input means)."""
    from exporter.quantization import qembed

    out = []
    for name, sl in qembed.sections(graph):
        if name == "L":
            scale, zp = 1.0 / (1 << graph.meta["input"]["frac_bits"]), 0
        else:
            tap = next(t for t in graph.taps if t["name"] == name)
            scale, zp = tap["scale"], tap["zero_point"]
        out.append({"name": name, "offset": sl.start, "size": sl.stop - sl.start, "scale": scale, "zero_point": zp})
    return out


def element_scales(graph) -> tuple[np.ndarray, np.ndarray]:
    """Per element of the embedding: (scale, zero point), real = scale * (q - zero point)."""
    lay = layout(graph)
    d = sum(s["size"] for s in lay)
    scale, zp = np.empty(d), np.zeros(d, dtype=np.int64)
    for s in lay:
        scale[s["offset"]:s["offset"] + s["size"]] = s["scale"]
        zp[s["offset"]:s["offset"] + s["size"]] = s["zero_point"]
    return scale, zp


# ---- labelled data -------------------------------------------------------------------------


@dataclass
class Dataset:
    files: list[Path]
    labels: list[tuple[str, ...]]  # one (single-label) or more (multi-label) per file
    classes: list[str]
    split: list[str] | None = None  # "train" / "valid" / "test" per file, when given
    multi_label: bool = False
    skipped: list[str] = field(default_factory=list)

    def targets(self) -> np.ndarray:
        """Class index per file (single-label) or an indicator matrix [n][C] (multi-label)."""
        idx = {c: i for i, c in enumerate(self.classes)}
        if not self.multi_label:
            return np.array([idx[lab[0]] for lab in self.labels])
        y = np.zeros((len(self.labels), len(self.classes)), dtype=np.int64)
        for i, labs in enumerate(self.labels):
            y[i, [idx[c] for c in labs]] = 1
        return y


_SPLITS = {"train": "train", "valid": "valid", "validation": "valid", "val": "valid", "test": "test",
           "held-out": "test", "heldout": "test", "eval": "test"}


def load_dataset(data: str | Path) -> Dataset:
    """A folder with one sub-folder per class, or a CSV ``file,label[,split]`` (paths relative to
    the CSV; a file listed with several labels, or labels joined by ``;``, makes the task
    multi-label). Every problem is a UserError naming it."""
    data = Path(data)
    if data.is_dir():
        return _load_folder(data)
    if data.is_file() and data.suffix.lower() == ".csv":
        return _load_csv(data)
    raise UserError(f"{data}: not a folder of class folders nor a .csv file")


def _load_folder(folder: Path) -> Dataset:
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise UserError(f"{folder}: no class folders (expected one sub-folder of audio files per class)")
    files, labels = [], []
    for c in classes:
        found = sorted(p for p in (folder / c).iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not found:
            raise UserError(f"class folder {folder / c} has no audio files ({', '.join(AUDIO_SUFFIXES)})")
        files += found
        labels += [(c,)] * len(found)
    return _checked(Dataset(files, labels, classes))


def _load_csv(path: Path) -> Dataset:
    try:
        rows = [r for r in csv.reader(path.read_text().splitlines()) if r and any(x.strip() for x in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"{path}: cannot read the CSV ({e})") from None
    if rows and [x.strip().lower() for x in rows[0][:2]] == ["file", "label"]:
        rows = rows[1:]
    per_file: dict[Path, list[str]] = {}
    split: dict[Path, str] = {}
    for n, r in enumerate(rows, 1):
        if len(r) not in (2, 3) or not r[0].strip() or not r[1].strip():
            raise UserError(f"{path}: row {n} is not `file,label[,split]`: {','.join(r)!r}")
        f = (path.parent / r[0].strip()).resolve()
        labs = per_file.setdefault(f, [])
        labs += [x.strip() for x in r[1].split(";") if x.strip() and x.strip() not in labs]
        if len(r) == 3:
            s = _SPLITS.get(r[2].strip().lower())
            if s is None:
                raise UserError(f"{path}: row {n}: unknown split {r[2]!r} (train, valid or test)")
            if split.setdefault(f, s) != s:
                raise UserError(f"{path}: {r[0]} is listed in two splits")
    if not per_file:
        raise UserError(f"{path}: no rows")
    missing = [str(f) for f in per_file if not f.is_file()]
    if missing:
        raise UserError(f"{path}: {len(missing)} listed file(s) do not exist: {', '.join(missing[:3])}"
                        + (" ..." if len(missing) > 3 else ""))
    if split and len(split) != len(per_file):
        raise UserError(f"{path}: the split column must be given for every row or for none")
    files = list(per_file)
    labels = [tuple(sorted(per_file[f])) for f in files]
    classes = sorted({c for labs in labels for c in labs})
    multi = any(len(labs) > 1 for labs in labels)
    return _checked(Dataset(files, labels, classes, [split[f] for f in files] if split else None, multi))


def _checked(ds: Dataset) -> Dataset:
    if len(ds.classes) < 2:
        raise UserError(f"only one class ({ds.classes[0]!r}): a head needs at least two")
    if len(ds.classes) > 255:
        raise UserError(f"{len(ds.classes)} classes: a head has at most 255")
    bad = [c for c in ds.classes if not CLASS_RE.match(c)]
    if bad:
        raise UserError(f"class name {bad[0]!r}: use letters, digits, space and _ . + - (at most 64 characters)")
    for c in ds.classes:
        n = sum(c in labs for labs in ds.labels)
        if ds.split is None and n < MIN_PER_CLASS:
            raise UserError(f"class {c!r} has {n} file(s): at least {MIN_PER_CLASS} are needed "
                            "(training, validation and held-out splits)")
    if ds.split is not None:
        for s in ("train", "test"):
            if s not in ds.split:
                raise UserError(f"the split column names no {s!r} file")
    return ds


def split_indices(ds: Dataset, seed: int = 0) -> dict[str, np.ndarray]:
    """File indices of train / valid / test: the given split, else seeded and stratified
    (by label; multi-label: by the first label)."""
    from sklearn.model_selection import train_test_split

    n = len(ds.files)
    if ds.split is not None:
        sp = np.array(ds.split)
        out = {s: np.flatnonzero(sp == s) for s in ("train", "valid", "test")}
        if not out["valid"].size:
            out["train"], out["valid"] = _split(out["train"], [ds.labels[i][0] for i in out["train"]], seed)
        return out
    strata = _strata([labs[0] for labs in ds.labels])
    # at least one file of each stratum in every split
    size = max(int(round(HELD_OUT_FRACTION * n)), len(set(strata)) if strata else 1)
    rest, test = train_test_split(np.arange(n), test_size=size, random_state=seed, stratify=strata)
    strata = [labs[0] for labs in ds.labels]
    train, valid = _split(np.sort(rest), [strata[i] for i in np.sort(rest)], seed)
    return {"train": train, "valid": valid, "test": np.sort(test)}


def _strata(strata: list[str]) -> list[str] | None:
    """Stratify by these labels where possible: every stratum needs two files (a multi-label
    task's first labels may not have them); else a plain seeded split."""
    return strata if min(strata.count(s) for s in set(strata)) >= 2 else None


def _split(idx: np.ndarray, strata: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    strat = _strata(strata)
    size = max(int(round(VALID_FRACTION * len(idx))), len(set(strata)) if strat else 1)
    a, b = train_test_split(idx, test_size=size, random_state=seed, stratify=strat)
    return np.sort(a), np.sort(b)


# ---- the float head ------------------------------------------------------------------------


@dataclass
class FloatHead:
    mean: np.ndarray  # [D]
    std: np.ndarray  # [D], 1 where the element is constant on the training data
    layers: list[tuple[np.ndarray, np.ndarray]]  # (W [out][in], b [out]); ReLU between layers
    multi_label: bool

    def logits(self, emb: np.ndarray) -> np.ndarray:
        x = (np.asarray(emb, dtype=np.float64) - self.mean) / self.std
        for i, (w, b) in enumerate(self.layers):
            x = x @ w.T + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x

    def hidden_and_logits(self, emb: np.ndarray) -> list[np.ndarray]:
        """Every layer's output (for the int8 head's ranges)."""
        x = (np.asarray(emb, dtype=np.float64) - self.mean) / self.std
        outs = []
        for i, (w, b) in enumerate(self.layers):
            x = x @ w.T + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
            outs.append(x)
        return outs


def scores(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """Class probabilities: sigmoid (multi-label) or softmax."""
    z = np.asarray(logits, dtype=np.float64)
    if multi_label:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def fit(x: np.ndarray, y: np.ndarray, multi_label: bool, hidden: int, c: float, seed: int = 0) -> FloatHead:
    """Standardize, then logistic regression (``hidden`` 0, L2 ``c``) or one hidden ReLU layer."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)  # a constant element carries nothing: leave it unscaled
    z = (x - mean) / std
    n_classes = y.shape[1] if multi_label else int(y.max()) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if hidden == 0:
            if multi_label:  # one binary regression per class (sigmoid outputs)
                ws, bs = [], []
                for k in range(n_classes):
                    if y[:, k].min() == y[:, k].max():  # always (never) present in training: a constant logit
                        ws.append(np.zeros(z.shape[1]))
                        bs.append(4.0 if y[0, k] else -4.0)
                        continue
                    m = LogisticRegression(C=c, max_iter=2000).fit(z, y[:, k])
                    ws.append(m.coef_[0])
                    bs.append(m.intercept_[0])
                layers = [(np.array(ws), np.array(bs))]
            else:
                m = LogisticRegression(C=c, max_iter=2000).fit(z, y)
                layers = [_two_logits(m.coef_, m.intercept_)]
        else:
            m = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1.0 / c, max_iter=1000, random_state=seed).fit(z, y)
            (w1, w2), (b1, b2) = m.coefs_, m.intercepts_
            layers = [(w1.T, b1), _two_logits(w2.T, b2) if not multi_label else (w2.T, b2)]
    return FloatHead(mean, std, [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in layers], multi_label)


def _two_logits(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's binary models have one logit z (class 1); softmax([0, z]) = sigmoid(z)."""
    w, b = np.atleast_2d(w), np.atleast_1d(b)
    if w.shape[0] != 1:
        return w, b
    return np.vstack([np.zeros_like(w), w]), np.concatenate([[0.0], b])


def metrics(logits: np.ndarray, y: np.ndarray, multi_label: bool) -> dict:
    """Single-label: accuracy. Multi-label: mAP (macro average precision) and micro F1 at 0.5."""
    from sklearn.metrics import average_precision_score, f1_score

    if not multi_label:
        return {"accuracy": float(np.mean(np.argmax(logits, axis=-1) == y))}
    pred = (logits > 0).astype(int)
    present = y.sum(axis=0) > 0  # AP is undefined for a class absent from the split
    m_ap = average_precision_score(y[:, present], logits[:, present], average="macro") if present.any() else float("nan")
    return {"mAP": float(m_ap), "f1_micro": float(f1_score(y, pred, average="micro", zero_division=0))}


def main_metric(multi_label: bool) -> str:
    return "mAP" if multi_label else "accuracy"


def select_and_fit(x, y, idx, multi_label: bool, seed: int = 0, hidden_choices=HIDDEN_CHOICES) -> tuple[FloatHead, list[dict]]:
    """Choose hidden size (among ``hidden_choices``) and regularization on the validation split;
    refit on train + valid."""
    key = main_metric(multi_label)
    trials = []
    for hidden in hidden_choices:
        for c in C_CHOICES:
            head = fit(x[idx["train"]], y[idx["train"]], multi_label, hidden, c, seed)
            score = metrics(head.logits(x[idx["valid"]]), y[idx["valid"]], multi_label)[key]
            trials.append({"hidden": hidden, "C": c, f"valid_{key}": score})
    # best score; ties -> the smaller head (fewer bytes and instructions on the device)
    best = max(trials, key=lambda t: (t[f"valid_{key}"], -t["hidden"], t["C"] == 1.0))
    both = np.concatenate([idx["train"], idx["valid"]])
    return fit(x[both], y[both], multi_label, best["hidden"], best["C"], seed), trials


# ---- saving and loading a head -------------------------------------------------------------


def save_head(folder: Path, head: FloatHead, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"mean": head.mean, "std": head.std}
    for i, (w, b) in enumerate(head.layers):
        arrays[f"w{i}"], arrays[f"b{i}"] = w, b
    np.savez(folder / "head.npz", **arrays)
    (folder / "head.json").write_text(json.dumps(meta, indent=1) + "\n")


def load_head(folder: str | Path) -> tuple[FloatHead, dict]:
    folder = Path(folder)
    meta_file, npz_file = folder / "head.json", folder / "head.npz"
    for f in (meta_file, npz_file):
        if not f.is_file():
            raise UserError(f"{folder} is not a head folder (python -m exporter heads train): {f.name} is missing")
    try:
        meta = json.loads(meta_file.read_text())
        with np.load(npz_file, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if meta.get("format") != HEAD_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        n = meta["layers"]
        head = FloatHead(arrays["mean"], arrays["std"], [(arrays[f"w{i}"], arrays[f"b{i}"]) for i in range(n)],
                         bool(meta["multi_label"]))
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise UserError(f"{folder}: damaged head ({type(e).__name__}: {e}): train it again") from None
    return head, meta


def check_compatible(meta: dict, graph, folder) -> None:
    """A head runs only on the graph it was trained on: same embedding, same integers."""
    d = sum(s["size"] for s in layout(graph))
    if meta["embedding_dim"] != d:
        raise UserError(f"head {meta['name']} ({folder}) was trained on {meta['embedding_dim']}-value embeddings; "
                        f"this export's have {d}")
    if meta["graph_hash"] != graph_hash(graph):
        raise UserError(f"head {meta['name']} ({folder}) was trained on another export (graph hash "
                        f"{meta['graph_hash'][:12]}, this export {graph_hash(graph)[:12]}): train it on this export")


# ---- the int8 head -------------------------------------------------------------------------


def quantize_head(graph, head: FloatHead, meta: dict) -> dict:
    """The head's integer ops (graph.json ``heads`` entry) and arrays, for the embedding layout of
    ``graph``, from the float head and the ranges calibrated on its training embeddings."""
    from exporter.quantization import int8_math
    from exporter.quantization.quantize import _Builder

    name = meta["name"]
    ranges = meta["ranges"]
    s_e, zp_e = element_scales(graph)
    d = s_e.size
    pre = f"{name}."
    # embed_quantize: x = (e - mean) / std / s_x, with e - mean = s_e * (q - center) - delta_e.
    s_x = float(ranges["input_absmax"]) / 127.0
    center = zp_e + np.round(head.mean / s_e).astype(np.int64)
    delta = (head.mean - s_e * (center - zp_e)) / head.std  # what x misses of the standardized value
    mult, shift = int8_math.quantize_multipliers(s_e / (head.std * s_x))
    max_acc = np.maximum(np.abs(32767 - center), np.abs(-32768 - center))
    if np.any((max_acc << np.maximum(shift, 0)) >= 1 << 30):
        raise UserError(f"head {name}: the embedding's standardization does not fit the 32-bit requantization")
    outs = [pre + ("logits" if i == len(head.layers) - 1 else f"hidden{i}") for i in range(len(head.layers))]
    b = _Builder({out: tuple(r) for out, r in zip(outs, ranges["layers"])})
    b.tensor(EMBEDDING, d, 1, True, 1.0, 0, dtype="int16")
    b.tensor(pre + "input", d, 1, True, s_x, 0)
    ops = [{"op": "embed_quantize", "name": pre + "input", "input": EMBEDDING, "output": pre + "input",
            "center": f"{ARRAY_PREFIX}{pre}input.center", "mult": f"{ARRAY_PREFIX}{pre}input.mult",
            "shift": f"{ARRAY_PREFIX}{pre}input.shift"}]
    b.arrays.update({ops[0]["center"]: center.astype(np.int32), ops[0]["mult"]: mult, ops[0]["shift"]: shift})
    src = pre + "input"
    for i, ((w, bias), out) in enumerate(zip(head.layers, outs)):
        if i == 0:
            bias = bias - w @ delta  # the standardization's offset rounding, folded into the first layer
        b.calibrated(out, w.shape[0], 1, pooled=True)
        b.weighted(_Fop(out, w, bias), "fully_connected", src, out, relu=i < len(head.layers) - 1)
        src = out
    ops += b.ops
    arrays = dict(b.arrays)
    for op in ops[1:]:  # the network's arrays are keyed by op name: keep the heads' apart
        for f in ("weights", "bias", "mult", "shift"):
            arrays[ARRAY_PREFIX + op[f]] = arrays.pop(op[f])
            op[f] = ARRAY_PREFIX + op[f]
    tensors = {k: v for k, v in b.tensors.items() if k != EMBEDDING}
    entry = {"name": name, "classes": list(meta["classes"]), "multi_label": bool(meta["multi_label"]),
             "mode": meta["mode"], "input": EMBEDDING, "output": src, "tensors": tensors, "ops": ops,
             "quantization_notes": b.notes}
    return {"entry": entry, "arrays": arrays}


@dataclass
class _Fop:
    name: str
    weights: np.ndarray
    bias: np.ndarray


def calibrate_ranges(head: FloatHead, x_train: np.ndarray) -> dict:
    """Ranges of the int8 head's tensors on the training embeddings (with margin for new audio)."""
    z = np.abs((x_train - head.mean) / head.std)
    # The standardized input: the 99.9th percentile, so a few outliers do not coarsen every element.
    absmax = max(float(np.percentile(z, 99.9)), 1.0)
    layers = []
    for i, y in enumerate(head.hidden_and_logits(x_train)):
        lo, hi = float(y.min()), float(y.max())
        span = hi - lo
        layers.append([lo - 0.25 * span if i == len(head.layers) - 1 else 0.0, hi + 0.25 * span])
    return {"input_absmax": absmax, "layers": layers}


def head_graph(graph, head_entry: dict, arrays: dict | None = None):
    """A Graph of one head's ops alone (input ``embedding``), for int8_exec and onnx builders."""
    from exporter.quantization.graph import Graph

    d = head_entry["tensors"][head_entry["ops"][0]["output"]]["channels"]
    tensors = {EMBEDDING: {"channels": d, "mel": 1, "pooled": True, "dtype": "int16", "scale": 1.0, "zero_point": 0},
               **head_entry["tensors"]}
    return Graph({"tensors": tensors, "ops": head_entry["ops"], "taps": []}, arrays if arrays is not None else graph.arrays)


def run_heads(graph, embeddings_q: np.ndarray) -> dict[str, np.ndarray]:
    """Every head of ``graph`` on embedding integers [..., D]: int8 logits [..., n_classes] per head."""
    from exporter.reference import int8_exec

    q = np.asarray(embeddings_q, dtype=np.int16)
    flat = q.reshape(-1, q.shape[-1])
    out = {}
    for h in graph.meta.get("heads", []):
        hg = head_graph(graph, h)
        rows = []
        for e in flat:
            env = {EMBEDDING: e}
            for op in hg.ops:
                env[op["output"]] = int8_exec.run_op(hg, op, env)
            rows.append(env[h["output"]])
        out[h["name"]] = np.array(rows, dtype=np.int8).reshape(*q.shape[:-1], -1)
    return out


def dequantize_logits(head_entry: dict, logits_q: np.ndarray) -> np.ndarray:
    t = head_entry["tensors"][head_entry["output"]]
    return (np.asarray(logits_q, dtype=np.float64) - t["zero_point"]) * t["scale"]


def add_heads(graph, head_dirs: list[Path]) -> None:
    """Quantize the heads of ``head_dirs`` into ``graph`` (meta ``heads`` and arrays), checking
    that each was trained on this graph and that their names differ."""
    entries = []
    for folder in head_dirs:
        head, meta = load_head(folder)
        check_compatible(meta, graph, folder)
        if any(e["name"] == meta["name"] for e in entries):
            raise UserError(f"two heads are named {meta['name']!r}: heads train --name must differ")
        q = quantize_head(graph, head, meta)
        entries.append(q["entry"])
        graph.arrays.update(q["arrays"])
    if entries:
        graph.meta["heads"] = entries
