"""Numpy executor of the integer graph, exact per exporter/quantization/int8_math.py.

Tensors are [T][F][C] int8 (pooled: [C]); the input is the Q12 log-mel
int16 [T][128]. Convolutions accumulate per kernel tap; the products of int8
values are summed in float64 BLAS matmuls, which is exact here (|acc| < 2^31,
far below 2^53), then converted back to int64.
"""

from __future__ import annotations

import numpy as np

from exporter.quantization import int8_math
from exporter.quantization.graph import Graph


def _padded(x: np.ndarray, pad: int, zp: int) -> np.ndarray:
    """Zero padding in the real domain: the padded value is the zero point."""
    return np.pad(x, ((pad, pad), (pad, pad), (0, 0)), constant_values=zp)


def _taps(xp: np.ndarray, k: int, stride: int, t_out: int, f_out: int):
    """Yield (kt, kf, the input window of that kernel tap, [t_out][f_out][C])."""
    for kt in range(k):
        for kf in range(k):
            yield kt, kf, xp[kt : kt + stride * (t_out - 1) + 1 : stride, kf : kf + stride * (f_out - 1) + 1 : stride]


def conv_acc(x: np.ndarray, zp_in: int, w: np.ndarray, bias: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """int64 accumulators [T'][F'][C_out] of a conv (w [Co][K][K][Ci]) or depthwise conv (w [K][K][C])."""
    k = w.shape[1] if not depthwise else w.shape[0]
    pad = (k - 1) // 2
    t_out, f_out = -(-x.shape[0] // stride), -(-x.shape[1] // stride)
    xp = _padded(x, pad, zp_in).astype(np.float64) - zp_in
    c_out = w.shape[0] if not depthwise else w.shape[2]
    acc = np.zeros((t_out, f_out, c_out), dtype=np.float64)
    wf = w.astype(np.float64)
    for kt, kf, win in _taps(xp, k, stride, t_out, f_out):
        if depthwise:
            acc += win * wf[kt, kf]
        else:
            acc += win @ wf[:, kt, kf, :].T
    return acc.astype(np.int64) + bias.astype(np.int64)


def _requant_out(acc, mult, shift, zp_out, lo=-128, hi=127) -> np.ndarray:
    return int8_math.clamp(int8_math.requantize(acc, mult, shift) + zp_out, lo, hi).astype(np.int8)


def run(graph: Graph, logmel_q12: np.ndarray, return_all: bool = False):
    """Run the graph on one window's Q12 log-mel (int16 [T][128]).

    Returns the taps concatenated (int8 [tap_dim]) or, with ``return_all``,
    a dict of every tensor (the input included).
    """
    x = np.asarray(logmel_q12)
    if x.dtype != np.int16 or x.ndim != 2 or x.shape[1] != graph.meta["input"]["mel_bands"] or x.shape[0] < 1:
        raise ValueError(f"expected an int16 [T][128] log-mel, got {x.dtype} {x.shape}")
    env: dict[str, np.ndarray] = {graph.meta["input"]["tensor"]: x[:, :, None]}
    for op in graph.ops:
        env[op["output"]] = run_op(graph, op, env)
    if return_all:
        return env
    return taps_vector(graph, env)


def accumulator(graph: Graph, op: dict, env: dict[str, np.ndarray]) -> np.ndarray:
    """int64 accumulators (bias included) of a conv2d / depthwise_conv2d / fully_connected op."""
    zp_in = graph.tensors[op["input"]]["zero_point"]
    if op["op"] == "fully_connected":
        xin = env[op["input"]].astype(np.int64) - zp_in
        return graph.array(op, "weights").astype(np.int64) @ xin + graph.array(op, "bias")
    return conv_acc(env[op["input"]], zp_in, graph.array(op, "weights"), graph.array(op, "bias"),
                    op["stride"], op["op"] == "depthwise_conv2d")


def run_op(graph: Graph, op: dict, env: dict[str, np.ndarray]) -> np.ndarray:
    """The output of one op, its inputs taken from ``env``."""
    tensors = graph.tensors

    def zp(name):
        return tensors[name]["zero_point"]

    kind, out = op["op"], op["output"]
    if kind == "quantize":
        return _requant_out(env[op["input"]], op["mult"], op["shift"], zp(out))
    if kind in ("conv2d", "depthwise_conv2d", "fully_connected"):
        acc = accumulator(graph, op, env)
        return _requant_out(acc, graph.array(op, "mult"), graph.array(op, "shift"), zp(out), op["act_min"], op["act_max"])
    if kind == "lut":
        return graph.array(op, "table")[env[op["input"]].astype(np.int64) + 128]
    if kind == "global_avgpool":  # on raw q: input and output share scale and zero point
        a = env[op["input"]]
        total = a.astype(np.int64).sum(axis=(0, 1))
        return int8_math.clamp(int8_math.round_div(total, a.shape[0] * a.shape[1])).astype(np.int8)
    if kind == "mul_channel":
        x, g = op["input"], op["gate"]
        prod = (env[x].astype(np.int64) - zp(x)) * (env[g].astype(np.int64) - zp(g))
        return _requant_out(prod, op["mult"], op["shift"], zp(out))
    if kind == "add":
        (a, b), ls = op["inputs"], op["left_shift"]
        return int8_math.add(env[a], env[b], zp(a), zp(b), zp(out), ls, op["mult"], op["shift"]).astype(np.int8)
    if kind == "embed_quantize":  # a head's input: per element, as a per-channel requantization
        acc = env[op["input"]].astype(np.int64) - graph.array(op, "center")
        return _requant_out(acc, graph.array(op, "mult"), graph.array(op, "shift"), zp(out))
    raise ValueError(f"unknown op {kind!r}")


def taps_vector(graph: Graph, env: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([env[t["tensor"]] for t in graph.taps]).astype(np.int8)
