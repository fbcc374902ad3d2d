"""The network's C sources from the integer graph: network.h, network.c, network_data.c.

The generated code streams: each op produces its output one time-row at a
time, as soon as the rows it reads exist, and every tensor lives in a ring of
a few rows (exporter/codegen/row_schedule.py defines the schedule, the ring sizes and
the arena offsets; the C scheduler in network.c is its exact twin). The
kernels of firmware/kernels do the arithmetic, with parameters known at
export time (const structs in network_data.c). One arena plan per supported
NET_MAX_FRAMES, selected with #if at build time.

network.h records the tool version and the graph's hash (as manifest.json does);
firmware/kernels/nn_kernels.h refuses a network.h of another version at compile time.

One rewrite that changes no integer: an activation table (lut) whose input is
read by it alone is applied by the conv / fully connected op as it stores its
outputs, so the table's input tensor never exists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import numpy as np

from exporter import TEMPLATES_DIR, __version__, manifest
from exporter.codegen import kernel_variants, row_schedule
from exporter.errors import UserError
from exporter.quantization.graph import Graph, op_inputs

TEMPLATES = TEMPLATES_DIR
PLAN_FILE = "network_plan.json"
WEIGHTED = ("conv2d", "depthwise_conv2d", "fully_connected")
STEP_KINDS = {"quantize": "K_QUANTIZE", "conv2d": "K_CONV", "depthwise_conv2d": "K_DEPTHWISE",
              "fully_connected": "K_FC", "lut": "K_LUT", "global_avgpool": "K_POOL", "mul_channel": "K_MUL",
              "add": "K_ADD"}


def c_ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def op_cname(i: int, op: dict) -> str:
    return f"op{i}_{c_ident(op['name'])}"


def fuse_activations(graph: Graph) -> Graph:
    """The graph the device runs: a lut read alone from a weighted op's output is folded into
    that op (``fused_table`` = the table's npz key, ``index`` = the op's position in ``graph``)."""
    ops = graph.ops
    taps = {t["tensor"] for t in graph.taps}
    readers: dict[str, list[int]] = {}
    for i, op in enumerate(ops):
        for t in op_inputs(op):
            readers.setdefault(t, []).append(i)
    run_ops, folded = [], set()
    for i, op in enumerate(ops):
        if i in folded:
            continue
        op = dict(op, index=i)
        rd = readers.get(op["output"], [])
        if op["op"] in WEIGHTED and op["output"] not in taps and len(rd) == 1 and ops[rd[0]]["op"] == "lut":
            lut = ops[rd[0]]
            op.update(output=lut["output"], fused_table=lut["table"], fused_index=rd[0])
            folded.add(rd[0])
        run_ops.append(op)
    return Graph(dict(graph.meta, ops=run_ops), graph.arrays)


def _check(graph: Graph) -> None:
    g_in = graph.meta["input"]["tensor"]
    readers = [op for op in graph.ops if g_in in op_inputs(op)]
    if len(readers) != 1 or readers[0]["op"] != "quantize":
        raise UserError(f"the graph's input {g_in!r} must be read by exactly one 'quantize' op")
    for op in graph.ops:
        if op["op"] in ("conv2d", "depthwise_conv2d") and op["kernel"] > 7:
            raise UserError(f"op {op['name']}: kernel {op['kernel']} is larger than the kernels support (7)")


def _check_accumulators(graph: Graph) -> None:
    """The kernels requantize with one SMMULR, exact while |acc * 2^max(shift, 0)| < 2^30."""
    limit = 1 << 30
    for op in graph.ops:
        kind = op["op"]
        if kind in WEIGHTED:
            w = graph.array(op, "weights")
            # products summed per output: K*K*C_in (conv), K*K (depthwise), C_in (fully connected)
            terms = int(np.prod(w.shape[1:])) if kind == "conv2d" else (w.shape[0] * w.shape[1] if kind == "depthwise_conv2d" else w.shape[1])
            bias = int(np.abs(graph.array(op, "bias").astype(np.int64)).max())
            worst = [(bias + 255 * 128 * terms, int(graph.array(op, "shift").max()))]
        elif kind == "mul_channel":
            worst = [(255 * 255, op["shift"])]
        elif kind == "add":
            sh = op["shift"]
            side = 255 << op["left_shift"]
            worst = [(side, sh[0]), (side, sh[1]), (2 * (side << max(sh[0], sh[1], 0)), sh[2])]
        elif kind == "quantize":
            worst = [(1 << 15, op["shift"])]
        else:
            continue
        for acc, shift in worst:
            if acc << max(shift, 0) >= limit:
                raise UserError(f"op {op['name']}: accumulators up to {acc} with shift {shift} exceed the "
                                "kernels' requantization range (|acc * 2^shift| < 2^30)")


def _c_array(values, per_line: int = 16) -> str:
    vals = [str(int(v)) for v in np.asarray(values).ravel()]
    lines = [", ".join(vals[i : i + per_line]) for i in range(0, len(vals), per_line)]
    return "\n    " + ",\n    ".join(lines) + "\n" if vals else " 0 "


def _c_hex_array(values, per_line: int = 8) -> str:
    vals = [f"0x{int(v) & 0xFFFFFFFF:08x}u" for v in values]
    lines = [", ".join(vals[i : i + per_line]) for i in range(0, len(vals), per_line)]
    return "\n    " + ",\n    ".join(lines) + "\n"


def _time_divisors(graph: Graph) -> dict[str, int]:
    """Time size of each tensor = ceil(T / divisor); 0 for pooled tensors."""
    g_in = graph.meta["input"]["tensor"]
    div = {g_in: 1}
    for op in graph.ops:
        d = div[op_inputs(op)[0]]
        div[op["output"]] = d * op["stride"] if op["op"] in ("conv2d", "depthwise_conv2d") else d
    return {t: (0 if graph.tensors[t].get("pooled") else d) for t, d in div.items()}


def _op_params(graph: Graph, i: int, op: dict) -> dict:
    """Fields of op i for network_data.c (graph order)."""
    t = graph.tensors
    kind = op["op"]
    rec = {"index": i, "kind": kind, "name": op["name"], "cname": op_cname(i, op)}
    if kind in WEIGHTED:
        x, y = t[op["input"]], t[op["output"]]
        rec.update(cin=x["channels"], cout=y["channels"], zp_in=x["zero_point"], zp_out=y["zero_point"],
                   act_min=op["act_min"], act_max=op["act_max"], weights=graph.array(op, "weights"),
                   bias=graph.array(op, "bias"), mult=graph.array(op, "mult"), shift=graph.array(op, "shift"))
        if kind != "fully_connected":
            rec.update(f_in=x["mel"], f_out=y["mel"], k=op["kernel"], stride=op["stride"], pad=op["padding"])
    elif kind == "mul_channel":
        rec.update(c=t[op["input"]]["channels"], zp_x=t[op["input"]]["zero_point"], zp_g=t[op["gate"]]["zero_point"],
                   zp_out=t[op["output"]]["zero_point"], mult=op["mult"], shift=op["shift"])
    elif kind == "add":
        a, b = op["inputs"]
        rec.update(zp_a=t[a]["zero_point"], zp_b=t[b]["zero_point"], zp_out=t[op["output"]]["zero_point"],
                   left_shift=op["left_shift"], m=op["mult"], s=op["shift"])
    elif kind == "quantize":
        rec.update(mult=op["mult"], shift=op["shift"], zp_out=t[op["output"]]["zero_point"])
    return rec


# what the generated network is built for (export --optimize): the kernel instances of its shapes with what
# the exporter prepares for them (speed), or the general kernels alone (size: mn01's firmware 36 KB smaller,
# 2.3-2.7 times the instructions; reports/bench.md, "Smallest build")
OPTIMIZE = ("speed", "size")

STATIC_SCHEDULE_MAX_BYTES = 4096  # flash up to which a plan's schedule is written down


def _periodic(ids: list[int]) -> tuple[int, int]:
    """(first, period) with ids[n] == ids[n - period] for every n >= first + period, first + period
    as small as can be; (len(ids), 1) where there is no such pattern."""
    n = len(ids)
    best = (n, 1)
    for period in range(1, n):
        for first in range(0, n - period):
            if all(ids[k] == ids[k - period] for k in range(first + period, n)):
                if first + period < sum(best):
                    best = (first, period)
                break
    return best


def _static_schedule(run: Graph, frames: int) -> dict | None:
    """A full window's schedule (``frames`` frames), written down for the device to follow instead of
    searching for ready steps; None where it would not fit in STATIC_SCHEDULE_MAX_BYTES.

    The order of row_schedule.simulate, compressed: a dictionary of segments (runs of steps); each
    pushed frame's steps are one segment, and the segment of push n repeats with a period after a
    few frames (the strides of the network); the end of the window is a list of (segment, repeat)
    runs of passes, a pass being a run of rising step numbers. The pushes do not depend on the
    window's length, its end does: a window shorter than ``frames`` ends with the search."""
    if len(run.ops) > 255:
        return None
    sched = row_schedule.simulate(run, frames, record=True)
    order = [i for i, _ in sched.order]
    segments: dict[tuple[int, ...], int] = {}
    starts = [0] + sched.push_ends[:-1]
    push_ids = [segments.setdefault(tuple(order[a:b]), len(segments)) for a, b in zip(starts, sched.push_ends)]
    first, period = _periodic(push_ids)
    passes: list[list[int]] = []
    for i in order[sched.push_ends[-1]:]:
        if passes and i > passes[-1][-1]:
            passes[-1].append(i)
        else:
            passes.append([i])
    runs: list[list[int]] = []
    for p in passes:
        sid = segments.setdefault(tuple(p), len(segments))
        if runs and runs[-1][0] == sid and runs[-1][1] < 255:
            runs[-1][1] += 1
        else:
            runs.append([sid, 1])
    steps = [i for seg in segments for i in seg]
    at = [0]
    for seg in segments:
        at.append(at[-1] + len(seg))
    size = len(steps) + 2 * len(at) + first + period + 2 * len(runs)
    if len(segments) > 255 or size > STATIC_SCHEDULE_MAX_BYTES:
        return None
    return {"steps": steps, "at": at, "push": push_ids[: first + period], "push_first": first,
            "push_period": period, "end": [sid for sid, _ in runs], "end_repeat": [n for _, n in runs],
            "order_length": len(order), "bytes": size}


