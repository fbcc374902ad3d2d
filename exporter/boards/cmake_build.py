"""Configure and build the project's CMake tree (host or firmware) from Python.

One build folder per configuration (board, mode, generated sources, extra
options), under ``build/`` of the checkout or the user cache (exporter.build_root),
so repeated calls only rebuild what changed.
Each export folder is a configuration of its own, so old folders are pruned:
the ``KEEP_BUILDS`` most recently used stay, and none used in the last ``KEEP_SECONDS``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

from exporter import ROOT, build_root as default_build_root, subproc
from exporter.errors import UserError

TOOLCHAIN_FILE = ROOT / "cmake" / "arm-none-eabi.cmake"
KEEP_BUILDS = 48
KEEP_SECONDS = 3600.0  # a folder another process may still be using


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise UserError(f"'{tool}' not found on PATH; {hint} (bash ci/setup.sh installs it)")
    return path


def build(
    board: str = "host",
    generated_dir: Path | None = None,
    options: dict[str, str] | None = None,
    targets: list[str] | None = None,
    build_root: Path | None = None,
) -> Path:
    """Build and return the build folder. ``options`` are extra ``-DKEY=VALUE``."""
    _require("cmake", "CMake is needed to build the C code")
    opts = {"BOARD": board}
    if generated_dir is not None:
        opts["GENERATED_DIR"] = str(Path(generated_dir).resolve())
    opts.update(options or {})
    if board != "host":
        _require("arm-none-eabi-gcc", "the Arm GNU toolchain is needed for firmware builds")
        opts["CMAKE_TOOLCHAIN_FILE"] = str(TOOLCHAIN_FILE)
    # The source folder is part of the key: one cache serves several installations of the tool.
    key = hashlib.sha256(repr((str(ROOT), sorted(opts.items()))).encode()).hexdigest()[:12]
    build_dir = (build_root or default_build_root()) / f"{board}-{key}"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    if not (build_dir / "CMakeCache.txt").exists():
        cmd = ["cmake", "-S", str(ROOT), "-B", str(build_dir), *generator]
        cmd += [f"-D{k}={v}" for k, v in opts.items()]
        _run(cmd, "configure")
    os.utime(build_dir)  # marks it used, for prune_builds
    cmd = ["cmake", "--build", str(build_dir)]
    if targets:
        cmd += ["--target", *targets]
    _run(cmd, "build")
    prune_builds(build_dir.parent)
    return build_dir


def prune_builds(build_root: Path, keep: int = KEEP_BUILDS, keep_seconds: float = KEEP_SECONDS) -> list[Path]:
    """Remove configuration folders of ``build_root`` beyond the ``keep`` most recently used,
    except those used in the last ``keep_seconds``; returns the removed folders.

    Only folders that hold a CMakeCache.txt count (anything else there is not this module's).
    """
    folders = [d for d in build_root.iterdir() if (d / "CMakeCache.txt").is_file()]
    folders.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    now = time.time()
    removed = []
    for d in folders[keep:]:
        if now - d.stat().st_mtime > keep_seconds:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _run(cmd: list[str], what: str) -> None:
    proc = subproc.run(cmd, text=True)  # an interrupted build takes ninja and the compilers with it
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise RuntimeError(f"CMake {what} failed ({' '.join(cmd)}):\n{tail}")
