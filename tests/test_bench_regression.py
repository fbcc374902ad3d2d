"""Regression guard: the default model's instruction counts per window in QEMU (exact under
-icount, so deterministic) may not exceed the committed reports/bench.json by more than 1 %.
After a deliberate change, `python -m exporter bench --export firmware/generated` writes the new
figures (and the reason goes in the commit)."""

import json

import pytest

from exporter import ROOT
from exporter.benchmark import firmware
from exporter.defaults import GENERATED_DIR

pytestmark = pytest.mark.slow
BOARD = "qemu-an386"


def committed(mode, board=BOARD):
    report = json.loads((ROOT / "reports" / "bench.json").read_text())
    return next(r for r in report["results"] if r["board"] == board and r["mode"] == mode)


@pytest.mark.parametrize("mode", ["timestamp", "scene"])
@pytest.mark.parametrize("board", ["qemu-an386", "qemu-netduinoplus2"])
def test_per_window_instructions_within_tolerance_of_the_report(board, mode):
    measured = firmware.profile_per_window(board, mode, GENERATED_DIR)
    assert firmware.regressions(measured, committed(mode, board)) == []


def test_the_guard_reports_an_excess():
    """The check itself: 1.5 % more frontend work is a regression, 0.5 % is not."""
    ref = committed("timestamp")
    i = ref["instructions"]
    fine = {"frontend": i["frontend_per_window"] * 1.005, "network": i["network_per_window"]}
    assert firmware.regressions(fine, ref) == []
    worse = {"frontend": i["frontend_per_window"] * 1.015, "network": i["network_per_window"]}
    (msg,) = firmware.regressions(worse, ref)
    assert "frontend" in msg and BOARD in msg
    worse = {"frontend": i["frontend_per_window"], "network": i["network_per_window"] * 1.02}
    assert "network" in firmware.regressions(worse, ref)[0]


def test_flash_by_part_accounts_for_the_image():
    """The report's flash by part (the linker map's input sections by object file): the parts add up to
    the image, each is there, and the network's data holds at least the graph's weights and per-channel
    constants (what the flash goal is measured against)."""
    from exporter.benchmark.elf import image_bytes, section_sizes
    from exporter.boards import firmware_runner
    from exporter.quantization.graph import Graph

    exe = firmware_runner.build_embedder(BOARD, "timestamp", GENERATED_DIR)
    flash, _ = image_bytes(section_sizes(exe))
    parts = firmware.flash_by_part(exe.with_name(exe.name + ".map"), flash)
    assert sum(parts.values()) == flash and all(v > 0 for v in parts.values()), parts
    graph = Graph.load(GENERATED_DIR)
    arrays = sum(a.nbytes for k, a in graph.arrays.items() if k.rsplit(".", 1)[-1] in ("weights", "bias", "mult"))
    assert arrays < parts["network data"] < arrays + 40 * 1024
    assert parts["network data"] > parts["kernels"] > parts["network scheduler"]
