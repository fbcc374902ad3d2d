"""Command-line entry point: ``python -m exporter [COMMAND] ...``.

Each command lives in ``exporter/commands/<name>.py`` and provides
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import
their heavy dependencies (torch, onnxruntime) inside ``run`` so that ``--help``
stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from exporter import INSTALLED, __version__
from exporter.errors import Terminated, UserError

# (name, module, one-line help). Order is the order shown by --help.
COMMANDS = [
    ("embed", "exporter.commands.embed", "float embeddings of audio files (the paper's model, PyTorch)"),
    ("frontend", "exporter.commands.frontend", "fixed-point log-mel of an audio file, as the device computes it"),
    ("pdm2pcm", "exporter.commands.pdm2pcm", "decimate a raw PDM microphone capture (2.048 MHz, 1 bit) to 32 kHz PCM"),
    ("export", "exporter.commands.export", "checkpoint -> int8 graph, ONNX models, C sources and reports"),
    ("run", "exporter.commands.run", "integer embeddings on a board: reference (ONNX Runtime), host (C), qemu-*"),
    ("listen", "exporter.commands.listen", "decode what a flashed board with a live microphone sends over its UART"),
    ("heads", "exporter.commands.heads", "task heads on the embedding: `heads train` learns one from labelled audio"),
    ("bench", "exporter.commands.bench", "speed and memory benchmark of the firmware in the emulator (+ the real boards' image sizes)"),
]


def build_parser(prog: str = "python -m exporter") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "EfficientAT MobileNetV3 audio embeddings on a Cortex-M4. "
            "Without a command (in a source checkout only), regenerates the repository's "
            "firmware/generated/ for the project's default model configuration."
        ),
        epilog="Every command works from any folder, in a source checkout or an installed package "
               f"(version {__version__}).",
    )
    parser.add_argument("--version", action="version", version=f"efficientat-m4 {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return parser


# Handled like Ctrl-C (SIGINT): a `kill`, a closed terminal, `docker stop` or a CI timeout
# must not leave QEMU or a build running, nor temporary files and folders behind.
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _terminate(signum: int, frame) -> None:
    for s in TERMINATING_SIGNALS:  # a second signal must not interrupt the cleanup
        signal.signal(s, signal.SIG_IGN)
    raise Terminated(signum)


NO_COMMAND_INSTALLED = (
    "without a command, `python -m exporter` regenerates firmware/generated/ of a source checkout "
    "(a developer command); this is an installed package: export with `{prog} export --out DIR` (see --help)")


def main(argv: list[str] | None = None) -> int:
    # the console script `efficientat-m4` names itself in usage and errors
    prog = "efficientat-m4" if os.path.basename(sys.argv[0]) == "efficientat-m4" else "python -m exporter"
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    module = getattr(args, "_module", None)
    previous = {s: signal.signal(s, _terminate) for s in TERMINATING_SIGNALS}
    try:
        if module is None:
            if INSTALLED:  # its firmware/generated/ is the package's read-only copy
                raise UserError(NO_COMMAND_INSTALLED.format(prog=prog))
            from exporter.commands import export

            return export.regenerate_default()
        return int(importlib.import_module(module).run(args) or 0)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Terminated as e:
        return 128 + e.signum
    except KeyboardInterrupt:
        return 130
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
