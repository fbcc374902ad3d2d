"""The real boards' real-time budget: the share of each board's CPU that each mode takes.

The application's cost (frontend + network) is the QEMU benchmark's (instructions per second of
audio, exact; and the cycle model's estimate of the same run, cycle_model.py), measured on
qemu-an386, which runs the same library code as the real boards. The microphone path's DSP is
measured apart on the Cortex-M4 build (reports/pdm_decimator.json: the STM32F4's PDM -> PCM
decimation; reports/resampler.json: the nRF52840's I2S conversion and 126/125 resampler,
bench/pdm_report.py and bench/resample_report.py). The microphone path's cycles are estimated at
the application's cycles per instruction. The board itself measures the answer for its chip at
start-up (the budget frame); this table is what to expect.
"""

from __future__ import annotations

import json
from pathlib import Path

from exporter import ROOT

REPORTS = ROOT / "reports"
# Core clocks: each board's `live_clock_hz` (firmware/boards/<board>/board.c; a test compares).
CLOCK_HZ = {"stm32f4-discovery": 168_000_000, "nrf52840-dk": 64_000_000}
# What the board's DSP does before the frontend, and where its measured cost is kept.
MIC_PATH = {
    "stm32f4-discovery": ("PDM -> PCM decimation", "pdm_decimator.json", "instructions_per_second"),
    "nrf52840-dk": ("I2S 24 -> 16 bit, DC blocker, 126/125 resampler", "resampler.json",
                    "i2s_dsp_instructions_per_second"),
}
REALTIME_LINE = 0.90  # the boards' start-up check (board_live.c) calls a mode real-time below it
APP_BOARD = "qemu-an386"


def mic_instructions_per_second(board: str, reports: Path = REPORTS) -> float | None:
    """The measured cost of ``board``'s microphone path; None where its report is not at hand
    (an installed package carries no reports/)."""
    _, name, key = MIC_PATH[board]
    path = reports / name
    return float(json.loads(path.read_text())["m4_cost"][key]) if path.is_file() else None


def budget(results: list[dict], reports: Path = REPORTS) -> list[dict]:
    """One row per real board and mode from the benchmark's ``results`` (bench.json)."""
    rows = []
    app_board = APP_BOARD if any(r["board"] == APP_BOARD for r in results) else (results[0]["board"] if results else None)
    for board, clock in CLOCK_HZ.items():
        mic = mic_instructions_per_second(board, reports)
        if mic is None:
            continue
        for r in (r for r in results if r["board"] == app_board):
            app = r["realtime_mhz"] * 1e6
            cpi = r["cycle_estimate"]["cycles_per_instruction"] if "cycle_estimate" in r else None
            total = app + mic
            rows.append({
                "board": board, "mode": r["mode"], "clock_hz": clock, "mic_path": MIC_PATH[board][0],
                "app_instructions_per_second": round(app), "mic_instructions_per_second": round(mic),
                "cpu_share_at_1_cpi": round(total / clock, 4),
                "cycles_per_instruction_estimate": cpi,
                "cpu_share_estimate": round(total * cpi / clock, 4) if cpi else None,
                # the cycles per instruction above which the board's start-up check fails
                "max_cycles_per_instruction": round(REALTIME_LINE * clock / total, 2),
            })
    return rows


def markdown(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    lines = ["## Real boards: real-time budget", "",
             "The application's instructions per second of audio (the QEMU runs above, the same library code) plus "
             "the microphone path's DSP (measured on the Cortex-M4 build: reports/pdm_decimator.md, "
             "reports/resampler.md), as a share of the board's clock: at one instruction per cycle, and at the "
             "cycle model's estimate. Last column: the cycles per instruction above which the board's start-up "
             f"check ({REALTIME_LINE:.0%} of the CPU) fails. Not run on hardware: each board measures itself at start-up.",
             "", "| board, clock | mode | application | microphone path | CPU share at 1 instr./cycle | "
             "at the estimated cycles/instr. | fails above |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        est = (f"{r['cpu_share_estimate']:.0%} ({r['cycles_per_instruction_estimate']:.2f})"
               if r["cpu_share_estimate"] is not None else "-")
        if r["cpu_share_estimate"] is not None and r["cpu_share_estimate"] > REALTIME_LINE:
            est = f"**{est}**"
        lines.append(f"| {r['board']}, {r['clock_hz'] / 1e6:.0f} MHz | {r['mode']} | "
                     f"{r['app_instructions_per_second'] / 1e6:.2f} M/s | {r['mic_instructions_per_second'] / 1e6:.2f} M/s "
                     f"({r['mic_path']}) | {r['cpu_share_at_1_cpi']:.0%} | {est} | "
                     f"{r['max_cycles_per_instruction']:.2f} cycles/instr. |")
    lines.append("")
    return lines
