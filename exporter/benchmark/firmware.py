"""Speed and memory of the firmware, measured in QEMU (reports/bench.{md,json}).

Instructions are counted in the guest under `-icount` (one instruction = a fixed number of
timer ticks; exact, tests/test_boards.py): the whole run from the deployment image, and the
split (frontend, network, every network op) from a profiling image (APP_PROFILE), whose
counter reads add a little. Instructions stand in for cycles (the Cortex-M4 has no usable
cycle counter in QEMU): the clock needed for real time is instructions per second of audio
at one instruction per cycle, a lower bound on real hardware (loads and taken branches take
2-3 cycles, flash wait states more).

Flash and RAM come from the images' sections: flash = vectors + code + constants + .data
initializers; RAM = .data + .bss + the stack's measured peak.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from exporter import SAMPLE_RATE
from exporter.benchmark import cycle_model
from exporter.audio import example_clips
from exporter.boards import firmware_runner
from exporter.audio.files import to_pcm16
from exporter.quantization.graph import Graph
from exporter.float_model.windows import TS_HOP

# The goals (README / performance-anchors): real time at these clocks, flash and RAM limits.
GOALS = {
    "scene": {"mhz": 8.0, "ram_kb": 96.0},
    "timestamp": {"mhz": 24.0, "ram_kb": 32.0},
    "flash_kb": 96.0,
}
# For comparison: CMSIS-NN on the same network (shared performance-anchors, counted the same
# way): network instructions per window, and the project's goal for the network.
CMSIS_NN_NETWORK = {"timestamp": 3_240_000, "scene": 186_000_000}
GOAL_NETWORK_INSTRUCTIONS_PER_MAC = 2.5
FRAMES = {"scene": 1000, "timestamp": 16}  # frames of one window
CLIP_SECONDS = {"scene": 10.0, "timestamp": 2.0}
FLASH_SECTIONS = (".isr_vector", ".text", ".ARM.exidx", ".data")
TOP_FUNCTIONS = 12  # functions listed in the cycle estimate
RAM_SECTIONS = (".data", ".bss")


def section_sizes(elf: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def symbol_sizes(elf: Path, names: tuple[str, ...]) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in names:
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


def bench_clip(mode: str) -> np.ndarray:
    seconds = CLIP_SECONDS[mode]
    half = seconds / 2
    return to_pcm16(np.concatenate([example_clips.speech_like(half), example_clips.music_like(half)]))


def _run_counted(board: str, exe: Path, clip: np.ndarray, mode: str) -> firmware_runner.FirmwareRun:
    run = firmware_runner.run_embedder(board, exe, clip, icount=True, timeout=600)
    firmware_runner.check_run(board, run, clip.size, mode)
    return run


def measure(board: str, mode: str, export_dir: Path, graph: Graph) -> dict:
    clip = bench_clip(mode)
    seconds = clip.size / SAMPLE_RATE
    n_windows = clip.size // TS_HOP + 1 if mode == "timestamp" else 1
    frames = FRAMES[mode]

    # The 10 s-window image: without the ring for scene clips over 10 s (SCENE_LONG_CLIPS).
    opts = {"SCENE_LONG_CLIPS": "OFF"}
    exe = firmware_runner.build_embedder(board, mode, export_dir, options=opts)
    t0 = time.time()
    plain = _run_counted(board, exe, clip, mode)
    wall = time.time() - t0
    cycles = cycle_model.estimate(board, exe, clip)
    prof_exe = firmware_runner.build_embedder(board, mode, export_dir, profile=True, options=opts)
    prof = _run_counted(board, prof_exe, clip, mode).profile
    if prof is None or prof.n_windows != n_windows:
        raise RuntimeError(f"{board} {mode}: profile frame missing or for the wrong number of windows")

    macs_ops = graph.macs(frames)
    macs = int(sum(macs_ops))
    per_window = {"frontend": prof.frontend / n_windows, "network": prof.network / n_windows}
    total = plain.end.instructions
    layers = []
    for i, op in enumerate(graph.ops):
        insns = prof.per_op[i] / n_windows
        layers.append({"index": i, "name": op["name"], "op": op["op"], "instructions": round(insns),
                       "macs": int(macs_ops[i]),
                       "instructions_per_mac": round(insns / macs_ops[i], 2) if macs_ops[i] else None})

    sizes = section_sizes(exe)
    symbols = symbol_sizes(exe, ("net_arena", "efat_ring", "efat"))
    flash = sum(sizes.get(s, 0) for s in FLASH_SECTIONS)
    static_ram = sum(sizes.get(s, 0) for s in RAM_SECTIONS)
    ram = static_ram + plain.end.stack_used
    mhz = total / seconds / 1e6
    functions = sorted(cycles.functions.items(), key=lambda kv: -kv[1].cycles)
    return {
        "board": board, "mode": mode, "clip_seconds": seconds, "windows": n_windows, "frames_per_window": frames,
        "net_max_frames": plain.hello.max_frames,
        "instructions": {
            "total": total, "per_second_of_audio": round(total / seconds),
            "frontend_per_window": round(per_window["frontend"]), "network_per_window": round(per_window["network"]),
            "frontend_per_second": round(prof.frontend / seconds), "network_per_second": round(prof.network / seconds),
            "profiled_total": prof.total,
        },
        "macs_per_window": macs,
        "network_instructions_per_mac": round(per_window["network"] / macs, 3),
        "network_vs_cmsis_nn": round(CMSIS_NN_NETWORK[mode] / per_window["network"], 2),
        "realtime_mhz": round(mhz, 3),
        "flash_bytes": flash, "sections": sizes,
        "ram_bytes": ram, "static_ram_bytes": static_ram,
        "stack_peak_bytes": plain.end.stack_used, "stack_reserved_bytes": plain.end.stack_size,
        "arena_bytes": symbols.get("net_arena"), "sample_ring_bytes": symbols.get("efat_ring", 0),
        "frontend_state_bytes": symbols.get("efat"),  # the library's efat_t: mostly the frontend's state
        "qemu_wall_seconds": round(wall, 2),
        # the Cortex-M4 cycle estimate (exporter/benchmark/cycle_model.py) of the same run, from reset to exit
        "cycle_estimate": {
            "cycles": cycles.total.cycles, "instructions": cycles.total.instructions,
            "cycles_per_instruction": round(cycles.total.cycles / cycles.total.instructions, 3),
            "realtime_mhz": round(cycles.total.cycles / seconds / 1e6, 3),
            "classes": cycles.total.classes, "taken_branches": cycles.total.taken,
            "functions": [{"name": n, "instructions": c.instructions, "cycles": c.cycles,
                           "cycles_per_instruction": round(c.cycles / c.instructions, 3)}
                          for n, c in functions[:TOP_FUNCTIONS]],
        },
        "goals": {
            "realtime_mhz": GOALS[mode]["mhz"], "met_realtime": mhz <= GOALS[mode]["mhz"],
            "flash_kb": GOALS["flash_kb"], "met_flash": flash / 1024 <= GOALS["flash_kb"],
            "ram_kb": GOALS[mode]["ram_kb"], "met_ram": ram / 1024 <= GOALS[mode]["ram_kb"],
            "network_instructions_per_mac": GOAL_NETWORK_INSTRUCTIONS_PER_MAC,
            "met_network_instructions_per_mac": per_window["network"] / macs <= GOAL_NETWORK_INSTRUCTIONS_PER_MAC,
        },
        "layers": layers,
    }


def run_bench(export_dir: Path, boards: list[str], out_dir: Path) -> dict:
    graph = Graph.load(export_dir)
    results = [measure(b, m, export_dir, graph) for b in boards for m in ("timestamp", "scene")]
    report = {
        "model": graph.meta.get("model", {}), "export": str(export_dir),
        "host": platform.platform(), "method": "QEMU -icount, guest timer (exact instruction counts)",
        "goals": GOALS, "results": results,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(report, indent=1) + "\n")
    (out_dir / "bench.md").write_text(markdown(report))
    from exporter.benchmark import board_images  # the real boards' images: flash and RAM from their ELFs
    board_images.append_to_report(report, export_dir, out_dir)
    return report


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def markdown(report: dict) -> str:
    model = report["model"].get("name", "?")
    lines = [
        f"# Firmware benchmark ({model})", "",
        "Measured in QEMU with `-icount` (exact guest instruction counts; see exporter/benchmark/firmware.py). "
        "Real-time clock = instructions per second of audio at one instruction per cycle "
        "(a lower bound for real silicon). Flash = vectors + code + constants + .data; "
        "RAM = .data + .bss + measured stack peak.", "",
        "| board | mode | windows | instr./window frontend | instr./window network | MACs/window | "
        "network instr./MAC | instr. per s of audio | real time at | goal | flash KB (goal 96) | RAM KB | RAM goal |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["results"]:
        i, g = r["instructions"], r["goals"]
        lines.append(
            f"| {r['board']} | {r['mode']} | {r['windows']} x {r['frames_per_window']} frames | "
            f"{i['frontend_per_window']:,} | {i['network_per_window']:,} | {r['macs_per_window']:,} | "
            f"{r['network_instructions_per_mac']} | {i['per_second_of_audio']:,} | {r['realtime_mhz']:.2f} MHz | "
            f"<= {g['realtime_mhz']:g} MHz: {_yes(g['met_realtime'])} | {r['flash_bytes'] / 1024:.1f}: "
            f"{_yes(g['met_flash'])} | {r['ram_bytes'] / 1024:.1f} | <= {g['ram_kb']:g}: {_yes(g['met_ram'])} |")
    lines += ["", f"Network goal: <= {GOAL_NETWORK_INSTRUCTIONS_PER_MAC} instructions per MAC. "
              "CMSIS-NN on the same network (performance-anchors): "
              f"{CMSIS_NN_NETWORK['timestamp']:,} instructions per 160 ms window, "
              f"{CMSIS_NN_NETWORK['scene']:,} per 10 s window; this firmware's network is faster by: "
              + ", ".join(f"{r['board']} {r['mode']} {r['network_vs_cmsis_nn']}x" for r in report["results"]) + ".",
              "", "## Memory", "",
              "| board | mode | NET_MAX_FRAMES | arena | frontend state | sample ring | .data+.bss | stack peak / reserved |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["results"]:
        lines.append(f"| {r['board']} | {r['mode']} | {r['net_max_frames']} | {r['arena_bytes']:,} B | "
                     f"{r['frontend_state_bytes']:,} B | {r['sample_ring_bytes']:,} B | {r['static_ram_bytes']:,} B | "
                     f"{r['stack_peak_bytes']:,} / {r['stack_reserved_bytes']:,} B |")
    lines += ["", "Images built without SCENE_LONG_CLIPS: scene clips over 10 s (several windows, averaged) "
              "add a 626 KiB sample ring and are built for mps2-an386 only.", ""]
    if all("cycle_estimate" in r for r in report["results"]):
        lines += ["## Cortex-M4 cycle estimate", "",
                  "The same runs in QEMU with the cycle-model plugin (exporter/benchmark/cycle_model.py: each instruction "
                  "class at its Cortex-M4 TRM cost, zero wait states, taken branches + 2 cycles). An estimate, "
                  "not a measurement: the instruction counts above are exact.", "",
                  "| board | mode | instructions (whole run) | est. cycles | cycles/instr. | real time at (est.) | "
                  "loads | pipelined loads | taken branches |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in report["results"]:
            c = r["cycle_estimate"]
            lines.append(f"| {r['board']} | {r['mode']} | {c['instructions']:,} | {c['cycles']:,} | "
                         f"{c['cycles_per_instruction']} | {c['realtime_mhz']:.2f} MHz | {c['classes']['load']:,} | "
                         f"{c['classes']['load_pipelined']:,} | {c['taken_branches']:,} |")
        for r in report["results"]:
            lines += ["", f"Functions by estimated cycles: {r['board']}, {r['mode']}", "",
                      "| function | instructions | est. cycles | cycles/instr. |", "| --- | --- | --- | --- |"]
            lines += [f"| {f['name']} | {f['instructions']:,} | {f['cycles']:,} | {f['cycles_per_instruction']} |"
                      for f in r["cycle_estimate"]["functions"]]
        lines.append("")
    for r in report["results"]:
        lines += [f"## Network per op: {r['board']}, {r['mode']} ({r['frames_per_window']} frames)", "",
                  "| # | op | kind | instructions | MACs | instr./MAC |", "| --- | --- | --- | --- | --- | --- |"]
        for layer in r["layers"]:
            if layer["instructions"] == 0 and layer["macs"] == 0:
                continue
            ipm = "" if layer["instructions_per_mac"] is None else layer["instructions_per_mac"]
            lines.append(f"| {layer['index']} | {layer['name']} | {layer['op']} | {layer['instructions']:,} | "
                         f"{layer['macs']:,} | {ipm} |")
        lines.append("")
    return "\n".join(lines)
