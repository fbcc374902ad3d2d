"""What the two ONNX models of the graph (integer-exact and QDQ) build alike.

Both keep a list of nodes and initializers, name things uniquely, end with the
concatenated ``taps`` output and can expose every quantized tensor under its
graph name in the numpy executor's layout ([T][F][C], pooled [C]).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from exporter.quantization.graph import Graph

OPSET = 17


class Builder:
    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0
        self._consts: dict[tuple, str] = {}

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value, dtype) -> str:
        """An initializer; equal constants are stored once."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._consts:
            name = self.fresh("c")
            self.inits.append(numpy_helper.from_array(arr, name))
            self._consts[key] = name
        return self._consts[key]

    def node(self, op: str, inputs: list[str], hint: str = "t", out: str | None = None, **attrs) -> str:
        out = out or self.fresh(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.fresh(op), **attrs))
        return out


def finish_model(b: Builder, graph: Graph, q_env: dict[str, str], name: str, input_type: int,
                 expose_all: bool) -> onnx.ModelProto:
    """Add the ``taps`` output (and with ``expose_all`` every int8 tensor of ``q_env``,
    NCHW inside the model), then build and check the model. The input is ``[T][mel]``."""
    t = graph.tensors
    inp = graph.meta["input"]["tensor"]
    flat = [b.node("Reshape", [q_env[tap["tensor"]], b.const([-1], np.int64)]) for tap in graph.taps]
    b.node("Concat", flat, out="taps", axis=0)
    outputs = [helper.make_tensor_value_info("taps", TensorProto.INT8, [graph.tap_dim])]
    if expose_all:
        for tensor, value in q_env.items():
            if tensor == inp:
                continue
            if t[tensor].get("pooled"):
                b.node("Reshape", [value, b.const([-1], np.int64)], out=tensor)
                shape = [t[tensor]["channels"]]
            else:
                nhwc = b.node("Transpose", [value], perm=[0, 2, 3, 1])
                b.node("Squeeze", [nhwc, b.const([0], np.int64)], out=tensor)
                shape = [None, t[tensor]["mel"], t[tensor]["channels"]]
            outputs.append(helper.make_tensor_value_info(tensor, TensorProto.INT8, shape))
    mel = graph.meta["input"]["mel_bands"]
    g = helper.make_graph(b.nodes, name, [helper.make_tensor_value_info(inp, input_type, ["T", mel])],
                          outputs, initializer=b.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="efficientat-m4")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
