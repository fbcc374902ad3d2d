"""The integer graph as a QDQ ONNX model (QuantizeLinear/DequantizeLinear around float ops), for other tools.

Same quantization parameters as the integer graph, but the arithmetic between
Q and DQ is float (and ONNX Runtime rounds half to even), so its integers
differ from the device's by a step here and there; ``compare`` measures how
much. Input ``logmel``: float32 [T][128] (the Q12 frames / 4096). Output
``taps``: int8 [tap_dim], the quantized tap tensors.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from exporter.quantization.graph import Graph
from exporter.reference.onnx_build import Builder, finish_model


class _Builder(Builder):
    def dq_weights(self, q: np.ndarray, scale: np.ndarray, axis: int, dtype=np.int8) -> str:
        return self.node("DequantizeLinear", [self.const(q, dtype), self.const(scale, np.float32),
                                              self.const(np.zeros(len(scale)), dtype)], axis=axis)


def weight_scales(graph: Graph, op: dict) -> np.ndarray:
    """Per-channel weight scales, recovered from the multipliers: s_w = M * s_out / s_in."""
    t = graph.tensors
    s_in, s_out = t[op["input"]]["scale"], t[op["output"]]["scale"]
    mult = graph.array(op, "mult").astype(np.float64)
    shift = graph.array(op, "shift").astype(np.float64)
    return mult * 2.0 ** (shift - 31) * s_out / s_in


def build_model(graph: Graph, expose_all: bool = False) -> onnx.ModelProto:
    """The QDQ model; ``expose_all`` adds every quantized tensor as an int8 output under its graph name,
    in the numpy executor's layout ([T][F][C], pooled [C])."""
    b = _Builder()
    t = graph.tensors
    mel = graph.meta["input"]["mel_bands"]
    inp = graph.meta["input"]["tensor"]
    float_env = {inp: b.node("Reshape", [inp, b.const([1, 1, -1, mel], np.int64)])}
    q_env: dict[str, str] = {}

    def qdq(x: str, name: str) -> str:
        s, zp = b.const(t[name]["scale"], np.float32), b.const(t[name]["zero_point"], np.int8)
        q_env[name] = b.node("QuantizeLinear", [x, s, zp])
        return b.node("DequantizeLinear", [q_env[name], s, zp])

    for op in graph.ops:
        kind, out = op["op"], op["output"]
        x = float_env[op["inputs"][0] if kind == "add" else op["input"]]
        if kind == "quantize":
            y = x
        elif kind in ("conv2d", "depthwise_conv2d", "fully_connected"):
            s_w = weight_scales(graph, op)
            w = graph.array(op, "weights")
            bias_scale = s_w * t[op["input"]]["scale"]
            bias = b.dq_weights(graph.array(op, "bias"), bias_scale, 0, np.int32)
            if kind == "fully_connected":
                flat = b.node("Reshape", [x, b.const([1, -1], np.int64)])
                y = b.node("Add", [b.node("MatMul", [flat, b.dq_weights(w.T, s_w, 1)]), bias])
            else:
                if kind == "conv2d":
                    w_onnx, group = w.transpose(0, 3, 1, 2), 1
                else:
                    w_onnx, group = w.transpose(2, 0, 1)[:, None], w.shape[2]
                p, s = op["padding"], op["stride"]
                y = b.node("Conv", [x, b.dq_weights(w_onnx, s_w, 0), bias], pads=[p] * 4, strides=[s, s], group=group)
            if op["act_min"] == t[out]["zero_point"]:
                y = b.node("Relu", [y])
            if kind == "fully_connected":
                y = b.node("Reshape", [y, b.const([1, -1, 1, 1], np.int64)])
        elif kind == "lut":
            y = b.node({"hardswish": "HardSwish", "sigmoid": "Sigmoid"}[op["function"]], [x])
        elif kind == "global_avgpool":
            y = b.node("GlobalAveragePool", [x])
        elif kind == "mul_channel":
            y = b.node("Mul", [x, float_env[op["gate"]]])
        elif kind == "add":
            y = b.node("Add", [float_env[op["inputs"][0]], float_env[op["inputs"][1]]])
        else:
            raise ValueError(f"unknown op {kind!r}")
        float_env[out] = qdq(y, out)

    return finish_model(b, graph, q_env, "efficientat_qdq", TensorProto.FLOAT, expose_all)


def compare(graph: Graph, qdq_model: onnx.ModelProto, int_model: onnx.ModelProto, logmels_q12: list[np.ndarray]) -> dict:
    """Tap differences (in quantization steps) between the QDQ model and the integer model."""
    from exporter.reference import onnx_int

    qdq = onnx_int.session(qdq_model)
    ref = onnx_int.session(int_model)
    diffs = []
    for x in logmels_q12:
        a = qdq.run(["taps"], {"logmel": (x.astype(np.float32) / 4096.0)})[0].astype(np.int64)
        diffs.append(a - onnx_int.run(ref, x).astype(np.int64))
    d = np.abs(np.stack(diffs))
    per_tap = {}
    for tap in graph.taps:
        sl = d[:, tap["offset"] : tap["offset"] + tap["channels"]]
        per_tap[tap["name"]] = {"max_abs_steps": int(sl.max()), "fraction_different": float((sl > 0).mean())}
    return {
        "windows": len(logmels_q12),
        "values": int(d.size),
        "max_abs_steps": int(d.max()),
        "fraction_different": float((d > 0).mean()),
        "fraction_more_than_one_step": float((d > 1).mean()),
        "per_tap": per_tap,
    }


def report_markdown(result: dict) -> str:
    lines = [
        "# QDQ ONNX model vs the integer graph",
        "",
        "`model_qdq.onnx` has the integer graph's quantization parameters but computes between",
        "QuantizeLinear and DequantizeLinear in float (ONNX Runtime rounds half to even), while the",
        "device requantizes in integers (double rounding). Differences of the output taps, in steps:",
        "",
        f"- windows compared: {result['windows']} ({result['values']} tap values)",
        f"- largest difference: {result['max_abs_steps']} step(s)",
        f"- values that differ: {100 * result['fraction_different']:.2f} %; by more than one step: "
        f"{100 * result['fraction_more_than_one_step']:.2f} %",
        "",
        "| tap | max steps | values that differ |",
        "| --- | --- | --- |",
    ]
    for name, r in result["per_tap"].items():
        lines.append(f"| {name} | {r['max_abs_steps']} | {100 * r['fraction_different']:.2f} % |")
    lines += ["", "Single-step differences inside the network can grow through later layers, so the taps",
              "may differ by more than one step; the integer model (`model_int.onnx`) is the bit-exact reference."]
    return "\n".join(lines) + "\n"
