"""The numpy executor against element-by-element int8_math on a small hand-made graph with every op."""

import numpy as np
import pytest

from exporter.reference import int8_exec
from exporter.quantization.graph import FORMAT, VERSION, Graph
from exporter.quantization.int8_math import add_params, clamp, quantize_multiplier, quantize_multipliers, requantize, round_div

T, F = 5, 6


def _graph(seed: int) -> Graph:
    rng = np.random.default_rng(seed)
    tensors, ops, arrays = {}, [], {}

    def tensor(name, c, mel, pooled=False, scale=None, zp=None):
        tensors[name] = {"channels": c, "mel": mel, "pooled": pooled, "dtype": "int8",
                         "scale": float(scale if scale is not None else rng.uniform(0.01, 0.1)),
                         "zero_point": int(zp if zp is not None else rng.integers(-20, 20))}

    def weighted(kind, name, inp, c_out, shape, kernel=None, stride=None, relu=False):
        s_in, s_out = tensors[inp]["scale"], tensors[name]["scale"]
        arrays[f"{name}.weights"] = rng.integers(-127, 128, size=shape).astype(np.int8)
        arrays[f"{name}.bias"] = rng.integers(-3000, 3000, size=c_out).astype(np.int32)
        m, s = quantize_multipliers(s_in * rng.uniform(0.0005, 0.003, size=c_out) / s_out)
        arrays[f"{name}.mult"], arrays[f"{name}.shift"] = m, s
        op = {"op": kind, "name": name, "input": inp, "output": name, "weights": f"{name}.weights",
              "bias": f"{name}.bias", "mult": f"{name}.mult", "shift": f"{name}.shift",
              "act_min": tensors[name]["zero_point"] if relu else -128, "act_max": 127}
        if kernel:
            op.update(kernel=kernel, stride=stride, padding=(kernel - 1) // 2)
        ops.append(op)

    tensors["logmel"] = {"channels": 1, "mel": F, "pooled": False, "dtype": "int16", "scale": 1 / 4096, "zero_point": 0}
    tensor("q", 1, F)
    m, s = quantize_multiplier(1 / 4096 / tensors["q"]["scale"])
    ops.append({"op": "quantize", "name": "q", "input": "logmel", "output": "q", "mult": m, "shift": s})
    tensor("c1", 4, 3)
    weighted("conv2d", "c1", "q", 4, (4, 3, 3, 1), 3, 2, relu=True)
    tensor("h", 4, 3)
    arrays["h.table"] = rng.integers(-128, 128, size=256).astype(np.int8)
    ops.append({"op": "lut", "name": "h", "input": "c1", "output": "h", "table": "h.table", "function": "hardswish"})
    tensor("d", 4, 3)
    weighted("depthwise_conv2d", "d", "h", 4, (3, 3, 4), 3, 1)
    tensor("p", 4, 1, pooled=True, scale=tensors["d"]["scale"], zp=tensors["d"]["zero_point"])
    ops.append({"op": "global_avgpool", "name": "p", "input": "d", "output": "p"})
    tensor("f", 4, 1, pooled=True)
    weighted("fully_connected", "f", "p", 4, (4, 4), relu=True)
    tensor("g", 4, 1, pooled=True, scale=1 / 256, zp=-128)
    arrays["g.table"] = rng.integers(-128, 128, size=256).astype(np.int8)
    ops.append({"op": "lut", "name": "g", "input": "f", "output": "g", "table": "g.table", "function": "sigmoid"})
    tensor("m", 4, 3)
    m, s = quantize_multiplier(tensors["d"]["scale"] / 256 / tensors["m"]["scale"])
    ops.append({"op": "mul_channel", "name": "m", "input": "d", "gate": "g", "output": "m", "mult": m, "shift": s})
    tensor("e", 4, 3)
    weighted("conv2d", "e", "m", 4, (4, 1, 1, 4), 1, 1)
    tensor("a", 4, 3)
    (m1, s1), (m2, s2), (mo, so) = add_params(tensors["e"]["scale"], tensors["d"]["scale"], tensors["a"]["scale"])
    ops.append({"op": "add", "name": "a", "inputs": ["e", "d"], "output": "a", "left_shift": 20,
                "mult": [m1, m2, mo], "shift": [s1, s2, so]})
    tensor("tap", 4, 1, pooled=True, scale=tensors["a"]["scale"], zp=tensors["a"]["zero_point"])
    ops.append({"op": "global_avgpool", "name": "tap", "input": "a", "output": "tap"})
    meta = {"format": FORMAT, "version": VERSION, "model": {"name": "tiny"},
            "input": {"tensor": "logmel", "mel_bands": F, "frac_bits": 12}, "tensors": tensors, "ops": ops,
            "taps": [{"name": "A", "tensor": "tap", "channels": 4, "offset": 0, "scale": tensors["a"]["scale"],
                      "zero_point": tensors["a"]["zero_point"]}]}
    g = Graph(meta, arrays)
    g.validate()
    return g


def _rq(acc, mult, shift, zp, lo=-128, hi=127) -> int:
    return int(clamp(int(requantize(acc, mult, shift)) + zp, lo, hi))


def _reference(g: Graph, x: np.ndarray) -> dict:
    """Scalar loops: one output element at a time, straight from docs/int8-graph.md."""
    env = {"logmel": x[:, :, None].astype(np.int64)}
    zp = {k: v["zero_point"] for k, v in g.tensors.items()}
    for op in g.ops:
        kind, out = op["op"], op["output"]
        if kind == "quantize":
            a = env[op["input"]]
            y = np.vectorize(lambda v: _rq(int(v), op["mult"], op["shift"], zp[out]))(a)
        elif kind in ("conv2d", "depthwise_conv2d"):
            a, w, bias = env[op["input"]], g.array(op, "weights"), g.array(op, "bias")
            k, s, p = op["kernel"], op["stride"], op["padding"]
            tt, ff = -(-a.shape[0] // s), -(-a.shape[1] // s)
            c_out = w.shape[0] if kind == "conv2d" else w.shape[2]
            y = np.zeros((tt, ff, c_out), dtype=np.int64)
            for t in range(tt):
                for f in range(ff):
                    for co in range(c_out):
                        acc = int(bias[co])
                        for i in range(k):
                            for j in range(k):
                                ti, fi = t * s + i - p, f * s + j - p
                                inside = 0 <= ti < a.shape[0] and 0 <= fi < a.shape[1]
                                if kind == "conv2d":
                                    for ci in range(a.shape[2]):
                                        v = a[ti, fi, ci] if inside else zp[op["input"]]
                                        acc += (int(v) - zp[op["input"]]) * int(w[co, i, j, ci])
                                else:
                                    v = a[ti, fi, co] if inside else zp[op["input"]]
                                    acc += (int(v) - zp[op["input"]]) * int(w[i, j, co])
                        y[t, f, co] = _rq(acc, int(g.array(op, "mult")[co]), int(g.array(op, "shift")[co]),
                                          zp[out], op["act_min"], op["act_max"])
        elif kind == "fully_connected":
            a, w, bias = env[op["input"]], g.array(op, "weights"), g.array(op, "bias")
            y = np.array([
                _rq(int(bias[co]) + sum((int(a[ci]) - zp[op["input"]]) * int(w[co, ci]) for ci in range(len(a))),
                    int(g.array(op, "mult")[co]), int(g.array(op, "shift")[co]), zp[out], op["act_min"], op["act_max"])
                for co in range(w.shape[0])])
        elif kind == "lut":
            y = np.vectorize(lambda v: int(g.array(op, "table")[int(v) + 128]))(env[op["input"]])
        elif kind == "global_avgpool":
            a = env[op["input"]]
            n = a.shape[0] * a.shape[1]
            y = np.array([int(clamp(round_div(int(a[:, :, c].sum()), n))) for c in range(a.shape[2])])
        elif kind == "mul_channel":
            a, gate = env[op["input"]], env[op["gate"]]
            y = np.zeros_like(a)
            for idx in np.ndindex(a.shape):
                prod = (int(a[idx]) - zp[op["input"]]) * (int(gate[idx[2]]) - zp[op["gate"]])
                y[idx] = _rq(prod, op["mult"], op["shift"], zp[out])
        elif kind == "add":
            (ka, kb), m, s = op["inputs"], op["mult"], op["shift"]
            a, b = env[ka], env[kb]
            y = np.zeros_like(a)
            for idx in np.ndindex(a.shape):
                a1 = int(requantize((int(a[idx]) - zp[ka]) << 20, m[0], s[0]))
                b1 = int(requantize((int(b[idx]) - zp[kb]) << 20, m[1], s[1]))
                y[idx] = _rq(a1 + b1, m[2], s[2], zp[out])
        env[out] = y
    return env


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_executor_matches_scalar_reference(seed):
    g = _graph(seed)
    rng = np.random.default_rng(100 + seed)
    x = rng.integers(-20000, 20000, size=(T, F)).astype(np.int16)
    got = int8_exec.run(g, x, return_all=True)
    ref = _reference(g, x)
    for op in g.ops:
        name = op["output"]
        assert got[name].dtype == np.int8, name
        np.testing.assert_array_equal(got[name], ref[name].astype(np.int8), err_msg=name)
        # the outputs are not degenerate (all clamped), so the comparison means something
        assert len(np.unique(got[name])) > 1 or got[name].size == 1, name
    np.testing.assert_array_equal(int8_exec.run(g, x), got["tap"])


def test_padding_uses_the_input_zero_point():
    """A 3x3 conv of a constant input equal to zp_in is bias-only everywhere, borders included."""
    g = _graph(0)
    op = next(o for o in g.ops if o["output"] == "d")
    zp_in = g.tensors["h"]["zero_point"]
    acc = int8_exec.conv_acc(np.full((4, 3, 4), zp_in, np.int8), zp_in, g.array(op, "weights"), g.array(op, "bias"), 1, True)
    np.testing.assert_array_equal(acc, np.broadcast_to(g.array(op, "bias"), acc.shape))


def test_rejects_bad_input():
    g = _graph(0)
    with pytest.raises(ValueError, match="int16"):
        int8_exec.run(g, np.zeros((T, F), np.float32))
    with pytest.raises(ValueError, match="int16"):
        int8_exec.run(g, np.zeros((T, F + 1), np.int16))
