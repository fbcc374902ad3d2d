"""firmware/generated/ is what the generators make of the committed graph.

The integer graph is the one source of truth: the committed C sources and ONNX
models must be exactly what the current code generators render from the
committed graph.json/graph.npz (rerun `python -m exporter` after changing a
generator). The graph itself comes from float calibration, which is only
reproducible on the same kind of CPU, so it is not re-derived here.
"""

import onnx
import pytest

from exporter import FIRMWARE_DIR, defaults, onnx_int, onnx_qdq
from exporter.codegen import render_network
from exporter.graph import Graph

GENERATED = FIRMWARE_DIR / "generated"


@pytest.fixture(scope="module")
def graph():
    return Graph.load(GENERATED)


def test_network_sources_are_rendered_from_the_committed_graph(graph, tmp_path):
    render_network(graph, tmp_path, max_frames=defaults.MAX_FRAMES)
    for name in ("network.h", "network.c", "network_data.c", "network_plan.json"):
        assert (tmp_path / name).read_bytes() == (GENERATED / name).read_bytes(), f"{name} is stale"


@pytest.mark.parametrize("module, file", [(onnx_int, "model_int.onnx"), (onnx_qdq, "model_qdq.onnx")])
def test_onnx_models_are_built_from_the_committed_graph(graph, tmp_path, module, file):
    onnx.save(module.build_model(graph), tmp_path / file)
    assert (tmp_path / file).read_bytes() == (GENERATED / file).read_bytes(), f"{file} is stale"
