"""The integer ONNX model equals the numpy executor byte for byte, on every tensor."""

import re

import numpy as np
import pytest

from exporter.reference import int8_exec
from exporter.reference import onnx_int
from exporter.quantization.calibrate import calibration_logmels, collect_ranges
from exporter.quantization.fold import fold_model
from exporter.quantization.quantize import correct_biases, quantize_graph


def _graph(model):
    fg = fold_model(model)
    mels, _ = calibration_logmels(None, seed=5, n_clips=2, seconds=1.0, progress=False)
    graph = quantize_graph(fg, collect_ranges(fg, mels, 99.99, progress=False), {"name": "test"})
    correct_biases(graph, fg, [np.round(m * 4096).astype(np.int16) for m in mels])
    return graph


@pytest.fixture(scope="module")
def mn01(data_dir):
    """The trained mn01 (the default model); random weights are covered by mn02."""
    from exporter.float_model.checkpoint import resolve_model

    graph = _graph(resolve_model(checkpoint=data_dir / "mn01_trained_dev.pt")[0])
    return graph, onnx_int.session(onnx_int.build_model(graph, expose_all=True))


@pytest.fixture(scope="module")
def mn02():
    from exporter.float_model.checkpoint import random_model

    graph = _graph(random_model(0.2, seed=1))
    return graph, onnx_int.session(onnx_int.build_model(graph, expose_all=True))


def _assert_all_equal(graph, sess, x):
    ref = int8_exec.run(graph, x, return_all=True)
    got = onnx_int.run(sess, x, return_all=True)
    names = [op["output"] for op in graph.ops]
    assert set(names) <= set(got)
    for name in names:
        assert got[name].dtype == np.int8, name
        assert got[name].shape == ref[name].shape, name
        assert got[name].tobytes() == ref[name].tobytes(), f"{name} differs"
    assert got["taps"].tobytes() == int8_exec.taps_vector(graph, ref).tobytes()


def _golden_logmel(test_audio):
    from exporter.audio.files import to_pcm16
    from exporter.frontend.fixed import logmel_q12

    return logmel_q12(to_pcm16(test_audio))


def test_mn01_golden_audio(mn01, test_audio):
    graph, sess = mn01
    mel = _golden_logmel(test_audio)
    assert mel.shape == (300, 128)
    _assert_all_equal(graph, sess, mel)
    _assert_all_equal(graph, sess, mel[100:116])  # one timestamp-sized window


@pytest.mark.parametrize("frames", [1, 2, 3, 16, 33])
def test_mn01_random_inputs(mn01, frames):
    graph, sess = mn01
    rng = np.random.default_rng(frames)
    # the full int16 range, saturation included: exercises every clamp
    _assert_all_equal(graph, sess, rng.integers(-32768, 32768, size=(frames, 128)).astype(np.int16))


@pytest.mark.parametrize("frames", [16, 101])
def test_mn02_random_weights(mn02, test_audio, frames):
    graph, sess = mn02
    mel = _golden_logmel(test_audio)
    _assert_all_equal(graph, sess, mel[:frames])
    rng = np.random.default_rng(7)
    _assert_all_equal(graph, sess, rng.integers(-20000, 8000, size=(frames, 128)).astype(np.int16))


def test_taps_only_model_matches(mn01, test_audio):
    """The model as exported (taps only) gives the same taps as the one exposing everything."""
    graph, _ = mn01
    sess = onnx_int.session(onnx_int.build_model(graph))
    assert [o.name for o in sess.get_outputs()] == ["taps"]
    mel = _golden_logmel(test_audio)
    assert onnx_int.run(sess, mel).tobytes() == int8_exec.run(graph, mel).tobytes()


def test_mn01_ten_second_window(mn01):
    """The longest window the device runs (T = 1000), every tensor byte-equal."""
    graph, sess = mn01
    rng = np.random.default_rng(1000)
    _assert_all_equal(graph, sess, rng.integers(-24000, 8000, size=(1000, 128)).astype(np.int16))


def test_qdq_model_is_close_to_the_integer_model(mn01, test_audio):
    """QDQ: same parameters, float arithmetic between Q and DQ; differences are rounding steps."""
    from exporter.reference import onnx_qdq

    graph, _ = mn01
    qdq = onnx_qdq.build_model(graph)
    n_q = sum(node.op_type == "QuantizeLinear" for node in qdq.graph.node)
    assert n_q == len(graph.ops)  # every integer tensor is a quantized tensor of the QDQ model
    mel = _golden_logmel(test_audio)
    inputs = [mel, mel[:16], mel[200:233]]
    result = onnx_qdq.compare(graph, qdq, onnx_int.build_model(graph), inputs)
    assert result["windows"] == 3 and result["values"] == 3 * 56
    # single-step rounding differences grow a little through the layers; a miswired layer would
    # give differences of tens of steps. Measured (trained mn01): at most 3 steps, 10 of the 168 values
    # more than one step (0.060), 36 % of the values different.
    assert result["max_abs_steps"] <= 6
    assert result["fraction_more_than_one_step"] <= 0.12
    # and not trivially equal: float requantization rounds differently somewhere
    assert 0 < result["fraction_different"] <= 0.75
    assert "largest difference" in onnx_qdq.report_markdown(result)


def test_qdq_tensors_follow_the_integer_tensors(mn01, test_audio):
    """Every QDQ tensor is near its integer twin: a miswired layer (weights transposed, a wrong
    parameter) would be far off even where the pooled taps hide it."""
    from exporter.reference import onnx_qdq

    graph, _ = mn01
    sess = onnx_int.session(onnx_qdq.build_model(graph, expose_all=True))
    mel = _golden_logmel(test_audio)[:64]
    names = [op["output"] for op in graph.ops]
    got = dict(zip(names, sess.run(names, {"logmel": mel.astype(np.float32) / 4096})))
    ref = int8_exec.run(graph, mel, return_all=True)
    for name in names:
        t = graph.tensors[name]
        a = (got[name].astype(float) - t["zero_point"]) * t["scale"]
        b = (ref[name].astype(float) - t["zero_point"]) * t["scale"]
        assert a.shape == b.shape, name
        rel = np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12)
        assert rel < _qdq_rel_limit(name), (name, rel)
    assert np.abs(got["input"].astype(int) - ref["input"]).max() <= 1  # the input quantize: float vs integer rounding


def _qdq_rel_limit(name: str) -> float:
    """Relative error of a QDQ tensor against its integer twin: rounding steps only, growing a little
    with depth. Measured largest per depth on the trained mn01: input..B1 0.013 (B1.project), B2..B6
    0.079 (B6.project), B7..B15 0.159 (B9.dw); the seeded random mn01 amplifies them to 1.04."""
    block = re.match(r"B(\d+)\b", name)  # input and in_conv: before B1
    depth = int(block.group(1)) if block else 0
    return 0.03 if depth <= 1 else 0.2 if depth <= 6 else 0.4
