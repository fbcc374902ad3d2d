"""Speed and memory of the firmware, measured in QEMU (reports/bench.{md,json}).

Instructions are counted in the guest under `-icount` (one instruction = a fixed number of
timer ticks; exact, tests/test_boards.py): the whole run from the deployment image, and the
split (frontend, network, every network op) from a profiling image (APP_PROFILE), whose
counter reads add a little. Instructions stand in for cycles (the Cortex-M4 has no usable
cycle counter in QEMU): the clock needed for real time is instructions per second of audio
at one instruction per cycle, a lower bound on real hardware (loads and taken branches take
2-3 cycles, flash wait states more).

Flash and RAM come from the images' sections: flash = vectors + code + constants + .data
initializers; RAM = .data + .bss + the stack's measured peak. The real boards' images
(docs/boards.md) are built too, for their flash and RAM (bytes from the ELF; nothing runs them).

Beside the figures: a Cortex-M4 cycle estimate of the same runs (cycle_model.py), split into
frontend and network by the object file each executed function comes from (the linker map),
and a plot of the cost per layer before/after (PNG): "before" is ``bench_baseline.json`` in the
output folder, a copy of an earlier bench.json kept on purpose.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from exporter import SAMPLE_RATE
from exporter.benchmark import board_budget, board_images, cycle_model
from exporter.benchmark.elf import FLASH_SECTIONS, image_bytes, section_sizes, symbols
from exporter.audio import example_clips
from exporter.boards import firmware_runner
from exporter.audio.files import to_pcm16
from exporter.quantization.graph import Graph
from exporter.float_model.windows import TS_HOP

# The goals (README / performance-anchors): real time at these clocks, flash and RAM limits.
GOALS = {
    "scene": {"mhz": 8.0, "ram_kb": 96.0},
    "timestamp": {"mhz": 24.0, "ram_kb": 32.0},
    "flash_kb": 80.0,  # issue 11: the whole firmware
}
# For comparison: CMSIS-NN on the same network (shared performance-anchors, counted the same
# way): network instructions per window, and the project's goal for the network.
CMSIS_NN_NETWORK = {"timestamp": 3_240_000, "scene": 186_000_000}
GOAL_NETWORK_INSTRUCTIONS_PER_MAC = 2.5
FRAMES = {"scene": 1000, "timestamp": 16}  # frames of one window
CLIP_SECONDS = {"scene": 10.0, "timestamp": 2.0}
TOP_FUNCTIONS = 12  # functions listed in the cycle estimate
# The real boards (docs/boards.md): their images' flash and RAM, from the ELF.
# Which part of the firmware an executed function belongs to: by the object file it was
# linked from (the linker map). The frontend is logmel.c; the network its generated code and
# the kernels; the rest (application, UART, window cutter, embed.c's frame sums) is "other".
PART_OF_OBJECT = {"logmel.c": "frontend", "logmel_tables.c": "frontend", "network.c": "network",
                  "network_data.c": "network", "nn_conv.c": "network", "nn_depthwise.c": "network",
                  "nn_elementwise.c": "network"}
PARTS = ("frontend", "network", "other")
# The flash by part (bench.md, "Flash by part"): each input section of the image's flash output sections
# by the object file it comes from (the linker map); the rest (alignment, .data's initial values) is other.
FLASH_OUTPUT_SECTIONS = (".isr_vector", ".text", ".ARM.exidx")
FLASH_PART_OF_OBJECT = {"network_data.c": "network data", "network.c": "network scheduler", "nn_conv.c": "kernels",
                        "nn_depthwise.c": "kernels", "nn_elementwise.c": "kernels", "logmel.c": "frontend",
                        "logmel_tables.c": "frontend"}
FLASH_PARTS = ("network data", "network scheduler", "kernels", "frontend", "other")
REGRESSION_TOLERANCE = 0.01  # per-window instructions may exceed the committed report by this much
BASELINE = "bench_baseline.json"
PLOT = "bench_layers.png"


def symbol_sizes(elf: Path, names: tuple[str, ...]) -> dict[str, int]:
    return {name: size for name, (_, size) in symbols(elf).items() if name in names and size is not None}


def map_input_sections(map_file: Path) -> list[tuple[str, str, int, int, str]]:
    """The linker map's input sections: (output section, input section, start, size, object file's
    source name, e.g. network.c)."""
    found, out = [], None
    lines = map_file.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if line[:1] == ".":  # an output section
            out = line.split()[0]
            continue
        f = line.split()
        if not f or not f[0].startswith("."):
            continue
        if len(f) == 1 and i + 1 < len(lines):  # long section name: the rest on the next line
            f = f + lines[i + 1].split()
        if len(f) >= 4 and f[1].startswith("0x") and f[2].startswith("0x"):
            obj = Path(f[3].rsplit("(", 1)[-1].rstrip(")")).name.removesuffix(".obj").removesuffix(".o")
            found.append((out, f[0], int(f[1], 16), int(f[2], 16), obj))
    return found


def function_parts(map_file: Path, regions: list[tuple[int, int, str]]) -> dict[str, str]:
    """function name -> part (PARTS), from the linker map's input sections: each function
    belongs to the object file whose section holds its address."""
    spans = [(start, start + size, obj) for _, name, start, size, obj in map_input_sections(map_file)
             if name.startswith(".text") and size]
    parts = {}
    for lo, _, name in regions:
        obj = next((o for a, b, o in spans if a <= lo < b), "")
        parts[name] = PART_OF_OBJECT.get(obj, "other")
    return parts


def flash_by_part(map_file: Path, flash: int) -> dict[str, int]:
    """Flash bytes by part (FLASH_PARTS) of an image of ``flash`` bytes, from its linker map."""
    parts = dict.fromkeys(FLASH_PARTS, 0)
    for out, _, _, size, obj in map_input_sections(map_file):
        if out in FLASH_OUTPUT_SECTIONS and obj in FLASH_PART_OF_OBJECT:
            parts[FLASH_PART_OF_OBJECT[obj]] += size
    parts["other"] = flash - sum(parts.values())
    return parts


def _flash_data_note(r: dict) -> str:
    """Where a flash goal is missed: what the network's data and the frontend take before any other code."""
    parts = r.get("flash_parts")
    if not parts:
        return ""
    data, fe = parts["network data"] / 1024, parts["frontend"] / 1024
    return f" (network data {data:.1f} KB and frontend {fe:.1f} KB: {data + fe:.1f} KB before the kernels and the rest)"