def render_network(graph: Graph, out_dir: str | Path, max_frames=(16, 1000), optimize: str = "speed") -> dict:
    """Write network.h, network.c, network_data.c and network_plan.json to ``out_dir``.

    ``optimize``: "speed", the kernel instances of the ops' shapes (kernel_variants.conv_row_kernel) with the
    records and tables prepared for them; "size", the general kernels alone (OPTIMIZE).
    Returns the plan summary: {"plans": {"<frames>": {"arena_bytes": n}}, ...}.
    """
    if optimize not in OPTIMIZE:
        raise UserError(f"optimize must be one of {', '.join(OPTIMIZE)}, got {optimize!r}")
    fast = optimize == "speed"
    frames_list = sorted({int(f) for f in max_frames})
    if not frames_list or frames_list[0] < 1:
        raise UserError(f"max_frames must be positive integers, got {max_frames!r}")
    _check(graph)
    _check_accumulators(graph)
    run = fuse_activations(graph)
    g_in = graph.meta["input"]["tensor"]
    divs = _time_divisors(run)
    names = [g_in] + [op["output"] for op in run.ops]
    if len(names) > 255:
        raise UserError(f"the graph has {len(names)} tensors; the generated scheduler indexes at most 255")
    index = {n: k for k, n in enumerate(names)}
    plans = {f: row_schedule.plan_arena(run, f) for f in frames_list}
    static = {f: _static_schedule(run, f) for f in frames_list}
    row_bytes = {n: plans[frames_list[0]][0][n].row_bytes for n in names}
    tensors = [{"index": k, "name": n, "row_bytes": row_bytes[n], "div": divs[n],
                "pooled": bool(graph.tensors[n].get("pooled"))} for k, n in enumerate(names)]

    steps, pool_off = [], 0
    for r, op in enumerate(run.ops):
        kind = op["op"]
        ins = [index[x] for x in op_inputs(op)]
        x0 = graph.tensors[op_inputs(op)[0]]
        s = {"run": r, "index": op["index"], "kind": kind, "name": op["name"], "cname": op_cname(op["index"], op),
             "ins": ins, "out": index[op["output"]], "observed_as": op.get("fused_index", op["index"]),
             "in_mel": x0.get("mel", 1), "channels": x0["channels"]}
        if kind in ("conv2d", "depthwise_conv2d"):
            s.update(k=op["kernel"], stride=op["stride"], pad=op["padding"])
            general = "nn_conv2d_row" if kind == "conv2d" else "nn_depthwise_conv2d_row"
            s["row_fn"] = fast and kernel_variants.conv_row_kernel(
                kind, x0["channels"], x0["mel"], graph.tensors[op["output"]]["mel"], op["kernel"], op["stride"],
                op["padding"], op["act_min"], op["act_max"], "fused_table" in op,
                graph.tensors[op["output"]]["channels"]) or general
        elif kind == "lut":
            s["table"] = c_ident(op["table"])
        elif kind == "global_avgpool":
            s["sum_off"] = pool_off
            pool_off += x0["channels"]
        steps.append(s)

    # readers of each tensor (net_pump marks them ready when it gets a row), in step order
    readers: list[list[int]] = [[] for _ in names]
    for s in steps:
        for k in dict.fromkeys(s["ins"]):
            readers[k].append(s["run"])
    reader_at = [0]
    for rd in readers:
        reader_at.append(reader_at[-1] + len(rd))

    ops = []
    macs_1 = graph.macs(1)
    out_divs = _time_divisors(graph)
    for i, op in enumerate(graph.ops):
        rec = _op_params(graph, i, op)
        if op["op"] in ("conv2d", "depthwise_conv2d"):  # MACs(T) = row * ceil(T / div) + fixed
            rec.update(macs_row=macs_1[i], macs_div=out_divs[op["output"]], macs_fixed=0, dw_rec=None)
        else:
            rec.update(macs_row=0, macs_div=1, macs_fixed=macs_1[i])
        if op["op"] == "add":  # the large adds: the table form (nn_add_t.tab), chosen by size per input frame
            y = graph.tensors[op["output"]]
            per_frame = y.get("mel", 1) * y["channels"] / max(out_divs[op["output"]], 1)
            rec["add_tab"] = None
            if fast and per_frame >= kernel_variants.ADD_TAB_MIN_PER_FRAME:
                rec["add_tab"] = kernel_variants.add_table(rec["zp_a"], rec["zp_b"], rec["zp_out"], rec["left_shift"],
                                                           rec["m"], rec["s"])
        ops.append(rec)
    fused = {op["index"]: c_ident(op["fused_table"]) for op in run.ops if "fused_table" in op}
    tables = {c_ident(op["table"]): graph.array(op, "table") for op in graph.ops if op["op"] == "lut"}
    stem8 = []  # export-time records of the stride-2 stems (nn_kernels.h, nn_stem8_prep_t)
    for st in steps:
        if st.get("row_fn", "").startswith("nn_c1k3s2_"):
            op = ops[st["index"]]
            table = tables[fused[op["index"]]] if op["index"] in fused else None
            prep = kernel_variants.stem8_records(op["weights"], op["bias"], op["mult"], op["shift"], op["zp_in"],
                                                 op["zp_out"], table)
            if prep:
                stem8.append({"cname": op["cname"], **prep})
    for st in steps:  # the planar depthwise instances' channel records (nn_conv_t.prep)
        if st.get("row_fn") in kernel_variants.PLANAR:
            op = ops[st["index"]]
            op["dw_rec"] = kernel_variants.dw_records(op["weights"], op["bias"], op["mult"], op["shift"],
                                                      op["zp_in"], op["zp_out"], op["k"], op["stride"])
    taps = [{"name": tp["name"], "offset": tp["offset"], "channels": tp["channels"], "scale": repr(float(tp["scale"])),
             "zero_point": int(tp["zero_point"]), "tensor": index[tp["tensor"]]} for tp in graph.taps]
    ctx = {
        "model": graph.meta.get("model", {}).get("name", "?"),
        "tool_version": __version__, "tool_version_num": manifest.version_number(), "graph_sha256": graph.digest(),
        "mel_bands": graph.meta["input"]["mel_bands"], "tap_dim": graph.tap_dim, "taps": taps,
        "ops": ops, "steps": steps, "tables": tables, "fused": fused, "tensors": tensors, "stem8": stem8,
        "optimize": optimize,
        "pool_channels": max(pool_off, 1), "readers": [r for rd in readers for r in rd], "reader_at": reader_at, "default_frames": frames_list[-1], "step_kinds": STEP_KINDS,
        "plans": [{"frames": f, "peak": total, "offsets": [offs[n] for n in names],
                   "capacity": [tp[n].capacity for n in names], "static": static[f]}
                  for f, (tp, offs, total) in plans.items()],
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["c_array"] = _c_array
    env.filters["c_hex_array"] = _c_hex_array
    env.filters["hex"] = lambda v: f"0x{int(v):08x}u"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("network.h", "network.c", "network_data.c"):
        (out_dir / name).write_text(env.get_template(name + ".j2").render(**ctx))
    summary = {
        "model": ctx["model"],
        "plans": {str(f): {"arena_bytes": total} for f, (_, _, total) in plans.items()},
        "fused_activations": len(fused),
        "run_ops": len(run.ops),
        "optimize": optimize,
    }
    (out_dir / PLAN_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def render_heads(graph: Graph, out_dir: str | Path) -> bool:
    """Write heads.h and heads.c (templates/heads.*.j2) for the task heads of ``graph``, if it has
    any (exporter/heads.py); returns whether it did. The firmware builds them in when present."""
    heads = graph.meta.get("heads", [])
    if not heads:
        return False
    from exporter.heads import head_graph

    recs = []
    for h in heads:
        hg = head_graph(graph, h)
        t = hg.tensors
        eq, fcs = hg.ops[0], hg.ops[1:]
        out = t[h["output"]]
        recs.append({
            "name": h["name"], "classes": h["classes"], "multi_label": h["multi_label"],
            "scale": repr(float(out["scale"])), "zero_point": int(out["zero_point"]),
            "center": hg.array(eq, "center"), "mult": hg.array(eq, "mult"), "shift": hg.array(eq, "shift"),
            "zp_x": t[eq["output"]]["zero_point"],
            "fcs": [{"cin": t[op["input"]]["channels"], "cout": t[op["output"]]["channels"],
                     "zp_in": t[op["input"]]["zero_point"], "zp_out": t[op["output"]]["zero_point"],
                     "act_min": op["act_min"], "act_max": op["act_max"], "weights": hg.array(op, "weights"),
                     "bias": hg.array(op, "bias"), "mult": hg.array(op, "mult"), "shift": hg.array(op, "shift")}
                    for op in fcs],
        })
    for h in recs:
        for c in h["classes"]:
            if not re.fullmatch(r"[A-Za-z0-9_ .+-]{1,64}", c):
                raise UserError(f"head {h['name']}: class name {c!r} cannot go into C source as it is "
                                "(letters, digits, space and _ . + - only)")
    widths = [t["channels"] for h in heads for t in h["tensors"].values()]
    ctx = {"model": graph.meta.get("model", {}).get("name", "?"), "heads": recs,
           "dim": graph.meta["input"]["mel_bands"] + graph.tap_dim, "max_width": max(widths),
           "max_classes": max(len(h["classes"]) for h in heads)}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["c_array"] = _c_array
    env.filters["c_hex_array"] = _c_hex_array
    out_dir = Path(out_dir)
    for name in ("heads.h", "heads.c"):
        (out_dir / name).write_text(env.get_template(name + ".j2").render(**ctx))
    return True
