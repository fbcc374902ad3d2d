"""The network's C sources from the integer graph: network.h, network.c, network_data.c.

The C code calls the kernels of firmware/kernels with parameters known at
export time (const structs in network_data.c) and runs on one static arena,
planned by exporter/arena.py for each supported NET_MAX_FRAMES (selected
with #if at build time). Two rewrites that change no integer:
- an activation table (lut) whose input is read by it alone is applied by
  the conv / fully connected op as it stores its outputs;
- an op whose output is a tap (the global average pools of B5, B11, ...) runs
  as soon as its input exists, so the block outputs need not live to the end.
Elementwise ops (lut, add, mul_channel) write over an input that dies there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from exporter import ROOT, arena
from exporter.errors import UserError
from exporter.graph import Graph, op_inputs

TEMPLATES = ROOT / "templates"
PLAN_FILE = "network_plan.json"
ELEMENTWISE = ("lut", "add", "mul_channel")


@dataclass
class Tensor:
    index: int
    name: str
    channels: int
    mel: int  # 1 for pooled
    pooled: bool
    div: int  # time size = ceil(T / div); 0 for pooled
    zero_point: int

    def row_bytes(self) -> int:
        return self.mel * self.channels

    def size(self, frames: int) -> int:
        return self.channels if self.pooled else -(-frames // self.div) * self.row_bytes()


@dataclass
class Step:
    """One graph op as the C code runs it."""

    index: int  # position in graph.ops (NET_PROFILE id)
    op: dict
    cname: str
    fused_lut: str | None = None  # npz key of a table applied on store
    skip: bool = False  # a lut fused into its producer
    observed: str | None = None  # tensor whose bytes exist after this step (debug observer)
    params: dict = field(default_factory=dict)


def c_ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _schedule(graph: Graph) -> list[int]:
    """Op order: graph order, with tap-producing ops moved right after their input's producer."""
    taps = {t["tensor"] for t in graph.taps}
    producer = {op["output"]: i for i, op in enumerate(graph.ops)}
    hoisted = {i for i, op in enumerate(graph.ops) if op["output"] in taps and len(op_inputs(op)) == 1}
    order = []
    for i, op in enumerate(graph.ops):
        if i in hoisted:
            continue
        order.append(i)
        order += sorted(j for j in hoisted if producer.get(op_inputs(graph.ops[j])[0]) == i)
    return order


