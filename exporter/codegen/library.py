"""The export folder as a self-contained C library (firmware/efat/efat.h on top).

`export` renders the network and the frontend's tables (codegen.py, frontend/render.py);
this module adds what makes the folder a library that builds on its own: the
repository's static C sources (kernels, frontend, streaming API), copied as they
are, and the build files for CMake, Zephyr, PlatformIO and Makefiles, rendered
from templates/library/. The repository keeps one copy of every C file: its own
firmware builds the same sources from firmware/ with the same efat.cmake.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

import jinja2

from exporter import FIRMWARE_DIR, TEMPLATES_DIR

# Folders of firmware/ copied into the library, under the same names.
STATIC_PARTS = ("kernels", "frontend", "efat")
GENERATED_SOURCES = ("network.c", "network_data.c", "logmel_tables.c")
# Rendered from templates/library/<name>.j2.
BUILD_FILES = ("README.md", "efficientat_m4Config.cmake", "library.json", "sources.mk",
               "zephyr/module.yml", "zephyr/CMakeLists.txt", "zephyr/Kconfig")
# What write_library adds to an export folder (top-level names), for the tests and the docs.
LIBRARY_FILES = ("CMakeLists.txt", *STATIC_PARTS, "README.md", "efficientat_m4Config.cmake", "library.json",
                 "sources.mk", "zephyr")


def _static_files() -> list[Path]:
    """firmware/<part>/ files that belong to the library: C sources and headers, efat.cmake."""
    files = []
    for part in STATIC_PARTS:
        files += sorted(p for p in (FIRMWARE_DIR / part).iterdir()
                        if p.is_file() and p.suffix in (".c", ".h", ".cmake"))
    return files


def tool_version() -> str:
    try:
        return metadata.version("efficientat-m4")
    except metadata.PackageNotFoundError:  # a source checkout without an install
        return "0.0.0"


def write_library(folder: Path, graph, plan: dict) -> list[Path]:
    """Make the export ``folder`` (which holds the rendered network.* and logmel_tables.*) a C
    library: copy the static sources and render the build files. ``plan`` is render_network's
    summary (the arena plans). Returns the files written."""
    folder = Path(folder)
    missing = [n for n in GENERATED_SOURCES if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: render the network and frontend first")
    written = []
    for src in _static_files():
        dst = folder / src.parent.name / src.name
        dst.parent.mkdir(exist_ok=True)
        shutil.copyfile(src, dst)  # contents only: the export's files get the umask's permissions
        written.append(dst)
    shutil.copyfile(FIRMWARE_DIR / "CMakeLists.txt", folder / "CMakeLists.txt")
    written.append(folder / "CMakeLists.txt")

    sources = [f"{p.parent.name}/{p.name}" for p in _static_files() if p.suffix == ".c"] + list(GENERATED_SOURCES)
    plans = {int(f): p["arena_bytes"] for f, p in plan["plans"].items()}
    ctx = {
        "version": tool_version(),
        "model": graph.meta.get("model", {}).get("name", "?"),
        "l_dim": graph.meta["input"]["mel_bands"], "tap_dim": graph.tap_dim,
        "dim": graph.meta["input"]["mel_bands"] + graph.tap_dim,
        "taps": [{"name": t["name"], "channels": t["channels"]} for t in graph.taps],
        "plans": sorted(plans.items()), "plan_frames": ", ".join(str(f) for f in sorted(plans)),
        "sources": sources, "src_filter": json.dumps(["-<*>"] + [f"+<{s}>" for s in sources]),
        "optimize": plan.get("optimize", "speed"),
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "library")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    for name in BUILD_FILES:
        dst = folder / name
        dst.parent.mkdir(exist_ok=True)
        dst.write_text(env.get_template(name + ".j2").render(**ctx))
        written.append(dst)
    return written
