"""Float graph + activation ranges -> the quantized integer graph (docs/int8-graph.md).

Weights: per-channel symmetric int8 in [-127, 127]. Activations: per-tensor
asymmetric int8 from the calibrated range (widened to contain 0, so that zero
padding and ReLU are exact). Bias: int32 at scale s_in * s_w[c]. Hard-swish and
sigmoid: 256-entry tables; sigmoid outputs use scale 1/256, zero point -128.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from exporter.quantization import int8_math
from exporter.errors import UserError
from exporter.quantization.fold import FloatGraph
from exporter.quantization.graph import FORMAT, INPUT, MEL_BANDS, VERSION, Graph

Q12_SCALE = 1.0 / 4096
SIGMOID_SCALE, SIGMOID_ZP = 1.0 / 256, -128
INT32_MAX = (1 << 31) - 1
# Largest |bias| at scale s_in * s_w. The kernels need |bias + sum(w * dx)| * 2^shift < 2^30
# (codegen._check_accumulators); 2^28 leaves room for ~24,000 products of 255 * 128.
BIAS_LIMIT = 1 << 28
ACC_LIMIT = 1 << 30  # |acc * 2^max(shift, 0)| must stay under this (one SMMULR in the kernels)
EMPTY_RANGE = 1e-6  # width given to a tensor that is constant zero on the calibration data


class QuantizationError(UserError):
    """The model cannot be quantized under the device's arithmetic (e.g. a requantization would overflow)."""


def round_away(x) -> np.ndarray:
    """Round half away from zero (C's round), elementwise."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def activation_params(lo: float, hi: float) -> tuple[float, int]:
    """(scale, zero_point) of an asymmetric int8 tensor covering [lo, hi] widened to contain 0."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < EMPTY_RANGE:  # constant zero on the calibration data (a dead ReLU): any small scale is exact
        hi = lo + EMPTY_RANGE
    scale = (hi - lo) / 255.0
    zp = int(np.clip(round_away(-128.0 - lo / scale), -128, 127))
    return scale, zp


