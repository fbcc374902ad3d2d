"""Every `exporter` import written in the README, the docs and the CI scripts (code a user or CI
runs as written, outside the test suite's own imports) names a module and names that exist."""

import importlib
import re

import pytest

from exporter import ROOT

IMPORT = re.compile(r"^\s*(from (exporter[\w.]*) import ([\w, ]+?)|import (exporter[\w.]*)(?: as \w+)?)\s*(#.*)?$")
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "ci").glob("*.sh"))]


def written_imports():
    found = []
    for path in FILES:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = IMPORT.match(line)
            if m:
                found.append(pytest.param(m, id=f"{path.relative_to(ROOT)}:{n}"))
    return found


def test_the_scan_finds_imports():
    assert len(written_imports()) >= 3  # README's HEAR examples and the main job's clip maker at least


@pytest.mark.parametrize("m", written_imports())
def test_written_import_resolves(m):
    if m.group(4):
        importlib.import_module(m.group(4))
        return
    module = importlib.import_module(m.group(2))
    for name in (n.split()[0] for n in m.group(3).split(",")):  # "name as alias" -> name
        assert hasattr(module, name) or importlib.util.find_spec(f"{m.group(2)}.{name}"), f"{m.group(2)} has no {name}"