class Network:
    """The analysed graph: tensors, steps in run order, buffer groups."""

    def __init__(self, graph: Graph):
        self.graph = graph
        g_in = graph.meta["input"]["tensor"]
        ops = graph.ops
        quant = [i for i, op in enumerate(ops) if g_in in op_inputs(op)]
        if len(quant) != 1 or ops[quant[0]]["op"] != "quantize":
            raise UserError(f"the graph's input {g_in!r} must be read by exactly one 'quantize' op")
        self.quantize = ops[quant[0]]
        self.input = self.quantize["output"]
        divs = {g_in: 1}
        for op in ops:
            d = divs[op_inputs(op)[0]]
            divs[op["output"]] = d * op["stride"] if op["op"] in ("conv2d", "depthwise_conv2d") else d
        self.tensors: dict[str, Tensor] = {}
        for name, t in graph.tensors.items():
            if name == g_in:
                continue
            if t.get("dtype", "int8") != "int8":
                raise UserError(f"tensor {name!r}: only int8 tensors besides the input are supported")
            pooled = bool(t.get("pooled"))
            self.tensors[name] = Tensor(len(self.tensors), name, t["channels"], 1 if pooled else t["mel"], pooled,
                                        0 if pooled else divs[name], int(t["zero_point"]))
        self.taps = {t["tensor"] for t in graph.taps}
        readers: dict[str, list[int]] = {}
        for i, op in enumerate(ops):
            for t in op_inputs(op):
                readers.setdefault(t, []).append(i)
        self.order = _schedule(graph)
        self.steps = [Step(i, ops[i], f"op{i}_{c_ident(ops[i]['name'])}") for i in self.order]
        by_index = {s.index: s for s in self.steps}
        # Fused activations: producer -> lut, the lut alone reads the producer's output.
        for s in self.steps:
            op = s.op
            if op["op"] in ("conv2d", "depthwise_conv2d", "fully_connected") and op["output"] not in self.taps:
                rd = readers.get(op["output"], [])
                if len(rd) == 1 and ops[rd[0]]["op"] == "lut":
                    s.fused_lut = ops[rd[0]]["table"]
                    by_index[rd[0]].skip = True
        for s in self.steps:
            s.observed = None if s.fused_lut else s.op["output"]
        # Buffer groups (union-find): fused pairs and in-place elementwise ops.
        pos = {s.index: k for k, s in enumerate(self.steps)}
        self.producers = {s.op["output"]: k for k, s in enumerate(self.steps)}
        self.producers[self.input] = 0  # frames are written from net_begin on
        self.readers = {t: [pos[i] for i in r] for t, r in readers.items() if t != g_in}
        parent = {t: t for t in self.tensors}

        def find(t):
            while parent[t] != t:
                parent[t] = parent[parent[t]]
                t = parent[t]
            return t

        for k, s in enumerate(self.steps):
            op = s.op
            if s.skip:
                parent[find(op["output"])] = find(op["input"])
            elif op["op"] in ELEMENTWISE:
                cands = [op["input"]] if op["op"] != "add" else list(op["inputs"])
                for c in cands:
                    if max(self.readers[c]) == k and c not in self.taps and self.tensors[c].row_bytes() == self.tensors[op["output"]].row_bytes() \
                            and self.tensors[c].div == self.tensors[op["output"]].div:
                        parent[find(op["output"])] = find(c)
                        s.params["in_place"] = c
                        break
        groups: dict[str, list[str]] = {}
        for t in self.tensors:
            groups.setdefault(find(t), []).append(t)
        self.groups = [g for g in groups.values() if len(g) > 1]

    def plan(self, frames: int) -> arena.Plan:
        sizes = {t: self.tensors[t].size(frames) for t in self.tensors}
        life = arena.lifetimes(self.producers, self.readers, len(self.steps), self.taps)
        return arena.plan(sizes, life, self.groups)


# ---- rendering --------------------------------------------------------------


def _c_array(values, per_line: int = 16) -> str:
    vals = [str(int(v)) for v in np.asarray(values).ravel()]
    lines = [", ".join(vals[i : i + per_line]) for i in range(0, len(vals), per_line)]
    return "\n    " + ",\n    ".join(lines) + "\n" if vals else " 0 "


