"""exporter/benchmark/board_budget.py: the real boards' CPU budget in the benchmark report."""

import json
import re

import pytest

from exporter import FIRMWARE_DIR, ROOT
from exporter.benchmark import board_budget as bb


def test_clocks_are_the_boards_own():
    for board, hz in bb.CLOCK_HZ.items():
        src = (FIRMWARE_DIR / "boards" / board / "board.c").read_text()
        assert int(re.search(r"live_clock_hz = (\d+)u;", src).group(1)) == hz


def test_budget_arithmetic(tmp_path):
    # worked by hand: 10 M/s + 6 M/s of microphone path at 64 MHz = 25 %; at 1.5 cycles/instr. 37.5 %;
    # the 90 % line at 0.9 * 64e6 / 16e6 = 3.6 cycles/instr.
    (tmp_path / "resampler.json").write_text(json.dumps({"m4_cost": {"i2s_dsp_instructions_per_second": 6e6}}))
    results = [{"board": "qemu-an386", "mode": "scene", "realtime_mhz": 10.0,
                "cycle_estimate": {"cycles_per_instruction": 1.5}},
               {"board": "qemu-netduinoplus2", "mode": "scene", "realtime_mhz": 99.0}]
    rows = bb.budget(results, reports=tmp_path)  # no pdm_decimator.json: the STM32F4 is left out
    assert len(rows) == 1
    r = rows[0]
    assert (r["board"], r["mode"], r["clock_hz"]) == ("nrf52840-dk", "scene", 64_000_000)
    assert r["app_instructions_per_second"] == 10_000_000 and r["mic_instructions_per_second"] == 6_000_000
    assert r["cpu_share_at_1_cpi"] == 0.25 and r["cpu_share_estimate"] == 0.375
    assert r["max_cycles_per_instruction"] == 3.6
    md = "\n".join(bb.markdown(rows))
    assert "| nrf52840-dk, 64 MHz | scene | 10.00 M/s | 6.00 M/s" in md and "| 25% | 38% (1.50) | 3.60" in md


def test_over_the_line_is_bold(tmp_path):
    (tmp_path / "resampler.json").write_text(json.dumps({"m4_cost": {"i2s_dsp_instructions_per_second": 0}}))
    rows = bb.budget([{"board": "qemu-an386", "mode": "timestamp", "realtime_mhz": 50.0,
                       "cycle_estimate": {"cycles_per_instruction": 1.4}}], reports=tmp_path)
    assert rows[0]["cpu_share_estimate"] == pytest.approx(70 / 64, abs=1e-4)
    assert "**109% (1.40)**" in "\n".join(bb.markdown(rows))


def test_committed_report_is_consistent():
    """reports/bench.json's budget is the one its own results and the microphone reports give."""
    report = json.loads((ROOT / "reports" / "bench.json").read_text())
    assert report["real_board_budget"] == bb.budget(report["results"])
    assert {(r["board"], r["mode"]) for r in report["real_board_budget"]} == {
        (b, m) for b in bb.CLOCK_HZ for m in ("scene", "timestamp")}
