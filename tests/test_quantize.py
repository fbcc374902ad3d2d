"""The quantizer and the graph structure: parameters, invariants, save/load, validation, shapes, MACs."""

import copy
import math

import numpy as np
import pytest

from exporter.reference import int8_exec
from exporter.quantization.calibrate import (
    TAP_RANGE_FACTORS,
    RangeObserver,
    tap_cost,
    calibration_logmels,
    calibration_windows,
    collect_ranges,
    tap_ranges,
    timestamp_positions,
)
from exporter.errors import UserError
from exporter.quantization.fold import fold_model
from exporter.quantization.graph import Graph, GraphError
from exporter.quantization.quantize import (
    QuantizationError,
    activation_params,
    check_no_shift_overflow,
    correct_biases,
    lut_table,
    quantize_graph,
    quantize_weights,
)


@pytest.fixture(scope="module")
def calibrated(mn01_seed0_net):
    fg = fold_model(mn01_seed0_net)
    mels, _ = calibration_logmels(None, seed=3, n_clips=2, seconds=1.0, progress=False)
    ranges = collect_ranges(fg, mels, 99.99, progress=False)
    return fg, mels, ranges


@pytest.fixture(scope="module")
def graph(calibrated):
    fg, _, ranges = calibrated
    return quantize_graph(fg, ranges, {"name": "mn01"})


def test_activation_params():
    s, zp = activation_params(0.0, 2.55)
    assert zp == -128 and s == pytest.approx(0.01)
    s, zp = activation_params(-1.0, 1.0)  # zero is exactly representable
    assert s * (-128 - zp) == pytest.approx(-1.0, rel=0.01) and s * (127 - zp) == pytest.approx(1.0, rel=0.01)
    s, zp = activation_params(0.5, 1.0)  # widened to contain 0
    assert zp == -128 and s == pytest.approx(1 / 255)
    s, zp = activation_params(-3.0, -1.0)
    assert zp == 127


def test_quantize_weights_per_channel():
    w = np.array([[1.0, -0.5, 0.25], [0.0, 0.0, 0.0], [-2.0, 1.0, 0.0]])
    q, s = quantize_weights(w, axis_out=0)
    assert q.dtype == np.int8 and q.min() >= -127
    np.testing.assert_array_equal(np.abs(q).max(axis=1), [127, 0, 127])
    np.testing.assert_allclose(s, [1 / 127, 0, 2 / 127])
    np.testing.assert_allclose(q * s[:, None], w, atol=np.max(s) / 2)
    # depthwise layout [KT][KF][C]: channels on the last axis
    qd, sd = quantize_weights(np.moveaxis(w, 0, -1)[None], axis_out=2)
    np.testing.assert_array_equal(qd[0], np.moveaxis(q, 0, -1))


def test_lut_tables():
    sig = lut_table("sigmoid", 0.05, 3, 1 / 256, -128)
    q = np.arange(-128, 128)
    expected = np.clip(np.floor(256 / (1 + np.exp(-0.05 * (q - 3))) + 0.5) - 128, -128, 127)
    np.testing.assert_array_equal(sig, expected)
    assert np.all(np.diff(sig.astype(int)) >= 0)
    hs = lut_table("hardswish", 0.1, 0, 0.05, -120)
    assert hs[128 + 0] == -120  # hardswish(0) = 0 -> the zero point
    assert hs[128 + 40] == np.clip(round(4.0 / 0.05) - 120, -128, 127)  # x >= 3: identity
    assert hs[128 - 40] == -120  # x <= -3: 0


def test_shift_overflow_is_refused():
    check_no_shift_overflow("ok", np.array([1 << 29]), np.array([1]))
    with pytest.raises(QuantizationError, match="layer_x.*channel 1"):
        check_no_shift_overflow("layer_x", np.array([10, 1 << 30]), np.array([0, 1]))


