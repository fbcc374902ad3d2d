"""Fidelity of the integer embedding against the float model (mn01 with tests/data/mn01_seed0.pt).

The project's target is a mean cosine >= 0.99 in every section. L and B5 meet
it; B11, B13 and B15 do not for this seeded-random network (see the export's
reports/fidelity.md): the floors below guard against regressions at the level
measured when they were written.
"""

import copy

import numpy as np
import pytest

from exporter import defaults, fidelity, int8_exec
from exporter.calibrate import synthetic_set
from exporter.checkpoint import resolve_model
from exporter.commands.export import build_graph
from exporter.fold import fold_model
from exporter.graph import Graph

# Mean cosines measured with the default configuration and calibration seeds 0, 1, 2 (calibration in
# float64, so the same on every machine): L 1.0000 / 1.0000 / 1.0000, B5 0.9992 / 0.9982 / 0.9992,
# B11 0.977 / 0.976 / 0.980, B13 0.923 / 0.906 / 0.912, B15 0.696 / 0.510 / 0.605. B13/B15 move with tiny
# changes of the calibration ranges: this random-weight network amplifies small perturbations, so that
# int8 input and weights alone, every activation exact, put B15 at 0.977
# (test_format_ceiling_explains_the_missed_target). The floors guard the default (seed 0) with a margin.
FLOORS = {"L": 0.999, "B5": 0.995, "B11": 0.97, "B13": 0.90, "B15": 0.60}


@pytest.fixture(scope="module")
def default_graph(mn01_seed0_path):
    """The default configuration's graph (tests/test_generated_current.py: the committed one)."""
    return build_graph(*resolve_model(checkpoint=mn01_seed0_path), progress=False)


@pytest.fixture(scope="module")
def result(mn01_seed0_net, default_graph):
    return fidelity.evaluate(mn01_seed0_net, default_graph, fidelity.held_out_clips())


def test_sections_and_floors(result):
    assert list(result["summary"]) == ["L", "B5", "B11", "B13", "B15"]
    assert result["clips"] == fidelity.HELD_OUT_CLIPS
    for section, floor in FLOORS.items():
        assert result["summary"][section]["mean_cosine"] >= floor, (section, result["summary"][section])
    assert result["summary"]["L"]["max_abs_error"] < 0.02  # Q12 frontend vs float log-mel
    met = all(v["mean_cosine"] >= 0.99 for v in result["summary"].values())
    assert result["target_met"] == met
    assert ("**met**" if met else "**NOT met**") in fidelity.report_markdown(result)


def test_held_out_clips_are_not_calibration_clips():
    cal = synthetic_set(defaults.CALIBRATION_SEED, defaults.CALIBRATION_CLIPS, defaults.CALIBRATION_SECONDS)
    for _, held in fidelity.held_out_clips():
        assert not any(len(c) == len(held) and np.array_equal(c, held) for _, c in cal)


def test_a_wrong_tap_parameter_is_detected(mn01_seed0_net, default_graph, result):
    broken = Graph(copy.deepcopy(default_graph.meta), default_graph.arrays)
    broken.meta["taps"][0]["zero_point"] += 30  # B5 dequantized with a wrong zero point
    bad = fidelity.evaluate(mn01_seed0_net, broken, fidelity.held_out_clips(n=2), analysis=False, timestamp_clips=0)
    assert bad["summary"]["B5"]["max_abs_error"] > 3 * result["summary"]["B5"]["max_abs_error"]
    assert bad["summary"]["B5"]["mean_cosine"] < result["summary"]["B5"]["mean_cosine"]
    assert bad["summary"]["L"] == pytest.approx(fidelity.evaluate(mn01_seed0_net, default_graph,
                                                                  fidelity.held_out_clips(n=2), analysis=False, timestamp_clips=0)["summary"]["L"])


def test_analysis_covers_every_tensor(result, default_graph):
    a = result["analysis"]
    assert list(a["layers"]) == [op["output"] for op in default_graph.ops]
    assert all(np.isfinite(v) and v >= 0 for v in a["layers"].values())
    # full maps (not only pooled taps) of the first layers match the float model: layout and scales are right
    for name in ("input", "in_conv.pre", "in_conv"):
        assert a["layers"][name] < 0.03, (name, a["layers"][name])
    assert "## Where the error comes from" in fidelity.report_markdown(result)
    assert list(a["tap_rounding"]) == ["B5", "B11", "B13", "B15"]
    assert all(-1 <= c <= 1 for pair in a["tap_rounding"].values() for c in pair)


def test_format_ceiling_rounds_exactly_what_the_graph_rounds(mn01_seed0_net, default_graph):
    fg = fold_model(mn01_seed0_net)
    w8 = fidelity._weights_rounded(fg)
    by_name = {op["name"]: op for op in default_graph.ops}
    checked = 0
    for f, r in zip(fg.ops, w8.ops):
        if f.weights is None:
            continue
        op = by_name.get(f.name + ".pre", by_name.get(f.name))
        axis = 2 if f.op == "depthwise_conv2d" else 0
        scale = np.abs(np.moveaxis(f.weights, axis, 0)).reshape(f.weights.shape[axis], -1).max(axis=1) / 127
        shape = [1] * f.weights.ndim
        shape[axis] = -1
        steps = r.weights / scale.reshape(shape)
        np.testing.assert_allclose(steps, default_graph.array(op, "weights"), atol=1e-9)
        checked += 1
    assert checked == sum(op["op"] in ("conv2d", "depthwise_conv2d", "fully_connected") for op in default_graph.ops)
    mel = np.round(np.random.default_rng(3).uniform(-2, 2, (40, 128)) * 4096).astype(np.int16)
    t = default_graph.tensors["input"]
    q = int8_exec.run(default_graph, mel, return_all=True)["input"].reshape(40, 128)
    np.testing.assert_array_equal(fidelity._rounded_input(default_graph, mel), (q.astype(np.float64) - t["zero_point"]) * t["scale"])


def test_format_ceiling_explains_the_missed_target(result):
    """The measured fact behind the open fidelity target: for this seeded-random network, int8
    input and weights alone (every activation exact) already put B15 under 0.99."""
    c = result["analysis"]["ceiling"]
    assert list(c) == list(fidelity.CEILING_VARIANTS)
    assert all(list(v) == ["B5", "B11", "B13", "B15"] for v in c.values())
    assert c["int8 input"]["B5"] > 0.999 and c["int8 weights"]["B5"] > 0.999  # shallow taps: the format is fine
    both = c["int8 input and weights"]
    assert both["B15"] < min(c["int8 input"]["B15"], c["int8 weights"]["B15"]) < 1  # errors add up with depth
    assert both["B15"] < fidelity.TARGET_MEAN_COSINE
    assert fidelity.out_of_reach(result) == [k for k, v in both.items() if v < fidelity.TARGET_MEAN_COSINE]
    assert "B15" in fidelity.out_of_reach(result)
    assert result["summary"]["B15"]["mean_cosine"] < both["B15"]  # the full int8 graph adds activation rounding
    assert "**Out of reach for this model with int8 input and weights:" in fidelity.report_markdown(result)


def test_timestamp_mode(result):
    ts = result["timestamp"]
    assert ts["windows"] == 4 * 61  # the first 4 clips of 3 s: 61 windows each
    assert list(ts["summary"]) == ["L", "B5", "B11", "B13", "B15"]
    assert ts["summary"]["L"]["mean_cosine"] >= 0.999
    assert ts["summary"]["B5"]["mean_cosine"] >= 0.98
    assert "Timestamp embeddings" in fidelity.report_markdown(result)
