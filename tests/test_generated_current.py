"""firmware/generated/ is what `python -m exporter` makes of the default configuration.

The integer graph is the one source of truth: it is re-derived here from the
default checkpoint and calibration (float64, so any machine gets the same
bytes), and the committed C sources and ONNX models must be exactly what the
current code generators render from it (rerun `python -m exporter` after
changing the quantizer or a generator).
"""

import json

import numpy as np
import onnx
import pytest

from exporter import FIRMWARE_DIR, defaults, manifest
from exporter.reference import onnx_int
from exporter.reference import onnx_qdq
from exporter.float_model.checkpoint import resolve_model
from exporter.codegen.network import render_network
from exporter.commands.export import build_graph
from exporter.quantization.graph import Graph

GENERATED = FIRMWARE_DIR / "generated"


@pytest.fixture(scope="module")
def graph():
    return Graph.load(GENERATED)


def test_network_sources_are_rendered_from_the_committed_graph(graph, tmp_path):
    render_network(graph, tmp_path, max_frames=defaults.MAX_FRAMES)
    manifest.write(tmp_path, graph)
    for name in ("network.h", "network.c", "network_data.c", "network_plan.json", "manifest.json"):
        assert (tmp_path / name).read_bytes() == (GENERATED / name).read_bytes(), f"{name} is stale"


@pytest.mark.parametrize("module, file", [(onnx_int, "model_int.onnx"), (onnx_qdq, "model_qdq.onnx")])
def test_onnx_models_are_built_from_the_committed_graph(graph, tmp_path, module, file):
    onnx.save(module.build_model(graph), tmp_path / file)
    assert (tmp_path / file).read_bytes() == (GENERATED / file).read_bytes(), f"{file} is stale"


def test_the_committed_graph_is_what_the_default_configuration_gives(graph, tmp_path):
    model, info = resolve_model(checkpoint=defaults.CHECKPOINT)
    fresh = build_graph(model, info, defaults.CALIBRATION_FOLDER, defaults.PERCENTILE, defaults.CALIBRATION_SEED,
                        defaults.CALIBRATION_CLIPS, defaults.CALIBRATION_SECONDS,
                        defaults.CALIBRATION_TIMESTAMP_WINDOWS, progress=False)
    fresh.save(tmp_path)
    assert (tmp_path / "graph.json").read_text() == (GENERATED / "graph.json").read_text(), \
        "graph.json is stale: rerun `python -m exporter`"
    assert sorted(fresh.arrays) == sorted(graph.arrays)
    for key, arr in graph.arrays.items():
        assert fresh.arrays[key].dtype == arr.dtype and np.array_equal(fresh.arrays[key], arr), f"{key} is stale"
    calibration = json.loads((tmp_path / "graph.json").read_text())["calibration"]
    assert calibration["bias_correction"] is True
    # both modes calibrated: 3 interior 160 ms windows of each 4 s clip beside its scene window
    assert calibration["timestamp_windows"] == defaults.CALIBRATION_CLIPS * defaults.CALIBRATION_TIMESTAMP_WINDOWS > 0


def test_the_shipped_export_takes_its_prepared_forms():
    """The default model's ops get what the speed figures (reports/bench.md) were measured with: every
    planar depthwise op its channel records (nn_conv_t.prep), the stem its records, the adds of 16 or more
    outputs per input frame (B1, B3, B5, B6) their table form."""
    import re

    net, data = (GENERATED / "network.c").read_text(), (GENERATED / "network_data.c").read_text()
    planar = re.findall(r"&(op\d+_\w+), nn_dw[35]s[12]_(?:plain|lut)_row\}", net)
    assert len(planar) == 6  # mn01's B1-B6
    for cname in planar:
        assert re.search(rf"const nn_conv_t {cname} = \{{[^;]*, {cname}_rec\}};", data), f"{cname}: no records"
    assert re.search(r"nn_stem8_preps\[\] = \{\s*\{&op1_", data)
    tabled = re.findall(r"const nn_add_t (op\d+_\w+) = \{[^;]*\1_tab \+ 128", data)
    assert [re.sub(r"op\d+_", "", c) for c in tabled] == ["B1", "B3", "B5", "B6"]
