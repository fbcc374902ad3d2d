"""Cortex-M4 instruction count and memory of the log-mel frontend, per frame and per stage.

Builds firmware/frontend/logmel.c and freshly rendered tables with arm-none-eabi-gcc
(-O2, the firmware's Cortex-M4 flags, DSP path on; exporter/frontend/m4sim.py), runs
it in the unicorn emulator and counts executed instructions while streaming audio
through logmel_push one hop (320 samples, one frame) at a time. The stage hook marks
the stage boundaries (a second run; the hook's own calls, one per power bin, are
subtracted again, at their average cost). A finer breakdown attributes every executed
instruction of the steady-state frames to the function inlined into emit_frame that it
belongs to (addr2line on a -g build of the same code).

    python bench/frontend_m4_cost.py [--out reports/frontend_m4_cost] [--frames 20]
writes OUT.md and OUT.json. Design target: <= 40,000 instructions per frame.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.frontend import signals  # noqa: E402
from exporter.frontend import tables as tb  # noqa: E402
from exporter.frontend.m4sim import CFLAGS, M4  # noqa: E402

TARGET = 40_000
STAGES = ["pre-emphasis, buffering, window, FFT", "power spectrum", "mel bands", "log", "rounding + frame callback"]
WARMUP = 1041  # input samples that emit frames 0..2 (the start-up frames)


def where(elf: bytes, pcs: dict[int, int], n_frames: int) -> dict[str, int]:
    """Instructions per frame by the code they belong to: the function inlined into
    emit_frame (for fft512_rest, its call line), or the called function itself. The
    Thumb-2 functions (logmel_asm_*) have no line tables: labelled by their symbol."""
    source = (ROOT / "firmware" / "frontend" / "logmel.c").read_text().splitlines()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "frontend.elf"
        path.write_bytes(elf)
        nm = subprocess.run(["arm-none-eabi-nm", "-S", str(path)], capture_output=True, text=True, check=True)
        asm = [(int(a, 16) & ~1, int(a, 16) + int(n, 16), name) for a, n, _, name in
               (line.split() for line in nm.stdout.splitlines()) if name.startswith("logmel_asm_")]  # fmt: skip
        addrs = sorted(pcs)
        out = subprocess.run(
            ["arm-none-eabi-addr2line", "-a", "-f", "-i", "-e", str(path)],
            input="\n".join(f"{a:#x}" for a in addrs),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    chains: list[list[str]] = []
    for line in out:
        if line.startswith("0x"):
            chains.append([])
        else:
            chains[-1].append(line)
    totals: dict[str, int] = {}
    for addr, chain in zip(addrs, chains):
        inside = [name for lo, hi, name in asm if lo <= addr < hi]
        if inside:
            totals[inside[0]] = totals.get(inside[0], 0) + pcs[addr]
            continue
        levels = list(zip(chain[0::2], chain[1::2]))[::-1]  # outermost first: (function, file:line)
        if len(levels) == 1 or levels[0][0] != "emit_frame":
            label = levels[0][0]
        else:
            label = levels[1][0]
            if label == "fft512_rest" and len(levels) > 2:
                line = int(levels[1][1].rsplit(":", 1)[1].split()[0])
                label = f"fft512_rest: `{' '.join(source[line - 1].split())}`"
        totals[label] = totals.get(label, 0) + pcs[addr]
    return {k: round(v / n_frames) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def measure(n_frames: int) -> dict:
    m4 = M4(count=True, debug=True)
    m4.load_pcm(signals.make("speech_like", WARMUP + 320 * n_frames, -12.0))

    m4.call("drv_begin", 0, 0)
    m4.call("drv_push", 0, WARMUP)
    per_frame = []
    m4.pcs = {}
    for i in range(n_frames):
        start = m4.count
        m4.call("drv_push", WARMUP + 320 * i, 320)
        per_frame.append(m4.count - start)
    by_code = where(m4.elf, m4.pcs, n_frames)
    m4.pcs = None

    m4.call("drv_begin", 1, 0)
    m4.call("drv_push", 0, WARMUP)
    m4.marks.clear()
    start = m4.count
    m4.call("drv_push", WARMUP, 320)
    # marks: FFT, one per power bin, mel, log, frame
    nbins = tb.tables().bin_hi - tb.tables().bin_lo + 1
    marks = m4.marks[:1] + m4.marks[nbins : nbins + 4]
    bounds = [start, *marks, m4.count]
    raw = [bounds[i + 1] - bounds[i] for i in range(len(bounds) - 1)]
    # the hook's own cost: the hooked frame minus an unhooked one, per call; the power
    # stage makes nbins of the nbins + 3 hook calls (the frame callback is always there)
    per_call = (sum(raw) - float(np.mean(per_frame))) / (nbins + 3)
    calls = [1, nbins, 1, 1, 0, 0]
    names = [*STAGES, "return from logmel_push"]
    stages = {name: int(round(r - c * per_call)) for name, r, c in zip(names, raw, calls)}
    return {
        "instructions_per_frame": {
            "mean": float(np.mean(per_frame)),
            "min": int(min(per_frame)),
            "max": int(max(per_frame)),
        },
        "stages": stages,
        "by_code": by_code,
        "sizes_bytes": {
            "code+tables (.text, frontend and driver)": m4.sizes[".text"],
            "logmel_state (RAM)": m4.sizes["logmel_state"],
        },
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "frontend_m4_cost"))
    ap.add_argument("--frames", type=int, default=20)
    args = ap.parse_args(argv)
    r = measure(args.frames)
    r["target_per_frame"] = TARGET
    r["compiler"] = subprocess.run(["arm-none-eabi-gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    r["flags"] = " ".join(CFLAGS)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(r, indent=2) + "\n")
    ipf = r["instructions_per_frame"]
    lines = [
        "# Frontend cost on a Cortex-M4 (instructions per frame)",
        "",
        f"logmel.c + generated tables, `{r['compiler']}` `{r['flags']}`, executed in the unicorn emulator "
        f"(Cortex-M4 model); one frame = one `logmel_push` of 320 samples in steady state ({args.frames} frames).",
        "",
        f"**{ipf['mean']:,.0f} instructions per frame** (min {ipf['min']:,}, max {ipf['max']:,}); "
        f"design target <= {TARGET:,}: {'met' if ipf['max'] <= TARGET else 'NOT met'}. "
        f"At 100 frames/s: {ipf['mean'] * 100 / 1e6:.2f} M instructions per second of audio.",
        "",
        "| stage | instructions |",
        "| --- | --- |",
        *[f"| {k} | {v:,} |" for k, v in r["stages"].items()],
        "",
        "Where they go (per frame, steady state; the function inlined into `emit_frame` "
        "each executed instruction belongs to):",
        "",
        "| code | instructions |",
        "| --- | --- |",
        *[f"| {k} | {v:,} |" for k, v in r["by_code"].items()],
        "",
        "| memory | bytes |",
        "| --- | --- |",
        *[f"| {k} | {v:,} |" for k, v in r["sizes_bytes"].items()],
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
