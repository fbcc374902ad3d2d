"""An export folder's manifest.json: the tool version that wrote it and the hash of its graph.

A folder is used only by the tool version that wrote it: its C sources call that version's
kernels and frontend (the C headers shipped with the tool refuse another version's network.h
and logmel_tables.h at compile time, see exporter/codegen/network.py), and its graph follows that version's
semantics. ``load_export`` is how `run`, the boards, `bench` and the HEAR module open a folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from exporter import __version__
from exporter.errors import UserError
from exporter.quantization.graph import Graph

FILE = "manifest.json"
FORMAT = "efficientat-m4/export"


def version_number(version: str = __version__) -> int:
    """``X.Y.Z`` as major * 10000 + minor * 100 + patch: the C preprocessor compares numbers only."""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    if not m or max(int(m[2]), int(m[3])) > 99:
        raise ValueError(f"tool version {version!r} is not X.Y.Z with Y, Z < 100")
    return int(m[1]) * 10000 + int(m[2]) * 100 + int(m[3])


def write(folder: str | Path, graph: Graph) -> None:
    record = {"format": FORMAT, "tool_version": __version__, "graph_sha256": graph.digest()}
    (Path(folder) / FILE).write_text(json.dumps(record, indent=1) + "\n")


def load_export(folder: str | Path, c_sources: bool = False) -> Graph:
    """The graph of export folder ``folder`` once it is known to be this tool version's; a
    one-line UserError otherwise. ``c_sources``: network.h must be of the same graph too."""
    folder = Path(folder)
    graph = Graph.load(folder)  # a missing or damaged graph is named first
    again = f"export it again with this version ({__version__})"
    path = folder / FILE
    if not path.is_file():
        raise UserError(f"{folder} has no {FILE}: it was written by an efficientat-m4 that did not record its "
                        f"version, this is efficientat-m4 {__version__}: {again}")
    try:
        record = json.loads(path.read_text())
        version, digest = record["tool_version"], record["graph_sha256"]
    except (ValueError, OSError, KeyError, TypeError) as e:
        raise UserError(f"{path} is damaged ({type(e).__name__}: {e}): export again") from None
    if version != __version__:
        raise UserError(f"{folder} was written by efficientat-m4 {version}, this is efficientat-m4 {__version__}: "
                        f"{again}, or use efficientat-m4 {version}")
    if digest != graph.digest():
        raise UserError(f"{folder}: graph.json/graph.npz are not the graph it was exported with ({FILE}): export again")
    if c_sources:
        header = folder / "network.h"
        m = re.search(r'#define NET_GRAPH_SHA256\s+"([0-9a-f]+)"', header.read_text()) if header.is_file() else None
        if m is None or m[1] != digest:
            raise UserError(f"{header} is missing or was generated from another graph than {folder / 'graph.json'}: "
                            "export again")
    return graph
