"""The quantized integer graph (docs/int8-graph.md): data structure, save/load, validation, shapes, MACs.

A :class:`Graph` is the parsed ``graph.json`` (``meta``) plus the arrays of
``graph.npz`` (``arrays``). Array-valued op fields hold the npz key.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporter.errors import UserError

FORMAT = "efficientat-m4/int8-graph"
VERSION = 1
INPUT = "logmel"
MEL_BANDS = 128

# op -> (required fields, array fields with (dtype, rank))
_CONV_FIELDS = ("input", "output", "kernel", "stride", "padding", "weights", "bias", "mult", "shift", "act_min", "act_max")
_CONV_ARRAYS = {"bias": ("int32", 1), "mult": ("int32", 1), "shift": ("int32", 1)}
OP_SPECS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, int]]]] = {
    "quantize": (("input", "output", "mult", "shift"), {}),
    "conv2d": (_CONV_FIELDS, {"weights": ("int8", 4), **_CONV_ARRAYS}),
    "depthwise_conv2d": (_CONV_FIELDS, {"weights": ("int8", 3), **_CONV_ARRAYS}),
    "fully_connected": (
        ("input", "output", "weights", "bias", "mult", "shift", "act_min", "act_max"),
        {"weights": ("int8", 2), **_CONV_ARRAYS},
    ),
    "lut": (("input", "output", "table", "function"), {"table": ("int8", 1)}),
    "global_avgpool": (("input", "output"), {}),
    "mul_channel": (("input", "gate", "output", "mult", "shift"), {}),
    "add": (("inputs", "output", "left_shift", "mult", "shift"), {}),
    # task heads (graph.json "heads"): the int16 embedding -> one standardized int8 vector
    "embed_quantize": (("input", "output", "center", "mult", "shift"),
                       {"center": ("int32", 1), "mult": ("int32", 1), "shift": ("int32", 1)}),
}


class GraphError(UserError):
    """An invalid graph.json / graph.npz pair."""


def op_inputs(op: dict) -> list[str]:
    """The tensors an op reads, in order."""
    if op["op"] == "add":
        return list(op["inputs"])
    if op["op"] == "mul_channel":
        return [op["input"], op["gate"]]
    return [op["input"]]


@dataclass
class Graph:
    meta: dict
    arrays: dict[str, np.ndarray]

    @property
    def tensors(self) -> dict[str, dict]:
        return self.meta["tensors"]

    @property
    def ops(self) -> list[dict]:
        return self.meta["ops"]

    @property
    def taps(self) -> list[dict]:
        return self.meta["taps"]

    @property
    def tap_dim(self) -> int:
        return sum(t["channels"] for t in self.taps)

    def array(self, op: dict, field: str) -> np.ndarray:
        return self.arrays[op[field]]

    def digest(self) -> str:
        """sha256 of the graph's content (meta as canonical JSON, then each array's name, dtype,
        shape and bytes): the same in memory and after save/load, whatever the files' bytes."""
        h = hashlib.sha256(json.dumps(self.meta, sort_keys=True).encode())
        for key in sorted(self.arrays):
            a = np.ascontiguousarray(self.arrays[key])
            h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
            h.update(a.tobytes())
        return h.hexdigest()

    # ---- persistence -------------------------------------------------
    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "graph.json").write_text(json.dumps(self.meta, indent=1) + "\n")
        np.savez(folder / "graph.npz", **self.arrays)

    @classmethod
    def load(cls, folder: str | Path) -> Graph:
        """The graph of an export folder; a missing, truncated or corrupt file is a GraphError naming it."""
        folder = Path(folder)
        meta_file, npz_file = folder / "graph.json", folder / "graph.npz"
        for f in (meta_file, npz_file):
            if not f.is_file():
                raise GraphError(f"{folder} is not an export folder: {f} is missing")
        try:
            meta = json.loads(meta_file.read_text())
        except (ValueError, OSError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise GraphError(f"{meta_file} is damaged ({e}): export again") from None
        try:
            with np.load(npz_file, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as e:  # a cut or damaged zip fails in zipfile, zlib or numpy's format code
            raise GraphError(f"{npz_file} is damaged ({type(e).__name__}: {e}): export again") from None
        if not isinstance(meta, dict):
            raise GraphError(f"{meta_file} is damaged (not a JSON object): export again")
        graph = cls(meta, arrays)
        try:
            graph.validate()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:  # GraphError is a UserError
            raise GraphError(f"{meta_file} is damaged ({type(e).__name__}: {e}): export again") from None
        return graph

    # ---- checks ------------------------------------------------------
    def validate(self) -> None:
        """Raise GraphError naming the first problem found."""
        m = self.meta
        if m.get("format") != FORMAT or m.get("version") != VERSION:
            raise GraphError(f"not a {FORMAT} version {VERSION} graph (format={m.get('format')!r}, version={m.get('version')!r})")
        tensors = m.get("tensors", {})
        inp = m.get("input", {}).get("tensor")
        if inp not in tensors or tensors[inp].get("dtype") != "int16":
            raise GraphError(f"input tensor {inp!r} missing or not int16")
        produced = {inp}
        for i, op in enumerate(m.get("ops", [])):
            where = f"op {i} ({op.get('name', '?')})"
            spec = OP_SPECS.get(op.get("op"))
            if spec is None:
                raise GraphError(f"{where}: unknown op {op.get('op')!r}")
            fields, arrays = spec
            missing = [f for f in fields if f not in op]
            if missing:
                raise GraphError(f"{where}: missing fields {missing}")
            for t in op_inputs(op):
                if t not in produced:
                    raise GraphError(f"{where}: input tensor {t!r} is not produced before this op")
            out = op["output"]
            if out not in tensors:
                raise GraphError(f"{where}: output tensor {out!r} is not declared in tensors")
            if out in produced:
                raise GraphError(f"{where}: tensor {out!r} is produced twice")
            produced.add(out)
            for f, (dtype, rank) in arrays.items():
                key = op[f]
                if key not in self.arrays:
                    raise GraphError(f"{where}: array {key!r} missing from graph.npz")
                a = self.arrays[key]
                if a.dtype != np.dtype(dtype) or a.ndim != rank:
                    raise GraphError(f"{where}: array {key!r} is {a.dtype} rank {a.ndim}, expected {dtype} rank {rank}")
            self._check_op_shapes(op, where)
        for tap in m.get("taps", []):
            t = tensors.get(tap["tensor"])
            if t is None or not t.get("pooled") or tap["tensor"] not in produced:
                raise GraphError(f"tap {tap['name']}: tensor {tap['tensor']!r} is not a produced pooled tensor")
        offsets = np.cumsum([0] + [t["channels"] for t in m.get("taps", [])])[:-1]
        if [t["offset"] for t in m.get("taps", [])] != offsets.tolist():
            raise GraphError("tap offsets are not the running sum of the tap channels")
        for head in m.get("heads", []):
            self._validate_head(head)

    def _validate_head(self, head: dict) -> None:
        """A task head (exporter/heads.py): embed_quantize of the embedding, then fully_connected ops."""
        from exporter.heads import head_graph

        where = f"head {head.get('name', '?')}"
        hg = head_graph(self, head)
        dim = self.meta["input"]["mel_bands"] + self.tap_dim
        if hg.tensors[head["input"]]["channels"] != dim:
            raise GraphError(f"{where}: input has {hg.tensors[head['input']]['channels']} values, the embedding {dim}")
        produced = {head["input"]}
        for i, op in enumerate(head["ops"]):
            kind = op.get("op")
            if kind not in (("embed_quantize",) if i == 0 else ("fully_connected",)):
                raise GraphError(f"{where}: op {i} is {kind!r}: a head is embed_quantize, then fully_connected ops")
            fields, arrays = OP_SPECS[kind]
            missing = [f for f in fields if f not in op]
            if missing or op["input"] not in produced or op["output"] not in hg.tensors:
                raise GraphError(f"{where}: op {i} is incomplete or reads a tensor not produced before it")
            for f, (dtype, rank) in arrays.items():
                a = self.arrays.get(op[f])
                if a is None or a.dtype != np.dtype(dtype) or a.ndim != rank:
                    raise GraphError(f"{where}: array {op[f]!r} missing or not {dtype} rank {rank}")
            if kind == "fully_connected":
                hg._check_op_shapes(op, f"{where} op {i}")
            elif any(self.arrays[op[f]].shape != (dim,) for f in ("center", "mult", "shift")):
                raise GraphError(f"{where}: embed_quantize arrays must have {dim} entries")
            produced.add(op["output"])
        if head["output"] not in produced or len(head["classes"]) != hg.tensors[head["output"]]["channels"]:
            raise GraphError(f"{where}: its output is not the last op's, one value per class")

    def _check_op_shapes(self, op: dict, where: str) -> None:
        t = self.tensors
        x, y = t[op_inputs(op)[0]], t[op["output"]]
        kind = op["op"]
        if kind in ("conv2d", "depthwise_conv2d"):
            k, s = op["kernel"], op["stride"]
            if op["padding"] != (k - 1) // 2 or s not in (1, 2) or k % 2 != 1:
                raise GraphError(f"{where}: kernel {k}, stride {s}, padding {op['padding']} not supported")
            if y["mel"] != math.ceil(x["mel"] / s):
                raise GraphError(f"{where}: output mel {y['mel']} != ceil({x['mel']}/{s})")
            w = self.array(op, "weights")
            want = (y["channels"], k, k, x["channels"]) if kind == "conv2d" else (k, k, x["channels"])
            if kind == "depthwise_conv2d" and x["channels"] != y["channels"]:
                raise GraphError(f"{where}: depthwise input and output channels differ")
            if w.shape != want:
                raise GraphError(f"{where}: weights shape {w.shape}, expected {want}")
        elif kind == "fully_connected":
            if not (x.get("pooled") and y.get("pooled")):
                raise GraphError(f"{where}: fully_connected needs pooled input and output")
            if self.array(op, "weights").shape != (y["channels"], x["channels"]):
                raise GraphError(f"{where}: weights shape {self.array(op, 'weights').shape} != ({y['channels']}, {x['channels']})")
        elif kind == "global_avgpool":
            if not y.get("pooled") or y["channels"] != x["channels"]:
                raise GraphError(f"{where}: output must be pooled with the input's channels")
            if (x["scale"], x["zero_point"]) != (y["scale"], y["zero_point"]):
                raise GraphError(f"{where}: global_avgpool output must share the input's scale and zero point")
        elif kind in ("lut", "mul_channel", "add", "quantize"):
            if (x["channels"], x.get("mel"), x.get("pooled", False)) != (y["channels"], y.get("mel"), y.get("pooled", False)):
                raise GraphError(f"{where}: input and output shapes differ")
            if kind == "lut" and self.array(op, "table").shape != (256,):
                raise GraphError(f"{where}: table must have 256 entries")
            if kind == "mul_channel" and t[op["gate"]]["channels"] != x["channels"]:
                raise GraphError(f"{where}: gate channels != input channels")
        if kind in OP_SPECS and "mult" in OP_SPECS[kind][1]:
            c = y["channels"]
            for f in ("bias", "mult", "shift"):
                if self.array(op, f).shape != (c,):
                    raise GraphError(f"{where}: {f} must have {c} entries")

    # ---- shapes and cost --------------------------------------------
    def shapes(self, n_frames: int) -> dict[str, tuple[int, ...]]:
        """Shape of every tensor for an input of ``n_frames`` frames: [T][F][C], pooled [C]."""
        if n_frames < 1:
            raise ValueError("n_frames must be >= 1")
        t = self.tensors
        time = {INPUT: n_frames}
        for op in self.ops:
            src = time[op_inputs(op)[0]]
            time[op["output"]] = math.ceil(src / op["stride"]) if op["op"] in ("conv2d", "depthwise_conv2d") else src
        return {
            name: (t[name]["channels"],) if t[name].get("pooled") else (time[name], t[name]["mel"], t[name]["channels"])
            for name in time
        }

    def macs(self, n_frames: int) -> list[int]:
        """Multiply-accumulates of each op (conv, depthwise, fully connected; 0 for the others)."""
        shapes = self.shapes(n_frames)
        out = []
        for op in self.ops:
            kind = op["op"]
            if kind == "conv2d":
                tt, ff, co = shapes[op["output"]]
                out.append(tt * ff * co * op["kernel"] ** 2 * shapes[op["input"]][-1])
            elif kind == "depthwise_conv2d":
                tt, ff, c = shapes[op["output"]]
                out.append(tt * ff * c * op["kernel"] ** 2)
            elif kind == "fully_connected":
                out.append(int(np.prod(self.array(op, "weights").shape)))
            else:
                out.append(0)
        return out