def test_graph_invariants(graph, calibrated):
    t = graph.tensors
    relu = {op.name for op in calibrated[0].ops if op.act == "relu"}
    assert relu  # mn01 has ReLU blocks (B1-B6) and SE bottlenecks
    assert t["logmel"]["dtype"] == "int16" and t["logmel"]["scale"] == 1 / 4096
    kinds = {op["op"] for op in graph.ops}
    assert kinds == {"quantize", "conv2d", "depthwise_conv2d", "lut", "global_avgpool", "fully_connected",
                     "mul_channel", "add"}
    for op in graph.ops:
        if op["op"] in ("conv2d", "depthwise_conv2d", "fully_connected"):
            mult, shift = graph.array(op, "mult"), graph.array(op, "shift")
            assert np.all((mult >= 1 << 30) & (mult < 1 << 31)), op["name"]
            w = graph.array(op, "weights")
            assert w.min() >= -127
            # no possible accumulator overflows int32 when shifted left (the device computes in 32 bits)
            axis = 2 if op["op"] == "depthwise_conv2d" else 0
            zp = t[op["input"]]["zero_point"]
            bound = np.abs(graph.array(op, "bias").astype(np.int64)) + np.abs(
                np.moveaxis(w.astype(np.int64), axis, 0)).reshape(len(mult), -1).sum(1) * max(127 - zp, zp + 128)
            assert np.all(bound << np.maximum(shift, 0) < 2**31), op["name"]
            # a ReLU output's range starts at 0 (its zero point is the int8 minimum), so the clamp
            # at the zero point is the ReLU; every other op clamps at the int8 minimum only
            if op["name"] in relu:
                assert op["act_min"] == t[op["output"]]["zero_point"] == -128, op["name"]
            assert op["act_min"] == -128 and op["act_max"] == 127, op["name"]
        if op["op"] == "lut" and op["function"] == "sigmoid":
            assert (t[op["output"]]["scale"], t[op["output"]]["zero_point"]) == (1 / 256, -128)
        if op["op"] == "add":
            assert op["left_shift"] == 20
    assert [(tap["name"], tap["channels"], tap["offset"]) for tap in graph.taps] == [
        ("B5", 8, 0), ("B11", 16, 8), ("B13", 16, 24), ("B15", 16, 40)]
    assert graph.tap_dim == 56


def test_weights_and_bias_represent_the_float_layer(graph, calibrated):
    fg = calibrated[0]
    fop = next(o for o in fg.ops if o.name == "B5.expand")
    op = next(o for o in graph.ops if o["name"] == "B5.expand")
    s_in, s_out = graph.tensors[op["input"]]["scale"], graph.tensors[op["output"]]["scale"]
    s_w = graph.array(op, "mult") * 2.0 ** (graph.array(op, "shift") - 31) * s_out / s_in
    np.testing.assert_allclose(graph.array(op, "weights") * s_w[:, None, None, None], fop.weights,
                               atol=float(s_w.max()) / 2 + 1e-9)
    np.testing.assert_allclose(graph.array(op, "bias") * s_in * s_w, fop.bias, atol=float((s_in * s_w).max()))


def test_shapes_and_macs(graph):
    shapes = graph.shapes(1000)
    assert shapes["in_conv"] == (500, 64, 8)
    assert shapes["B15"] == (32, 4, 16)  # 10 s: 4 x 32 at B13..B15
    assert shapes["B15.pool"] == (16,)
    assert graph.shapes(16)["B13"] == (1, 4, 16)
    # the MAC counts of the CMSIS-NN reference measurement (shared/performance-anchors.md)
    assert sum(graph.macs(16)) == 327_168
    assert sum(graph.macs(101)) == 1_922_176
    assert sum(graph.macs(1000)) == 17_869_952


def test_save_load_roundtrip(graph, tmp_path):
    graph.save(tmp_path)
    again = Graph.load(tmp_path)
    assert again.meta == graph.meta
    assert again.arrays.keys() == graph.arrays.keys()
    for k, v in graph.arrays.items():
        assert again.arrays[k].dtype == v.dtype and np.array_equal(again.arrays[k], v), k


def test_validation_names_the_problem(graph, tmp_path):
    broken = Graph(copy.deepcopy(graph.meta), dict(graph.arrays))
    del broken.arrays["B5.dw.weights"]
    with pytest.raises(GraphError, match="B5.dw.weights"):
        broken.validate()
    broken = Graph(copy.deepcopy(graph.meta), dict(graph.arrays))
    broken.meta["ops"][3]["input"] = "nowhere"
    with pytest.raises(GraphError, match="nowhere"):
        broken.validate()
    broken = Graph(copy.deepcopy(graph.meta), dict(graph.arrays))
    broken.arrays["B5.dw.bias"] = broken.arrays["B5.dw.bias"][:-1]
    with pytest.raises(GraphError, match="bias"):
        broken.validate()
    with pytest.raises(UserError, match="graph.json"):
        Graph.load(tmp_path / "missing")


