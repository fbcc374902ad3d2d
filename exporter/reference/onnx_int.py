"""The integer graph as an integer-exact ONNX model (ONNX Runtime's bit-exact reference).

ONNX Runtime's QLinear ops requantize in float; this model instead does every
step in integers: ``ConvInteger`` / ``MatMulInteger`` accumulate, int64
Mul/Add and a floor division built from ``Mod`` (integer Mod with fmod=0 takes
the divisor's sign; integer Div truncates) requantize exactly as
exporter/quantization/int8_math.py, ``Gather`` applies the tables.

Inside, maps are NCHW [1][C][T][F] (pooled: [1][C][1][1]). Input ``logmel``:
int16 [T][128], T dynamic. Output ``taps``: int8 [tap_dim]. With
``expose_all``, every graph tensor is also an output under its own name, in
the numpy executor's layout ([T][F][C], pooled [C]).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from exporter.quantization.graph import Graph
from exporter.reference.onnx_build import Builder, finish_model


class _Builder(Builder):
    def i64(self, x: str) -> str:
        return self.node("Cast", [x], to=TensorProto.INT64)

    def requantize(self, acc: str, mult, shift, shape: tuple[int, ...] = ()) -> str:
        """arm_nn_requantize (double rounding) on int64 ``acc``; mult/shift broadcast with ``shape``."""
        mult = np.asarray(mult, dtype=np.int64).reshape(shape)
        shift = np.asarray(shift, dtype=np.int64).reshape(shape)
        left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
        x = acc
        if np.any(left):
            x = self.node("Mul", [x, self.const(np.int64(1) << left, np.int64)])
        x = self.node("Mul", [x, self.const(mult, np.int64)])
        x = self.node("Add", [x, self.const(1 << 30, np.int64)])
        y = self.floor_div(x, self.const(1 << 31, np.int64))
        if not np.any(right):
            return y
        pow2 = self.const(np.int64(1) << right, np.int64)
        rem = self.node("Mod", [y, pow2], fmod=0)  # y & mask, in [0, 2^R)
        q = self.node("Div", [self.node("Sub", [y, rem]), pow2])  # exact: floor(y / 2^R)
        neg = self.node("Cast", [self.node("Less", [y, self.const(0, np.int64)])], to=TensorProto.INT64)
        threshold = self.node("Add", [self.const((((np.int64(1) << right) - 1) >> 1), np.int64), neg])
        up = self.node("Cast", [self.node("Greater", [rem, threshold])], to=TensorProto.INT64)
        return self.node("Add", [q, up])

    def floor_div(self, x: str, d: str) -> str:
        """floor(x / d) for d > 0: Mod with fmod=0 has d's sign, so x - mod is an exact multiple."""
        return self.node("Div", [self.node("Sub", [x, self.node("Mod", [x, d], fmod=0)]), d])

    def to_int8(self, x: str, zp_out: int, lo: int = -128, hi: int = 127, out: str | None = None) -> str:
        x = self.node("Add", [x, self.const(zp_out, np.int64)])
        x = self.node("Clip", [x, self.const(lo, np.int64), self.const(hi, np.int64)])
        return self.node("Cast", [x], out=out, to=TensorProto.INT8)

    def centered(self, x: str, zp: int) -> str:
        """int64(x) - zp."""
        return self.node("Sub", [self.i64(x), self.const(zp, np.int64)])


