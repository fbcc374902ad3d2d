"""BatchNorm folding: the float MobileNetV3 (in_conv .. B15) as a flat list of float ops.

The list uses the op vocabulary of the integer graph (docs/int8-graph.md) in
float: every conv carries its folded weights (graph layout, [T][F] = H, W) and
bias, and its activation as a field. The quantizer turns it into the integer
graph; calibration runs it (``run_float``) to observe activation ranges.

Tensor names: an op's output tensor has the op's name. A conv with a
hard-swish also records its pre-activation as ``<name>.pre``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from exporter.float_model.mobilenet import TAP_BLOCKS, ConvBNAct, MobileNetV3


@dataclass
class FloatOp:
    op: str  # conv2d, depthwise_conv2d, global_avgpool, fully_connected, sigmoid, mul_channel, add
    name: str
    inputs: list[str]
    act: str | None = None  # None, "relu", "hardswish"
    stride: int = 1
    kernel: int = 1
    weights: np.ndarray | None = None  # conv [Co][KT][KF][Ci]; depthwise [KT][KF][C]; fc [Co][Ci]
    bias: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)


@dataclass
class FloatGraph:
    width: float
    ops: list[FloatOp]
    taps: list[tuple[str, str]]  # (tap name, pooled tensor)


def fold_conv_bn(conv: torch.nn.Conv2d, bn: torch.nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """(weight [Co][Ci/g][KH][KW], bias [Co]) of conv followed by eval-mode BN (BN's own eps), float64."""
    w = conv.weight.detach().double()
    gamma, beta = bn.weight.detach().double(), bn.bias.detach().double()
    mean, var = bn.running_mean.detach().double(), bn.running_var.detach().double()
    factor = gamma / torch.sqrt(var + bn.eps)
    w = w * factor[:, None, None, None]
    b = beta - mean * factor
    if conv.bias is not None:
        b = b + conv.bias.detach().double() * factor
    return w.numpy(), b.numpy()


def _conv_op(name: str, inp: str, layer: ConvBNAct, depthwise: bool) -> FloatOp:
    conv, bn = layer[0], layer[1]
    w, b = fold_conv_bn(conv, bn)
    act = None
    if len(layer) > 2:
        act = {"ReLU": "relu", "Hardswish": "hardswish"}[type(layer[2]).__name__]
    if depthwise:
        weights = w[:, 0].transpose(2, 1, 0)  # [C][KH=F][KW=T] -> [KT][KF][C]
    else:
        weights = w.transpose(0, 3, 2, 1)  # [Co][Ci][KH=F][KW=T] -> [Co][KT][KF][Ci]
    return FloatOp(
        op="depthwise_conv2d" if depthwise else "conv2d",
        name=name,
        inputs=[inp],
        act=act,
        stride=conv.stride[0],
        kernel=conv.kernel_size[0],
        weights=np.ascontiguousarray(weights),
        bias=b,
    )


def fold_model(model: MobileNetV3) -> FloatGraph:
    """The device part of ``model`` (eval mode BN) as a FloatGraph with taps B5, B11, B13, B15."""
    ops: list[FloatOp] = [_conv_op("in_conv", "input", model.features[0], depthwise=False)]
    x = "in_conv"
    for block in model.features[1:16]:
        cfg = block.config
        k = f"B{cfg.index}"
        h = x
        if block.expand is not None:
            ops.append(_conv_op(f"{k}.expand", h, block.expand, depthwise=False))
            h = f"{k}.expand"
        ops.append(_conv_op(f"{k}.dw", h, block.depthwise, depthwise=True))
        h = f"{k}.dw"
        if block.se is not None:
            se = block.se
            ops.append(FloatOp("global_avgpool", f"{k}.se.pool", [h]))
            ops.append(
                FloatOp(
                    "fully_connected", f"{k}.se.fc1", [f"{k}.se.pool"], act="relu",
                    weights=se.fc1.weight.detach().double().numpy(), bias=se.fc1.bias.detach().double().numpy(),
                )
            )
            ops.append(
                FloatOp(
                    "fully_connected", f"{k}.se.fc2", [f"{k}.se.fc1"],
                    weights=se.fc2.weight.detach().double().numpy(), bias=se.fc2.bias.detach().double().numpy(),
                )
            )
            ops.append(FloatOp("sigmoid", f"{k}.se.gate", [f"{k}.se.fc2"]))
            ops.append(FloatOp("mul_channel", f"{k}.se", [h, f"{k}.se.gate"]))
            h = f"{k}.se"
        proj = f"{k}.project" if cfg.residual else k
        ops.append(_conv_op(proj, h, block.project, depthwise=False))
        if cfg.residual:
            ops.append(FloatOp("add", k, [proj, x]))
        x = k
    taps = []
    for b in TAP_BLOCKS:
        ops.append(FloatOp("global_avgpool", f"B{b}.pool", [f"B{b}"]))
        taps.append((f"B{b}", f"B{b}.pool"))
    return FloatGraph(width=model.width, ops=ops, taps=taps)


def _torch_conv(op: FloatOp, x: torch.Tensor) -> torch.Tensor:
    pad = (op.kernel - 1) // 2
    if op.op == "depthwise_conv2d":
        w = torch.from_numpy(op.weights.transpose(2, 0, 1)[:, None].copy())  # [C][1][KT][KF]
        groups = w.shape[0]
    else:
        w = torch.from_numpy(op.weights.transpose(0, 3, 1, 2).copy())  # [Co][Ci][KT][KF]
        groups = 1
    return F.conv2d(x, w.to(x.dtype), torch.from_numpy(op.bias).to(x.dtype), op.stride, pad, groups=groups)


def run_float(graph: FloatGraph, logmel: np.ndarray | torch.Tensor, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """Run ``graph`` on a normalised log-mel [T][128]; returns every tensor.

    Maps are [1][C][T][F] (NCHW with H = time); pooled tensors are [1][C].
    Weighted ops also record their pre-activation output as ``<name>.acc``.
    """
    x = torch.as_tensor(np.asarray(logmel)).to(dtype)[None, None]
    env: dict[str, torch.Tensor] = {"input": x}
    with torch.no_grad():
        for op in graph.ops:
            a = env[op.inputs[0]]
            if op.op in ("conv2d", "depthwise_conv2d", "fully_connected"):
                if op.op == "fully_connected":
                    y = a @ torch.from_numpy(op.weights).to(dtype).T + torch.from_numpy(op.bias).to(dtype)
                else:
                    y = _torch_conv(op, a)
                env[op.name + ".acc"] = y  # pre-activation (the quantizer's bias correction compares it)
                if op.act == "relu":
                    y = torch.relu(y)
                elif op.act == "hardswish":
                    env[op.name + ".pre"] = y
                    y = F.hardswish(y)
            elif op.op == "global_avgpool":
                y = a.mean((2, 3))
            elif op.op == "sigmoid":
                y = torch.sigmoid(a)
            elif op.op == "mul_channel":
                y = a * env[op.inputs[1]][:, :, None, None]
            elif op.op == "add":
                y = a + env[op.inputs[1]]
            else:
                raise ValueError(f"unknown float op {op.op!r}")
            env[op.name] = y
    return env