def test_range_observer():
    obs = RangeObserver(percentile=100)
    obs.observe("x", np.array([-1.0, 0.5, 3.0]))
    obs.observe("x", np.array([7.0]))
    assert obs.ranges()["x"] == (-1.0, 7.0)
    obs = RangeObserver(percentile=99)
    obs.observe("y", np.arange(1001.0))
    lo, hi = obs.ranges()["y"]
    assert lo == pytest.approx(10.0) and hi == pytest.approx(990.0)
    with pytest.raises(UserError):
        RangeObserver(percentile=30)


def test_tap_ranges_narrow_only_the_tapped_tensors(calibrated):
    """Tapped block outputs get a narrowed range (the last block, read by its pool alone, a narrower
    one than the percentile range); every other range is unchanged."""
    fg, mels, ranges = calibrated
    narrowed, factors = tap_ranges(fg, mels, ranges)
    assert list(factors) == ["B5", "B11", "B13", "B15"]
    for name, (lo, hi) in ranges.items():
        f = factors.get(name, 1.0)
        assert f in TAP_RANGE_FACTORS
        assert narrowed[name] == (lo * f, hi * f), name


def testtap_cost_trades_rounding_for_clipping():
    """Heavy-tailed maps with small channel means: a range 1/3 as wide rounds the pooled tap far less;
    a much narrower one clips too much; the map's own error only adds."""
    rng = np.random.default_rng(0)
    maps = [rng.normal(0, 0.05, (4, 1, 1)) + rng.standard_t(3, (4, 30, 8)) for _ in range(3)]
    tap = {f: tap_cost(maps, -30 * f, 30 * f, False) for f in (1.0, 0.35, 0.1)}
    assert tap[0.35] < tap[1.0] / 2
    assert tap[0.1] > tap[0.35]
    for f in tap:
        assert tap_cost(maps, -30 * f, 30 * f, True) > tap[f]


def test_bias_correction_reduces_the_mean_error(calibrated):
    """After correction, the first conv's per-channel mean error against the float model is smaller."""
    fg, mels, ranges = calibrated
    q12 = [np.round(m * 4096).astype(np.int16) for m in mels]

    def mean_error(g):
        from exporter.quantization.fold import run_float

        errs = []
        for x in q12:
            env = int8_exec.run(g, x, return_all=True)
            t = g.tensors["B1.dw"]
            got = (env["B1.dw"].astype(float) - t["zero_point"]) * t["scale"]
            ref = run_float(fg, x / 4096.0)["B1.dw"][0].permute(1, 2, 0).numpy()
            errs.append((ref - got).mean(axis=(0, 1)))
        return np.abs(np.mean(errs, axis=0)).mean()

    g = quantize_graph(fg, ranges, {"name": "mn01"})
    before = mean_error(g)
    corrections = correct_biases(g, fg, q12)
    g.validate()
    assert max(corrections.values()) > 0
    assert mean_error(g) < before
    assert math.isfinite(before)


def test_residual_bias_correction_targets_the_block_output(calibrated):
    """With residual targets, a residual block's output has a smaller mean error on the calibration clips."""
    from exporter.quantization.fold import run_float

    fg, mels, ranges = calibrated
    q12 = [np.round(m * 4096).astype(np.int16) for m in mels]
    floats = [run_float(fg, x / 4096.0) for x in q12]

    def block_mean_error(g, name):
        errs = []
        for x, fl in zip(q12, floats):
            t = g.tensors[name]
            got = (int8_exec.run(g, x, return_all=True)[name].astype(float) - t["zero_point"]) * t["scale"]
            errs.append((fl[name][0].permute(1, 2, 0).numpy() - got).mean(axis=(0, 1)))
        return np.abs(np.mean(errs, axis=0)).mean()

    plain = quantize_graph(fg, ranges, {"name": "mn01"})
    correct_biases(plain, fg, q12, residual_targets=False)
    residual = quantize_graph(fg, ranges, {"name": "mn01"})
    correct_biases(residual, fg, q12, residual_targets=True)
    blocks = [op["output"] for op in plain.ops if op["op"] == "add"]
    assert blocks == ["B1", "B3", "B5", "B6", "B8", "B9", "B10", "B12", "B14", "B15"]  # mn01 residual blocks
    with_res = sum(block_mean_error(residual, b) / residual.tensors[b]["scale"] for b in blocks)
    without = sum(block_mean_error(plain, b) / plain.tensors[b]["scale"] for b in blocks)
    assert with_res < without