def cycles_by_part(exe: Path, est: cycle_model.Estimate) -> dict[str, dict[str, int]]:
    """Instructions and estimated cycles of the run, summed by part of the firmware."""
    map_file = exe.with_name(exe.name + ".map")
    parts = function_parts(map_file, cycle_model.function_regions(exe))
    out = {p: {"instructions": 0, "cycles": 0} for p in PARTS}
    for name, c in est.functions.items():
        part = out[parts.get(name, "other")]
        part["instructions"] += c.instructions
        part["cycles"] += c.cycles
    return out


def profile_per_window(board: str, mode: str, export_dir: Path) -> dict[str, float]:
    """Frontend and network instructions per window of the benchmark clip (profiling image)."""
    clip = bench_clip(mode)
    exe = firmware_runner.build_embedder(board, mode, export_dir, profile=True, options={"SCENE_LONG_CLIPS": "OFF"})
    prof = _run_counted(board, exe, clip, mode).profile
    if prof is None or prof.n_windows == 0:
        raise RuntimeError(f"{board} {mode}: no profile frame")
    return {"frontend": prof.frontend / prof.n_windows, "network": prof.network / prof.n_windows}


def regressions(measured: dict[str, float], committed: dict, tolerance: float = REGRESSION_TOLERANCE) -> list[str]:
    """What of ``measured`` (per-window instructions: frontend, network) exceeds the committed
    result ``committed`` (an entry of bench.json's results) by more than ``tolerance``."""
    found = []
    for part in ("frontend", "network"):
        limit = committed["instructions"][f"{part}_per_window"] * (1 + tolerance)
        if measured[part] > limit:
            found.append(f"{committed['board']} {committed['mode']} {part}: {measured[part]:,.0f} instructions per "
                         f"window, committed {committed['instructions'][f'{part}_per_window']:,} (+{tolerance:.0%}: "
                         f"{limit:,.0f})")
    return found


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

    parts = cycles_by_part(exe, cycles)
    sizes = section_sizes(exe)
    symbols = symbol_sizes(exe, ("net_arena", "efat_ring", "efat", "efat_shared_frames"))
    flash, static_ram = image_bytes(sizes)
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
        "flash_bytes": flash, "sections": sizes, "flash_parts": flash_by_part(exe.with_name(exe.name + ".map"), flash),
        "ram_bytes": ram, "static_ram_bytes": static_ram,
        "stack_peak_bytes": plain.end.stack_used, "stack_reserved_bytes": plain.end.stack_size,
        "arena_bytes": symbols.get("net_arena"), "sample_ring_bytes": symbols.get("efat_ring", 0),
        "frontend_state_bytes": symbols.get("efat"),  # the library's efat_t: mostly the frontend's state
        "shared_frames_bytes": symbols.get("efat_shared_frames", 0),  # timestamp: frames kept for the next window
        "qemu_wall_seconds": round(wall, 2),
        # the Cortex-M4 cycle estimate (exporter/benchmark/cycle_model.py) of the same run, from reset to exit
        "cycle_estimate": {
            "cycles": cycles.total.cycles, "instructions": cycles.total.instructions,
            "cycles_per_instruction": round(cycles.total.cycles / cycles.total.instructions, 3),
            "realtime_mhz": round(cycles.total.cycles / seconds / 1e6, 3),
            "classes": cycles.total.classes, "taken_branches": cycles.total.taken,
            # by part (function_parts), whole run / windows and / seconds of audio
            "parts": {p: {**v, "cycles_per_window": round(v["cycles"] / n_windows),
                          "instructions_per_window": round(v["instructions"] / n_windows),
                          "cycles_per_second": round(v["cycles"] / seconds),
                          "realtime_mhz": round(v["cycles"] / seconds / 1e6, 3)} for p, v in parts.items()},
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


def size_optimized_copy(export_dir: Path, folder: Path) -> None:
    """Copy export ``export_dir`` (but its reports) to ``folder`` (replaced) with its network re-rendered
    for size (export --optimize size): the same graph, the general kernels alone."""
    import shutil

    from exporter import defaults
    from exporter.codegen.network import render_network

    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(export_dir, folder, ignore=shutil.ignore_patterns("reports"))
    render_network(Graph.load(folder), folder, max_frames=defaults.MAX_FRAMES, optimize="size")


def smallest_build(export_dir: Path, board: str = "qemu-an386") -> dict:
    """The same network with the general kernels alone (export --optimize size) built for size (-Os,
    CMake's MinSizeRel): its flash and its real time in both modes, the least flash this code base gives
    the network (the export is re-rendered into a folder of the build root)."""
    from exporter.boards import cmake_build

    folder = cmake_build.default_build_root() / "bench-optimize-size"
    size_optimized_copy(export_dir, folder)
    out = {"board": board, "build": "export --optimize size, -Os (MinSizeRel)"}
    for mode in ("timestamp", "scene"):
        exe = firmware_runner.build_embedder(board, mode, folder, options={"SCENE_LONG_CLIPS": "OFF",
                                                                          "CMAKE_BUILD_TYPE": "MinSizeRel"})
        clip = bench_clip(mode)
        run = _run_counted(board, exe, clip, mode)
        out[mode] = {"flash_bytes": image_bytes(section_sizes(exe))[0],
                     "realtime_mhz": round(run.end.instructions / (clip.size / SAMPLE_RATE) / 1e6, 3)}
    return out


def run_bench(export_dir: Path, boards: list[str], out_dir: Path, real_boards: bool = True) -> dict:
    graph = Graph.load(export_dir)
    results = [measure(b, m, export_dir, graph) for b in boards for m in ("timestamp", "scene")]
    report = {
        "model": graph.meta.get("model", {}), "export": str(export_dir),
        "host": platform.platform(), "method": "QEMU -icount, guest timer (exact instruction counts)",
        "goals": GOALS, "results": results,
        "real_boards": board_images.measure(export_dir) if real_boards else [],
        "real_board_budget": board_budget.budget(results) if real_boards else [],
        "smallest_build": smallest_build(export_dir, boards[0]),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    baseline_path = out_dir / BASELINE
    baseline = json.loads(baseline_path.read_text()) if baseline_path.is_file() else None
    if baseline is not None:
        report["baseline"] = BASELINE
    plotted = plot_layers(report, baseline, out_dir / PLOT)
    if plotted:
        report["plot"] = PLOT
    (out_dir / "bench.json").write_text(json.dumps(report, indent=1) + "\n")
    (out_dir / "bench.md").write_text(markdown(report, baseline))
    return report


def cost_by_layer(result: dict) -> dict[str, int]:
    """Instructions per window: the frontend, then every network op that runs (graph order)."""
    out = {"frontend": result["instructions"]["frontend_per_window"]}
    for layer in result["layers"]:
        if layer["instructions"]:
            out[f"{layer['index']} {layer['name']}"] = layer["instructions"]
    return out


def plot_layers(report: dict, baseline: dict | None, path: Path) -> bool:
    """Instructions per window by layer (the frontend first, then the network's ops), before
    (baseline) and after, one panel per mode, the first board's results. False (no plot)
    without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    board = report["results"][0]["board"]
    modes = [r["mode"] for r in report["results"] if r["board"] == board]
    fig, axes = plt.subplots(len(modes), 1, figsize=(24, 5.5 * len(modes)), squeeze=False)
    for ax, mode in zip(axes[:, 0], modes):
        after = cost_by_layer(next(r for r in report["results"] if r["board"] == board and r["mode"] == mode))
        before_r = next((r for r in (baseline or {}).get("results", []) if r["board"] == board and r["mode"] == mode),
                        None)
        before = cost_by_layer(before_r) if before_r else {}
        names = list(after)
        x = np.arange(len(names))
        width = 0.4 if before else 0.8
        if before:
            ax.bar(x - width / 2, [before.get(n, 0) for n in names], width, label="before (bench_baseline.json)",
                   color="#bbbbbb")
        ax.bar(x + (width / 2 if before else 0), [after[n] for n in names], width, label="after (this report)",
               color="#1f77b4")
        ax.set_xticks(x, names, rotation=90, fontsize=6)
        ax.set_yscale("log")  # the frontend and the stem beside the SE gates' few hundred
        ax.set_ylabel("instructions per window")
        ax.set_title(f"{board}, {mode} mode: instructions per window by layer (frontend, then the network's ops)")
        ax.legend()
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _delta(before, after) -> str:
    return f"{before:,} -> {after:,} ({(after - before) / before:+.1%})" if before else f"{after:,}"


def markdown(report: dict, baseline: dict | None = None) -> str:
    model = report["model"].get("name", "?")
    lines = [
        f"# Firmware benchmark ({model})", "",
        "Measured in QEMU with `-icount` (exact guest instruction counts; see exporter/benchmark/firmware.py). "
        "Real-time clock = instructions per second of audio at one instruction per cycle "
        "(a lower bound for real silicon). Flash = vectors + code + constants + .data; "
        "RAM = .data + .bss + measured stack peak.", "",
        "| board | mode | windows | instr./window frontend | instr./window network | MACs/window | "
        f"network instr./MAC | instr. per s of audio | real time at | goal | flash KB (goal {report['goals']['flash_kb']:g}) "
        "| RAM KB | RAM goal |",
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
              "", "## Per window and per second of audio, frontend and network apart", "",
              "Instructions: exact (the profiling image's split; frontend = log-mel, network = the ops). "
              "Estimated Cortex-M4 cycles: the cycle-model run, each executed function counted in the part "
              "whose object file it comes from (frontend: logmel.c; network: network.c and the kernels; other: "
              "application, UART, window cutter, frame sums), per window = whole run / windows.", "",
              "| board | mode | frontend instr./window | network instr./window | frontend instr./s | "
              "network instr./s | frontend est. cycles/window | network est. cycles/window | frontend est. MHz | "
              "network est. MHz | other est. MHz |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["results"]:
        i, parts = r["instructions"], r.get("cycle_estimate", {}).get("parts")
        if not parts:
            continue
        f, n, o = parts["frontend"], parts["network"], parts["other"]
        lines.append(f"| {r['board']} | {r['mode']} | {i['frontend_per_window']:,} | {i['network_per_window']:,} | "
                     f"{i['frontend_per_second']:,} | {i['network_per_second']:,} | {f['cycles_per_window']:,} | "
                     f"{n['cycles_per_window']:,} | {f['realtime_mhz']:.2f} | {n['realtime_mhz']:.2f} | "
                     f"{o['realtime_mhz']:.2f} |")
    lines += ["", "Where a goal is missed, by how much (instruction-based real time):", ""]
    for r in report["results"]:
        g, i = r["goals"], r["instructions"]
        over = r["realtime_mhz"] - g["realtime_mhz"]
        ipm = r["network_instructions_per_mac"] - GOAL_NETWORK_INSTRUCTIONS_PER_MAC
        lines.append(f"- {r['board']} {r['mode']}: real time {r['realtime_mhz']:.2f} MHz, "
                     + (f"{over:.2f} MHz over the goal (frontend {i['frontend_per_second'] / 1e6:.2f} M/s, "
                        f"network {i['network_per_second'] / 1e6:.2f} M/s: the profiling image's split)"
                        if over > 0 else "goal met")
                     + (f"; network {r['network_instructions_per_mac']} instr./MAC, {ipm:.2f} over" if ipm > 0 else "")
                     + (f"; flash {r['flash_bytes'] / 1024:.1f} KB, {r['flash_bytes'] / 1024 - g['flash_kb']:.1f} KB over"
                        + _flash_data_note(r) if not g["met_flash"] else ""))
    if baseline is not None:
        lines += ["", "## Before / after", "",
                  f"Before: `{BASELINE}` (an earlier report kept for comparison; the plot `{PLOT}` shows the cost "
                  "per layer of both).", "",
                  "| board | mode | frontend instr./window | network instr./window | real time at (MHz) | RAM bytes |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for r in report["results"]:
            b = next((x for x in baseline.get("results", []) if x["board"] == r["board"] and x["mode"] == r["mode"]),
                     None)
            if b is None:
                continue
            bi, ri = b["instructions"], r["instructions"]
            lines.append(f"| {r['board']} | {r['mode']} | {_delta(bi['frontend_per_window'], ri['frontend_per_window'])} | "
                         f"{_delta(bi['network_per_window'], ri['network_per_window'])} | "
                         f"{b['realtime_mhz']:.2f} -> {r['realtime_mhz']:.2f} | {_delta(b['ram_bytes'], r['ram_bytes'])} |")
    if report.get("plot"):
        lines += ["", f"![cost per layer]({report['plot']})"]
    lines += ["", "## Memory", "",
              "| board | mode | NET_MAX_FRAMES | arena | frontend state | shared frames | sample ring | .data+.bss | "
              "stack peak / reserved |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["results"]:
        lines.append(f"| {r['board']} | {r['mode']} | {r['net_max_frames']} | {r['arena_bytes']:,} B | "
                     f"{r['frontend_state_bytes']:,} B | {r.get('shared_frames_bytes', 0):,} B | "
                     f"{r['sample_ring_bytes']:,} B | {r['static_ram_bytes']:,} B | "
                     f"{r['stack_peak_bytes']:,} / {r['stack_reserved_bytes']:,} B |")
    names = [n for n in FLASH_SECTIONS if any(n in r["sections"] for r in report["results"])]
    lines += ["", "Flash by section (bytes; .data: its initial values, in RAM as well):", "",
              "| board | mode | " + " | ".join(names) + " | flash |", "| --- | --- |" + " --- |" * (len(names) + 1)]
    for r in report["results"]:
        lines.append(f"| {r['board']} | {r['mode']} | " + " | ".join(f"{r['sections'].get(n, 0):,}" for n in names)
                     + f" | {r['flash_bytes']:,} |")
    small = report.get("smallest_build")
    if small:
        lines += ["", f"Smallest build ({small['build']}, {small['board']}): the general kernels alone, the same "
                  "integers. "
                  + "; ".join(f"{m}: flash {small[m]['flash_bytes'] / 1024:.1f} KB, real time at "
                              f"{small[m]['realtime_mhz']:.2f} MHz" for m in ("timestamp", "scene"))
                  + ". The flash goal is out of reach of the network's data and the frontend alone (above)."]
    if all("flash_parts" in r for r in report["results"]):
        lines += ["", "Flash by part (KB; by the object file of each input section, from the linker map: network data = "
                  "network_data.c, its weights, per-channel constants, tables and records; network scheduler = network.c; "
                  "kernels = firmware/kernels; frontend = logmel.c and its tables; other = application, board, C library, "
                  "alignment):", "",
                  "| board | mode | " + " | ".join(FLASH_PARTS) + " | flash |", "| --- | --- |" + " --- |" * (len(FLASH_PARTS) + 1)]
        for r in report["results"]:
            lines.append(f"| {r['board']} | {r['mode']} | "
                         + " | ".join(f"{r['flash_parts'][p] / 1024:.1f}" for p in FLASH_PARTS)
                         + f" | {r['flash_bytes'] / 1024:.1f} |")
    lines += [""] + board_images.markdown(report.get("real_boards", []))
    lines += board_budget.markdown(report.get("real_board_budget", []))
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