def quantize_weights(w: np.ndarray, axis_out: int, scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel symmetric int8 ([-127, 127]); returns (q, scale[c]). All-zero channels get scale 0.

    ``scale``: use these per-channel scales instead of max|w| / 127 (values beyond 127 steps clip).
    """
    moved = np.moveaxis(np.asarray(w, dtype=np.float64), axis_out, 0)
    maxabs = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    scale = maxabs / 127.0 if scale is None else np.asarray(scale, dtype=np.float64)
    safe = np.where(scale > 0, scale, 1.0)
    q = np.clip(round_away(moved / safe.reshape((-1,) + (1,) * (moved.ndim - 1))), -127, 127)
    return np.moveaxis(q, 0, axis_out).astype(np.int8), scale


def _hardswish(x):
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lut_table(function: str, s_in: float, zp_in: int, s_out: float, zp_out: int) -> np.ndarray:
    """table[q + 128] = quantized function(dequantized q), q in -128..127."""
    q = np.arange(-128, 128, dtype=np.float64)
    f = {"hardswish": _hardswish, "sigmoid": _sigmoid}[function]
    y = f(s_in * (q - zp_in))
    return np.clip(round_away(y / s_out) + zp_out, -128, 127).astype(np.int8)


def check_no_shift_overflow(name: str, max_abs_acc: np.ndarray, shift: np.ndarray) -> None:
    """``acc << max(shift, 0)`` must fit int32 for every possible acc (the device computes it in 32 bits)."""
    bound = np.asarray(max_abs_acc, dtype=np.int64) << np.maximum(np.asarray(shift, dtype=np.int64), 0)
    bad = np.flatnonzero(bound > INT32_MAX)
    if bad.size:
        c = int(bad[0])
        raise QuantizationError(
            f"{name}: requantization of channel {c} can overflow int32 "
            f"(|acc| up to {int(np.broadcast_to(max_abs_acc, shift.shape)[c])}, left shift {int(shift[c])}); "
            "the output range is too narrow for this layer: calibrate with more varied audio"
        )


class _Builder:
    def __init__(self, ranges: dict[str, tuple[float, float]]):
        self.ranges = ranges
        self.tensors: dict[str, dict] = {}
        self.ops: list[dict] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.notes: list[dict] = []  # where the quantizer departed from the plain recipe, and why

    def tensor(self, name: str, channels: int, mel: int, pooled: bool, scale: float, zp: int, dtype="int8") -> None:
        self.tensors[name] = {
            "channels": int(channels), "mel": int(mel), "pooled": pooled, "dtype": dtype,
            "scale": float(scale), "zero_point": int(zp),
        }

    def calibrated(self, name: str, channels: int, mel: int, pooled: bool = False, lo: float | None = None) -> None:
        if name not in self.ranges:
            raise KeyError(f"no calibrated range for tensor {name!r}")
        r_lo, hi = self.ranges[name]
        lo = r_lo if lo is None else lo
        if max(hi, 0.0) - min(lo, 0.0) < EMPTY_RANGE:
            # Zero on every calibration clip (a dead ReLU, a dead SE bottleneck). Its range would
            # collapse, and with it the scale its producer and readers are computed at. Give it the
            # magnitude of its pre-activation instead: exact zero stays exact, and should the
            # units fire on other audio, they are represented rather than clipped to nothing.
            acc_lo, acc_hi = self.ranges.get(name + ".acc", (0.0, 0.0))
            width = max(abs(acc_lo), abs(acc_hi))
            self.notes.append({"tensor": name, "case": "constant",
                               "detail": "zero on every calibration clip (a dead path); range taken from its "
                                         f"pre-activation, [0, {width:.3g}]" if width >= EMPTY_RANGE else
                                         "zero on every calibration clip, pre-activation too"})
            if width >= EMPTY_RANGE:
                hi = width
        self.tensor(name, channels, mel, pooled, *activation_params(lo, hi))

    def fit_output(self, name: str, worst) -> None:
        """Widen tensor ``name``'s range (doubling its scale) until ``worst(s_out)`` -- the
        (largest |accumulator|, shift) pairs of its producer at that output scale -- fits the
        kernels' requantization (|acc * 2^max(shift, 0)| < 2^30). Only an output range far
        narrower than what its inputs can produce needs it (a near-constant tensor)."""
        t = self.tensors[name]
        factor = 1
        while any(int(acc) << max(int(sh), 0) >= ACC_LIMIT for acc, sh in worst(t["scale"] * factor)):
            factor *= 2
            if factor > 1 << 40:
                raise QuantizationError(f"{name}: no output scale fits the accumulator")
        if factor > 1:
            t["scale"] *= factor
            self.notes.append({"tensor": name, "case": "widened output",
                               "detail": f"range widened x{factor} so its producer's requantization fits 32 bits"})

    def q(self, name: str) -> tuple[float, int]:
        t = self.tensors[name]
        return t["scale"], t["zero_point"]

    def weighted(self, fop, kind: str, inp: str, out: str, relu: bool) -> None:
        """conv2d / depthwise_conv2d / fully_connected with quantized weights, bias and multipliers."""
        s_in, zp_in = self.q(inp)
        s_out, zp_out = self.q(out)
        axis = 2 if kind == "depthwise_conv2d" else 0
        wq, s_w = quantize_weights(fop.weights, axis)
        dead = s_w == 0  # all-zero channel: the bias alone gives the output; choose M = 1
        if dead.any():
            self.notes.append({"tensor": out, "case": "zero weights", "channels": np.flatnonzero(dead).tolist(),
                               "detail": "all weights zero: the output is the bias alone"})
        s_w = np.where(dead, s_out / s_in, s_w)
        # A bias too large for the accumulator at s_in * s_w (a tiny weight row, or an input that is
        # constant on the calibration data and so has a tiny scale): raise that channel's weight scale
        # until the bias fits, as TFLite's converter does. The weights then round coarser (to zero
        # where the input is dead): the output is the bias plus what the weights still resolve.
        need = np.abs(fop.bias) / (s_in * BIAS_LIMIT)
        raised = need > s_w
        if raised.any():
            s_w = np.where(raised, need, s_w)
            wq, _ = quantize_weights(fop.weights, axis, scale=s_w)
            zeroed = raised & ~np.moveaxis(wq, axis, 0).reshape(len(s_w), -1).any(axis=1)
            self.notes.append({"tensor": out, "case": "bias-limited weight scale",
                               "channels": np.flatnonzero(raised).tolist(),
                               "detail": f"weight scale raised so the bias fits the accumulator; "
                                         f"{int(zeroed.sum())} of {int(raised.sum())} rows round to zero"})
        bias = round_away(fop.bias / (s_in * s_w))
        per_channel = np.abs(np.moveaxis(wq.astype(np.int64), axis, 0)).reshape(len(s_w), -1).sum(axis=1)
        max_dx = max(127 - zp_in, zp_in + 128)
        max_acc = np.abs(bias).astype(np.int64) + per_channel * max_dx
        self.fit_output(out, lambda s: zip(max_acc, int8_math.quantize_multipliers(s_in * s_w / s)[1]))
        s_out = self.q(out)[0]
        mult, shift = int8_math.quantize_multipliers(s_in * s_w / s_out)
        check_no_shift_overflow(fop.name, max_acc, shift)
        op = {"op": kind, "name": out, "input": inp, "output": out}
        if kind != "fully_connected":
            op.update(kernel=fop.kernel, stride=fop.stride, padding=(fop.kernel - 1) // 2)
        for field, arr in (("weights", wq), ("bias", bias.astype(np.int32)), ("mult", mult), ("shift", shift)):
            op[field] = f"{out}.{field}"
            self.arrays[op[field]] = arr
        op["act_min"] = zp_out if relu else -128
        op["act_max"] = 127
        self.ops.append(op)

    def lut(self, function: str, inp: str, out: str) -> None:
        table = lut_table(function, *self.q(inp), *self.q(out))
        self.arrays[f"{out}.table"] = table
        self.ops.append({"op": "lut", "name": out, "input": inp, "output": out, "table": f"{out}.table", "function": function})

    def pool(self, inp: str, out: str) -> None:
        t = self.tensors[inp]
        self.tensor(out, t["channels"], 1, True, t["scale"], t["zero_point"])
        self.ops.append({"op": "global_avgpool", "name": out, "input": inp, "output": out})


def quantize_graph(
    fgraph: FloatGraph, ranges: dict[str, tuple[float, float]], model_info: dict, extra: dict | None = None
) -> Graph:
    """Build the integer graph from the folded float graph and calibrated ranges (tensor -> (lo, hi)).

    ``ranges`` must cover ``input`` and every float tensor of ``run_float`` that
    the graph quantizes. ``model_info`` becomes ``meta["model"]``; ``extra`` is merged into meta.
    """
    b = _Builder(ranges)
    b.tensor(INPUT, 1, MEL_BANDS, False, Q12_SCALE, 0, dtype="int16")
    b.calibrated("input", 1, MEL_BANDS)
    m, s = int8_math.quantize_multiplier(Q12_SCALE / b.q("input")[0])
    check_no_shift_overflow("input", np.array([1 << 15]), np.array([s]))
    b.ops.append({"op": "quantize", "name": "input", "input": INPUT, "output": "input", "mult": m, "shift": s})
    mel = {"input": MEL_BANDS}
    channels = {"input": 1}

    for fop in fgraph.ops:
        src = fop.inputs[0]
        if fop.op in ("conv2d", "depthwise_conv2d"):
            c_out = fop.weights.shape[0] if fop.op == "conv2d" else fop.weights.shape[2]
            f_out = math.ceil(mel[src] / fop.stride)
            if fop.act == "hardswish":
                pre = fop.name + ".pre"
                b.calibrated(pre, c_out, f_out)
                b.weighted(fop, fop.op, src, pre, relu=False)
                b.calibrated(fop.name, c_out, f_out)
                b.lut("hardswish", pre, fop.name)
            else:
                relu = fop.act == "relu"
                b.calibrated(fop.name, c_out, f_out, lo=0.0 if relu else None)
                b.weighted(fop, fop.op, src, fop.name, relu=relu)
            mel[fop.name], channels[fop.name] = f_out, c_out
        elif fop.op == "fully_connected":
            c_out = fop.weights.shape[0]
            relu = fop.act == "relu"
            b.calibrated(fop.name, c_out, 1, pooled=True, lo=0.0 if relu else None)
            b.weighted(fop, "fully_connected", src, fop.name, relu=relu)
            mel[fop.name], channels[fop.name] = 1, c_out
        elif fop.op == "global_avgpool":
            b.pool(src, fop.name)
            mel[fop.name], channels[fop.name] = 1, channels[src]
        elif fop.op == "sigmoid":
            b.tensor(fop.name, channels[src], 1, True, SIGMOID_SCALE, SIGMOID_ZP)
            b.lut("sigmoid", src, fop.name)
            mel[fop.name], channels[fop.name] = 1, channels[src]
        elif fop.op == "mul_channel":
            gate = fop.inputs[1]
            b.calibrated(fop.name, channels[src], mel[src])
            (s_x, _), (s_g, _) = b.q(src), b.q(gate)
            b.fit_output(fop.name, lambda so: [(255 * 255, int8_math.quantize_multiplier(s_x * s_g / so)[1])])
            s_o = b.q(fop.name)[0]
            m, s = int8_math.quantize_multiplier(s_x * s_g / s_o)
            check_no_shift_overflow(fop.name, np.array([255 * 255]), np.array([s]))
            b.ops.append({"op": "mul_channel", "name": fop.name, "input": src, "gate": gate, "output": fop.name,
                          "mult": m, "shift": s})
            mel[fop.name], channels[fop.name] = mel[src], channels[src]
        elif fop.op == "add":
            other = fop.inputs[1]
            b.calibrated(fop.name, channels[src], mel[src])
            s1_, s2_ = b.q(src)[0], b.q(other)[0]
            b.fit_output(fop.name, lambda so: [(2 * (255 << 20), int8_math.add_params(s1_, s2_, so)[2][1])])
            (m1, s1), (m2, s2), (mo, so) = int8_math.add_params(s1_, s2_, b.q(fop.name)[0])
            # (q - zp) << 20 is at most 255 * 2^20 < 2^28; the add's own shifts are <= 0.
            check_no_shift_overflow(fop.name, np.array([2 * (255 << 20)]), np.array([so]))
            b.ops.append({"op": "add", "name": fop.name, "inputs": [src, other], "output": fop.name,
                          "left_shift": 20, "mult": [m1, m2, mo], "shift": [s1, s2, so]})
            mel[fop.name], channels[fop.name] = mel[src], channels[src]
        else:
            raise ValueError(f"cannot quantize float op {fop.op!r}")

    taps, offset = [], 0
    for tap_name, tensor in fgraph.taps:
        t = b.tensors[tensor]
        taps.append({"name": tap_name, "tensor": tensor, "channels": t["channels"], "offset": offset,
                     "scale": t["scale"], "zero_point": t["zero_point"]})
        offset += t["channels"]
    meta = {
        "format": FORMAT, "version": VERSION, "model": dict(model_info),
        "input": {"tensor": INPUT, "mel_bands": MEL_BANDS, "frac_bits": 12},
        "tensors": b.tensors, "ops": b.ops, "taps": taps, "quantization_notes": b.notes,
    }
    meta.update(extra or {})
    graph = Graph(meta, b.arrays)
    graph.validate()
    return graph


def correct_biases(graph: Graph, fgraph: FloatGraph, logmels_q12: list[np.ndarray] | dict[str, list[np.ndarray]],
                   residual_targets: bool = True) -> dict[str, float]:
    """Empirical bias correction, layer by layer, in place.

    The taps are means over time and frequency: zero-mean rounding noise
    averages away there, a systematic shift of a channel does not. For each
    conv / fully connected op in order, the mean per-channel error of its
    accumulator (dequantized) against the float model's pre-activation on the
    same clips (float model on the Q12 input, earlier layers already corrected)
    is folded into the int32 bias. With ``residual_targets``, a project conv
    followed by a residual add is corrected against the float block output
    (skip path included), so the skip path's drift is absorbed too (measured
    over calibration seeds 0-2 on mn01: mean cosine B11 0.967 -> 0.973, B13
    0.884 -> 0.906, B15 0.68 -> 0.66, within its spread). Returns op -> largest
    correction in output steps. ``logmels_q12`` may be groups of windows (scene, timestamp:
    exporter/quantization/calibrate.py): the correction is then the mean of the groups' mean errors,
    each mode weighing the same.
    """
    from exporter.reference import int8_exec
    from exporter.quantization.fold import run_float

    # project conv -> (residual add output, skip input): its bias also absorbs the skip path's mean error
    residual = {op["inputs"][0]: (op["output"], op["inputs"][1]) for op in graph.ops if op["op"] == "add"}
    keep = {add for add, _ in residual.values()}
    groups = logmels_q12 if isinstance(logmels_q12, dict) else {"all": logmels_q12}
    floats, envs, group_of = [], [], []
    for g, mels in groups.items():
        for mel in mels:
            env = run_float(fgraph, mel.astype(np.float64) / 4096.0, dtype=torch.float64)
            floats.append({k: (v[0].permute(1, 2, 0) if v.dim() == 4 else v[0]).numpy() for k, v in env.items()
                           if k.endswith(".acc") or k in keep})
            envs.append({INPUT: mel[:, :, None]})
            group_of.append(g)
    corrections = {}
    for op in graph.ops:
        out = op["output"]
        if op["op"] in ("conv2d", "depthwise_conv2d", "fully_connected"):
            fname = out[:-4] if out.endswith(".pre") else out
            mult, shift = graph.array(op, "mult"), graph.array(op, "shift")
            s_out = graph.tensors[out]["scale"]
            s_acc = mult.astype(np.float64) * 2.0 ** (shift.astype(np.float64) - 31) * s_out
            err_sum, count = {g: 0.0 for g in groups}, {g: 0 for g in groups}
            for env, fl, g in zip(envs, floats, group_of):
                acc = int8_exec.accumulator(graph, op, env)
                if out in residual and residual_targets:
                    add, skip = residual[out]
                    t_skip = graph.tensors[skip]
                    skip_real = (env[skip].astype(np.float64) - t_skip["zero_point"]) * t_skip["scale"]
                    diff = fl[add] - skip_real - acc * s_acc
                else:
                    diff = fl[fname + ".acc"] - acc * s_acc
                err_sum[g] = err_sum[g] + diff.reshape(-1, diff.shape[-1]).sum(axis=0)
                count[g] += diff.size // diff.shape[-1]
            mean_err = sum(err_sum[g] / count[g] for g in groups if count[g]) / sum(1 for g in groups if count[g])
            safe = np.where(s_acc > 0, s_acc, 1.0)
            delta = np.where(s_acc > 0, round_away(mean_err / safe), 0).astype(np.int64)
            bias = graph.array(op, "bias").astype(np.int64) + delta
            if np.abs(bias).max() > BIAS_LIMIT:
                # the correction itself is bounded by the output's range; keep what fits
                bias = np.clip(bias, -BIAS_LIMIT, BIAS_LIMIT)
            w = graph.array(op, "weights").astype(np.int64)
            axis = 2 if op["op"] == "depthwise_conv2d" else 0
            per_channel = np.abs(np.moveaxis(w, axis, 0)).reshape(len(bias), -1).sum(axis=1)
            zp_in = graph.tensors[op["input"]]["zero_point"]
            check_no_shift_overflow(out, np.abs(bias) + per_channel * max(127 - zp_in, zp_in + 128), shift)
            graph.arrays[op["bias"]] = bias.astype(np.int32)
            corrections[out] = float(np.abs(delta * s_acc / s_out).max())
        for env in envs:
            env[out] = int8_exec.run_op(graph, op, env)
    return corrections