def build_model(graph: Graph, expose_all: bool = False) -> onnx.ModelProto:
    """The integer ONNX model of ``graph`` (see the module docstring)."""
    b = _Builder()
    t = graph.tensors
    inp = graph.meta["input"]["tensor"]
    mel = graph.meta["input"]["mel_bands"]
    env = {inp: b.node("Reshape", [inp, b.const([1, 1, -1, mel], np.int64)])}

    for op in graph.ops:
        kind, out = op["op"], op["output"]
        zp_out = t[out]["zero_point"]
        name = f"{out}__nchw"
        if kind == "quantize":
            y = b.requantize(b.i64(env[op["input"]]), op["mult"], op["shift"])
            env[out] = b.to_int8(y, zp_out, out=name)
        elif kind in ("conv2d", "depthwise_conv2d"):
            x, zp_in = env[op["input"]], t[op["input"]]["zero_point"]
            p, s = op["padding"], op["stride"]
            w = graph.array(op, "weights")
            if kind == "conv2d":
                w_onnx, group = w.transpose(0, 3, 1, 2), 1
            else:
                w_onnx, group = w.transpose(2, 0, 1)[:, None], w.shape[2]
            if p:
                x = b.node("Pad", [x, b.const([0, 0, p, p, 0, 0, p, p], np.int64), b.const(zp_in, np.int8)])
            acc = b.node("ConvInteger", [x, b.const(w_onnx, np.int8), b.const(zp_in, np.int8)],
                         strides=[s, s], group=group)
            c = w_onnx.shape[0]
            acc = b.node("Add", [b.i64(acc), b.const(graph.array(op, "bias").reshape(c, 1, 1), np.int64)])
            y = b.requantize(acc, graph.array(op, "mult"), graph.array(op, "shift"), (c, 1, 1))
            env[out] = b.to_int8(y, zp_out, op["act_min"], op["act_max"], out=name)
        elif kind == "fully_connected":
            y = _fully_connected(b, graph, op, env[op["input"]])
            env[out] = b.node("Reshape", [y, b.const([1, -1, 1, 1], np.int64)], out=name)
        elif kind == "lut":
            idx = b.node("Add", [b.i64(env[op["input"]]), b.const(128, np.int64)])
            env[out] = b.node("Gather", [b.const(graph.array(op, "table"), np.int8), idx], out=name, axis=0)
        elif kind == "global_avgpool":
            x = env[op["input"]]
            total = b.node("ReduceSum", [b.i64(x), b.const([2, 3], np.int64)], keepdims=1)
            dims = b.node("Shape", [x], start=2, end=4)
            n = b.node("Mul", [b.node("Gather", [dims, b.const(0, np.int64)], axis=0),
                               b.node("Gather", [dims, b.const(1, np.int64)], axis=0)])
            half = b.node("Div", [n, b.const(2, np.int64)])
            adj = b.node("Where", [b.node("Greater", [total, b.const(0, np.int64)]),
                                   b.node("Add", [total, half]), b.node("Sub", [total, half])])
            q = b.node("Div", [adj, n])  # integer Div truncates toward zero, as C does
            env[out] = b.to_int8(q, 0, out=name)  # on raw q: input and output share the zero point
        elif kind == "mul_channel":
            prod = b.node("Mul", [b.centered(env[op["input"]], t[op["input"]]["zero_point"]),
                                  b.centered(env[op["gate"]], t[op["gate"]]["zero_point"])])
            env[out] = b.to_int8(b.requantize(prod, op["mult"], op["shift"]), zp_out, out=name)
        elif kind == "add":
            pow2 = b.const(1 << op["left_shift"], np.int64)
            parts = []
            for i, src in enumerate(op["inputs"]):
                x = b.node("Mul", [b.centered(env[src], t[src]["zero_point"]), pow2])
                parts.append(b.requantize(x, op["mult"][i], op["shift"][i]))
            y = b.requantize(b.node("Add", parts), op["mult"][2], op["shift"][2])
            env[out] = b.to_int8(y, zp_out, out=name)
        else:
            raise ValueError(f"unknown op {kind!r}")

    return finish_model(b, graph, env, "efficientat_int8", TensorProto.INT16, expose_all)


def _fully_connected(b: _Builder, graph: Graph, op: dict, x: str) -> str:
    """A fully_connected op on the vector ``x`` (any shape holding C_in values): int8 [1][C_out]."""
    t = graph.tensors
    w = graph.array(op, "weights")
    x = b.node("Reshape", [x, b.const([1, -1], np.int64)])
    acc = b.node("MatMulInteger", [x, b.const(w.T, np.int8), b.const(t[op["input"]]["zero_point"], np.int8)])
    acc = b.node("Add", [b.i64(acc), b.const(graph.array(op, "bias"), np.int64)])
    y = b.requantize(acc, graph.array(op, "mult"), graph.array(op, "shift"), (w.shape[0],))
    return b.to_int8(y, t[op["output"]]["zero_point"], op["act_min"], op["act_max"])


def build_heads_model(graph: Graph) -> onnx.ModelProto:
    """The task heads (graph.json ``heads``) as an integer-exact ONNX model: input ``embedding``
    int16 [D] (the embedding integers), one output per head, named as the head: int8 logits [C]."""
    from onnx import helper

    from exporter.heads import EMBEDDING, head_graph
    from exporter.reference.onnx_build import OPSET

    b = _Builder()
    outputs = []
    d = graph.meta["input"]["mel_bands"] + graph.tap_dim
    for head in graph.meta.get("heads", []):
        hg = head_graph(graph, head)
        env = {EMBEDDING: EMBEDDING}
        for op in hg.ops:
            if op["op"] == "embed_quantize":
                acc = b.node("Sub", [b.i64(env[op["input"]]), b.const(hg.array(op, "center"), np.int64)])
                y = b.requantize(acc, hg.array(op, "mult"), hg.array(op, "shift"), (d,))
                env[op["output"]] = b.to_int8(y, hg.tensors[op["output"]]["zero_point"])
            else:
                env[op["output"]] = _fully_connected(b, hg, op, env[op["input"]])
        b.node("Reshape", [env[head["output"]], b.const([-1], np.int64)], out=head["name"])
        outputs.append(helper.make_tensor_value_info(head["name"], TensorProto.INT8, [len(head["classes"])]))
    g = helper.make_graph(b.nodes, "efficientat_heads_int8", [helper.make_tensor_value_info(EMBEDDING, TensorProto.INT16, [d])],
                          outputs, initializer=b.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="efficientat-m4")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run_heads(sess, embedding_q: np.ndarray) -> dict[str, np.ndarray]:
    """Every head's int8 logits for one embedding (int16 [D])."""
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {"embedding": np.ascontiguousarray(embedding_q, dtype=np.int16)})))


def session(model: onnx.ModelProto | str, threads: int = 1):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def run(sess, logmel_q12: np.ndarray, return_all: bool = False):
    """Run a session of this model: taps int8 [D], or a dict of every output with ``return_all``."""
    x = np.ascontiguousarray(logmel_q12, dtype=np.int16)
    if not return_all:
        return sess.run(["taps"], {"logmel": x})[0]
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {"logmel": x})))
