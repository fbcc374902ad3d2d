"""Numpy executor of the integer graph, exact per exporter/int8_math.py.

Tensors are [T][F][C] int8 (pooled: [C]); the input is the Q12 log-mel
int16 [T][128]. Convolutions accumulate per kernel tap; the products of int8
values are summed in float64 BLAS matmuls, which is exact here (|acc| < 2^31,
far below 2^53), then converted back to int64.
"""

from __future__ import annotations

import numpy as np

from exporter import int8_math
from exporter.graph import Graph


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
    tensors = graph.tensors
    env: dict[str, np.ndarray] = {graph.meta["input"]["tensor"]: x[:, :, None]}

    def q(name):
        return tensors[name]["scale"], tensors[name]["zero_point"]

    for op in graph.ops:
        kind, out = op["op"], op["output"]
        _, zp_out = q(out)
        if kind == "quantize":
            y = _requant_out(env[op["input"]], op["mult"], op["shift"], zp_out)
        elif kind in ("conv2d", "depthwise_conv2d"):
            acc = conv_acc(env[op["input"]], q(op["input"])[1], graph.array(op, "weights"), graph.array(op, "bias"),
                           op["stride"], kind == "depthwise_conv2d")
            y = _requant_out(acc, graph.array(op, "mult"), graph.array(op, "shift"), zp_out, op["act_min"], op["act_max"])
        elif kind == "fully_connected":
            xin = env[op["input"]].astype(np.int64) - q(op["input"])[1]
            acc = graph.array(op, "weights").astype(np.int64) @ xin + graph.array(op, "bias")
            y = _requant_out(acc, graph.array(op, "mult"), graph.array(op, "shift"), zp_out, op["act_min"], op["act_max"])
        elif kind == "lut":
            y = graph.array(op, "table")[env[op["input"]].astype(np.int64) + 128]
        elif kind == "global_avgpool":
            a = env[op["input"]]
            total = a.astype(np.int64).sum(axis=(0, 1))
            y = int8_math.clamp(int8_math.round_div(total, a.shape[0] * a.shape[1])).astype(np.int8)
        elif kind == "mul_channel":
            prod = (env[op["input"]].astype(np.int64) - q(op["input"])[1]) * (env[op["gate"]].astype(np.int64) - q(op["gate"])[1])
            y = _requant_out(prod, op["mult"], op["shift"], zp_out)
        elif kind == "add":
            (a, b), ls = op["inputs"], op["left_shift"]
            m, s = op["mult"], op["shift"]
            a1 = int8_math.requantize((env[a].astype(np.int64) - q(a)[1]) << ls, m[0], s[0])
            b1 = int8_math.requantize((env[b].astype(np.int64) - q(b)[1]) << ls, m[1], s[1])
            y = _requant_out(a1 + b1, m[2], s[2], zp_out)
        else:
            raise ValueError(f"unknown op {kind!r}")
        env[out] = y
    if return_all:
        return env
    return taps_vector(graph, env)


def taps_vector(graph: Graph, env: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([env[t["tensor"]] for t in graph.taps]).astype(np.int8)