def render_network(graph: Graph, out_dir: str | Path, max_frames=(16, 1000)) -> dict:
    """Write network.h, network.c, network_data.c and network_plan.json to ``out_dir``.

    Returns the plan summary: {"plans": {frames: peak arena bytes}, ...}.
    """
    frames_list = sorted({int(f) for f in max_frames})
    if not frames_list or frames_list[0] < 1:
        raise UserError(f"max_frames must be positive integers, got {max_frames!r}")
    net = Network(graph)
    plans = {}
    for f in frames_list:
        p = net.plan(f)
        arena.check(p)
        plans[f] = p
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["c_array"] = _c_array
    t = net.tensors
    macs_1 = graph.macs(1)
    steps = []
    for s in net.steps:
        op = s.op
        d = {"index": s.index, "cname": s.cname, "kind": op["op"], "skip": s.skip, "name": op["name"],
             "observed": t[s.observed].index if s.observed else -1,
             "lut": c_ident(s.fused_lut) if s.fused_lut else None}
        if op["op"] != "quantize":
            ins = [t[x] for x in op_inputs(op)]
            out = t[op["output"]]
            d["ins"] = [x.index for x in ins]
            d["out"] = out.index
            d["in_div"] = ins[0].div
            d["in_row"] = ins[0].row_bytes()
            d["in_mel"] = ins[0].mel
            d["channels"] = ins[0].channels
            d["out_bytes_row"] = out.row_bytes()
            d["out_div"] = out.div
            d["out_pooled"] = out.pooled
            d["out_mel"] = out.mel
            if op["op"] == "lut":
                d["table"] = c_ident(op["table"])
        steps.append(d)
    ops = []
    for i, op in enumerate(graph.ops):
        kind = op["op"]
        rec = {"index": i, "kind": kind, "name": op["name"], "cname": f"op{i}_{c_ident(op['name'])}"}
        out = t.get(op["output"])
        # MACs of op i for T frames: per_row * ceil(T / div) (+ const for pooled ops).
        if kind in ("conv2d", "depthwise_conv2d"):
            rec["macs_row"], rec["macs_div"], rec["macs_const"] = macs_1[i], out.div, 0
        else:
            rec["macs_row"], rec["macs_div"], rec["macs_const"] = 0, 1, macs_1[i]
        if kind in ("conv2d", "depthwise_conv2d"):
            x = graph.tensors[op["input"]]
            w = graph.array(op, "weights")
            rec.update(cin=x["channels"], cout=graph.tensors[op["output"]]["channels"], f_in=x["mel"],
                       f_out=graph.tensors[op["output"]]["mel"], k=op["kernel"], stride=op["stride"], pad=op["padding"],
                       zp_in=x["zero_point"], zp_out=graph.tensors[op["output"]]["zero_point"], act_min=op["act_min"],
                       act_max=op["act_max"], weights=w, bias=graph.array(op, "bias"), mult=graph.array(op, "mult"),
                       shift=graph.array(op, "shift"))
        elif kind == "fully_connected":
            x = graph.tensors[op["input"]]
            rec.update(cin=x["channels"], cout=graph.tensors[op["output"]]["channels"], zp_in=x["zero_point"],
                       zp_out=graph.tensors[op["output"]]["zero_point"], act_min=op["act_min"], act_max=op["act_max"],
                       weights=graph.array(op, "weights"), bias=graph.array(op, "bias"), mult=graph.array(op, "mult"),
                       shift=graph.array(op, "shift"))
        elif kind == "mul_channel":
            rec.update(c=graph.tensors[op["input"]]["channels"], zp_x=graph.tensors[op["input"]]["zero_point"],
                       zp_g=graph.tensors[op["gate"]]["zero_point"], zp_out=graph.tensors[op["output"]]["zero_point"],
                       mult=op["mult"], shift=op["shift"])
        elif kind == "add":
            a, b = op["inputs"]
            rec.update(zp_a=graph.tensors[a]["zero_point"], zp_b=graph.tensors[b]["zero_point"],
                       zp_out=graph.tensors[op["output"]]["zero_point"], left_shift=op["left_shift"],
                       m=op["mult"], s=op["shift"])
        elif kind == "quantize":
            rec.update(mult=op["mult"], shift=op["shift"], zp_out=graph.tensors[op["output"]]["zero_point"])
        ops.append(rec)
    tables = {}
    for op in graph.ops:
        if op["op"] == "lut":
            tables[c_ident(op["table"])] = graph.array(op, "table")
    fused = {s.index: c_ident(s.fused_lut) for s in net.steps if s.fused_lut}
    taps = [{"name": tp["name"], "offset": tp["offset"], "channels": tp["channels"], "scale": repr(float(tp["scale"])),
             "zero_point": int(tp["zero_point"]), "tensor": t[tp["tensor"]].index} for tp in graph.taps]
    divs = sorted({x.div for x in t.values() if not x.pooled})
    ctx = {
        "model": graph.meta.get("model", {}).get("name", "?"),
        "mel_bands": graph.meta["input"]["mel_bands"],
        "tap_dim": graph.tap_dim, "taps": taps, "ops": ops, "steps": steps, "tables": tables, "fused": fused,
        "tensors": list(t.values()), "input": t[net.input].index, "quantize_index": graph.ops.index(net.quantize),
        "divs": divs, "default_frames": frames_list[-1],
        "plans": [{"frames": f, "peak": p.peak, "offsets": [p.offsets[name] for name in t]} for f, p in plans.items()],
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("network.h", "network.c", "network_data.c"):
        (out_dir / name).write_text(env.get_template(name + ".j2").render(**ctx))
    summary = {
        "model": ctx["model"],
        "plans": {str(f): {"arena_bytes": p.peak} for f, p in plans.items()},
        "fused_activations": len(fused),
        "in_place_ops": sum(1 for s in net.steps if "in_place" in s.params),
    }
    (out_dir / PLAN_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    return summary
