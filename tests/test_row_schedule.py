"""exporter/codegen/row_schedule.py: the arena plan never lets a write clobber a row still needed.

An address-level replay of the device scheduler: every row an op writes lands at
``offset + (row % capacity) * row_bytes``; at that moment no other live row (of
any tensor, or of the same ring) may share those bytes. This checks the ring
capacities, the interval sharing and the row-for-row overlays together,
independently of the C code (which tests/test_codegen.py checks byte for byte).
"""

import pytest

from exporter import FIRMWARE_DIR
from exporter.codegen.network import fuse_activations
from exporter.quantization.graph import INPUT, Graph
from exporter.codegen.row_schedule import plan_arena, simulate


@pytest.fixture(scope="module")
def graph():
    return fuse_activations(Graph.load(FIRMWARE_DIR / "generated"))


def _replay(graph, plans, offsets, n_frames):
    names = [n for n in plans if n != INPUT]
    written = dict.fromkeys(names, 0)
    problems = []

    def slot(name, row):
        p = plans[name]
        start = offsets[name] + (row % p.capacity) * p.row_bytes
        return start, start + p.row_bytes

    def on_write(tensor, row, low_before):
        lo, hi = slot(tensor, row)
        for other in names:
            first = low_before[other]
            last = written[other] if other != tensor else row  # rows [first, last) are live
            for r in range(max(first, last - plans[other].capacity), last):
                a, b = slot(other, r)
                if a < hi and lo < b:
                    problems.append(f"T={n_frames}: {tensor}[{row}] overwrites live {other}[{r}]")
        written[tensor] = row + 1

    simulate(graph, n_frames, on_write=on_write, watch=tuple(names))
    # the replay saw every row of every tensor (an empty replay would find nothing wrong)
    shapes = graph.shapes(n_frames)
    for name in names:
        rows = shapes[name][0] if len(shapes[name]) == 3 else 1
        if written[name] != rows:
            problems.append(f"T={n_frames}: {name}: {written[name]} of {rows} rows replayed")
    return problems


@pytest.mark.parametrize("max_frames, lengths", [(16, (1, 2, 3, 7, 16)), (1000, (1, 3, 16, 40, 333, 1000))])
def test_no_write_clobbers_a_live_row(graph, max_frames, lengths):
    plans, offsets, total = plan_arena(graph, max_frames)
    for name, p in plans.items():
        assert 0 <= offsets[name] and offsets[name] + p.bytes <= total
    for n in lengths:
        assert _replay(graph, plans, offsets, n) == []


def test_the_replay_catches_a_bad_plan(graph):
    plans, offsets, _ = plan_arena(graph, 40)
    # squeeze a ring that holds a whole window to half its rows: rows get overwritten
    name = next(n for n, p in plans.items() if n.endswith(".dw") and p.capacity > 4)
    plans[name].capacity //= 2
    assert _replay(graph, plans, offsets, 40)


def test_the_replay_catches_an_unsafe_overlay(graph):
    plans, offsets, _ = plan_arena(graph, 40)
    # a block output laid over its own block input: the residual add still reads the input
    offsets["B5"] = offsets["B4"]
    assert any("B5" in p and "B4" in p for p in _replay(graph, plans, offsets, 40))
