"""``python -m exporter bench``: speed and memory of the firmware in QEMU, flash and RAM of the real
boards' images -> reports/bench.{md,json} and the plot reports/bench_layers.png (before/after:
reports/bench_baseline.json)."""

from __future__ import annotations

import argparse
from pathlib import Path

from exporter import INSTALLED, ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--export", metavar="DIR", type=Path, default=None,
                        help="export folder to benchmark (default: the default model's cached export)")
    parser.add_argument("--board", action="append", choices=["qemu-an386", "qemu-netduinoplus2"], default=None,
                        help="board(s) to measure (repeatable; default both)")
    # The repository's reports/ in a checkout; an installed package writes into the current folder.
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("reports") if INSTALLED else ROOT / "reports",
                        help="folder for bench.md, bench.json and bench_layers.png; a bench_baseline.json there "
                             "is plotted as 'before' (default: reports/ of the checkout, ./reports for an installed "
                             "package)")


def run(args: argparse.Namespace) -> int:
    from exporter.benchmark.firmware import run_bench
    from exporter.manifest import load_export

    export_dir = args.export
    if export_dir is None:
        from exporter import defaults
        from exporter.float_model.checkpoint import resolve_model
        from exporter.commands.run import cached_export

        export_dir = cached_export(*resolve_model(checkpoint=defaults.CHECKPOINT))
    else:
        load_export(export_dir, c_sources=True)  # a clear error if it is not an export folder of this version
    report = run_bench(export_dir, args.board or ["qemu-an386", "qemu-netduinoplus2"], args.out)
    for r in report["results"]:
        g = r["goals"]
        print(f"{r['board']:20s} {r['mode']:9s} real time at {r['realtime_mhz']:6.2f} MHz (goal {g['realtime_mhz']:g}), "
              f"network {r['network_instructions_per_mac']:.2f} instr/MAC, flash {r['flash_bytes'] / 1024:.1f} KB, "
              f"RAM {r['ram_bytes'] / 1024:.1f} KB (goal {g['ram_kb']:g})")
    for im in report["real_boards"]:
        ram = sum(n for m, n in im["used"].items() if m != "flash")
        print(f"{im['preset']:29s} flash {im['used']['flash'] / 1024:.1f} KiB, RAM {ram / 1024:.1f} KiB (ELF)")
    print(f"report: {args.out / 'bench.md'}")
    return 0