# ---- calibration over scene and timestamp windows ------------------------------------------------


def test_timestamp_windows_of_a_clip_are_cut_as_the_device_cuts_them():
    """The "timestamp" group holds the device's log-mels of k interior 160 ms windows of each clip."""
    from exporter.audio.files import to_pcm16
    from exporter.audio.synthetic import clip_set
    from exporter.float_model.windows import timestamp_windows
    from exporter.frontend.fixed import logmel_q12

    assert timestamp_positions(81, 3) == [13, 40, 67]  # a 4 s clip: no reflect-padded edge window
    assert timestamp_positions(81, 1) == [40]
    assert timestamp_positions(5, 8) == [0, 1, 2, 3, 4]
    groups, source = calibration_windows(None, seed=3, n_clips=2, seconds=1.0, timestamp_windows=2, progress=False)
    assert len(groups["scene"]) == 2 and len(groups["timestamp"]) == 4 and "2 timestamp windows" in source
    clip = to_pcm16(clip_set(300_000, 2, 1.0)[1][1])
    windows, _ = timestamp_windows(clip)
    for got, i in zip(groups["timestamp"][2:], timestamp_positions(len(windows), 2)):
        assert np.array_equal(np.round(got * 4096).astype(np.int16), logmel_q12(windows[i]))
    only_scene, _ = calibration_windows(None, seed=3, n_clips=2, seconds=1.0, timestamp_windows=0, progress=False)
    assert list(only_scene) == ["scene"]
    with pytest.raises(UserError, match="timestamp windows"):
        calibration_windows(None, timestamp_windows=-1)


def test_range_observer_weighs_each_group_the_same():
    """10 timestamp values against 1000 scene values: as a group, they weigh half."""
    rng = np.random.default_rng(0)
    scene, ts = rng.uniform(0, 1, 1000), np.full(10, 5.0)
    obs = RangeObserver(percentile=60)
    obs.observe("x", scene, group="scene")
    obs.observe("x", ts, group="timestamp")
    assert obs.ranges()["x"][1] == 5.0  # unweighted, the 60th percentile would be ~0.6
    # least error: the rare wide values of a group keep the range wide
    narrow, wide = [rng.normal(0, 0.05, 20_000) for _ in range(20)], np.array([-1.0, -0.6, 0.7, 1.0])
    pooled, grouped = RangeObserver(None), RangeObserver(None)
    for chunk in narrow:
        pooled.observe("x", chunk)
        grouped.observe("x", chunk, group="scene")
    pooled.observe("x", wide)
    grouped.observe("x", wide, group="timestamp")
    assert pooled.ranges()["x"] == (-0.5, 0.5)  # 4 values in 400,004: clipped for finer steps
    assert grouped.ranges()["x"] == (-1.0, 1.0)  # half the weight: kept
    assert grouped.minmax["x"] == pooled.minmax["x"]


def test_groups_weigh_the_same_whatever_their_size(calibrated):
    """Doubling the timestamp group (the same windows twice) changes neither the tap narrowing nor the
    bias correction; a plain list is one group."""
    fg, _, ranges = calibrated
    groups, _ = calibration_windows(None, seed=3, n_clips=2, seconds=1.0, timestamp_windows=2, progress=False)
    doubled = {"scene": groups["scene"], "timestamp": groups["timestamp"] * 2}
    assert tap_ranges(fg, groups, ranges) == tap_ranges(fg, doubled, ranges)
    q12 = {g: [np.round(m * 4096).astype(np.int16) for m in ms] for g, ms in groups.items()}
    biases = []
    for windows in (q12, {"scene": q12["scene"], "timestamp": q12["timestamp"] * 2}):
        g = quantize_graph(fg, ranges, {"name": "mn01"})
        correct_biases(g, fg, windows)
        biases.append({op["bias"]: g.arrays[op["bias"]] for op in g.ops if "bias" in op})
    assert all(np.array_equal(biases[0][k], biases[1][k]) for k in biases[0])
    g_list, g_one = quantize_graph(fg, ranges, {"name": "mn01"}), quantize_graph(fg, ranges, {"name": "mn01"})
    correct_biases(g_list, fg, q12["scene"])
    correct_biases(g_one, fg, {"scene": q12["scene"]})
    assert g_list.digest() == g_one.digest()
    # and the timestamp windows do move the corrections
    assert any(not np.array_equal(biases[0][k], g_one.arrays[k]) for k in biases[0])
