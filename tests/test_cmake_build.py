"""Build-folder housekeeping of exporter/boards/cmake_build.py (every export folder is a configuration)."""

import os
import time

from exporter.boards.cmake_build import prune_builds


def _folder(root, name, age_s, cmake=True):
    d = root / name
    d.mkdir()
    if cmake:
        (d / "CMakeCache.txt").write_text("")
    t = time.time() - age_s
    os.utime(d, (t, t))
    return d


def test_prune_keeps_the_most_recently_used_and_the_busy(tmp_path):
    old = [_folder(tmp_path, f"host-old{i}", 7200 + i * 60) for i in range(4)]
    recent = _folder(tmp_path, "host-recent", 1800)  # beyond the 2 kept, but maybe still in use
    busy = _folder(tmp_path, "host-busy", 10_000)
    os.utime(busy)  # used just now
    fresh = _folder(tmp_path, "host-fresh", 30)
    other = _folder(tmp_path, "frontend-generated", 99_999, cmake=False)  # not a build folder
    removed = prune_builds(tmp_path, keep=2, keep_seconds=3600)
    assert sorted(removed) == sorted(old)  # busy and fresh are the 2 most recently used
    assert busy.exists() and fresh.exists() and recent.exists() and other.exists()
    assert not any(d.exists() for d in old)
    assert prune_builds(tmp_path, keep=2, keep_seconds=3600) == []
