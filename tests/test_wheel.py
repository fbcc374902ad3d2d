"""The wheel, as a user gets it: built from a copy of the sources (no .git, no build folders),
installed into a fresh virtual environment, its commands run from a folder outside any checkout.

The virtual environment sees the system's packages (torch, onnxruntime, ...) but its own copy of
`exporter`: the tests check that this copy is the one imported, and that the commands never write
into it (builds go to the user cache, here a temporary $EFFICIENTAT_M4_CACHE).
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from exporter import ROOT, __version__, defaults

pytestmark = pytest.mark.slow

# Copies of a checkout that are not sources (a wheel built in the checkout would leave build/
# and *.egg-info behind, and the test must not depend on a git checkout).
NOT_SOURCES = shutil.ignore_patterns(".git", "build", "out", "*.egg-info", "__pycache__", ".pytest_cache",
                                     ".*.tmp-*")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src") / "efficientat-m4"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCES)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist),
                    str(src)], check=True, capture_output=True, cwd=dist)
    (whl,) = dist.glob("efficientat_m4-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed (dependencies from the system)."""
    env = tmp_path_factory.mktemp("venv") / "env"
    # --without-pip: no ensurepip needed (Debian's python3-venv); the system's pip installs into it.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    return env


def _site_package(venv: Path) -> Path:
    (pkg,) = venv.glob("lib/python*/site-packages/exporter")
    return pkg


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_the_wheel_carries_what_the_commands_need(wheel):
    assert wheel.name.startswith(f"efficientat_m4-{__version__}-")  # pyproject.toml reads exporter.__version__
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {n[len("exporter/_data/"):] for n in names if n.startswith("exporter/_data/")}
    needed = {"CMakeLists.txt", "CMakePresets.json", str(defaults.CHECKPOINT.relative_to(ROOT))}
    for folder in ("cmake", "firmware", "templates"):  # every file: C sources, CMake files, the default export
        needed |= {f"{folder}/{f}" for f in _files(ROOT / folder)}
    assert needed <= data, f"missing from the wheel: {sorted(needed - data)[:10]}"
    assert "firmware/generated/graph.json" in data and "templates/network.c.j2" in data
    assert not any(n.startswith(("tests/", "build/", "exporter/_data/build")) for n in names)
    size = wheel.stat().st_size
    print(f"wheel {wheel.name}: {size / 1e6:.2f} MB, {len(names)} files")
    assert size < 3e6  # the default model and export are small; anything big is a mistake


def test_installed_commands_work_from_any_folder(venv, tmp_path, test_audio):
    """export, run --board reference, run --board host (C built by CMake from the package data),
    frontend --impl c, embed and the HEAR module, from a folder outside the checkout."""
    import soundfile as sf

    work = tmp_path / "work"
    work.mkdir()
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["EFFICIENTAT_M4_CACHE"] = str(cache)
    python, cli = str(venv / "bin" / "python"), str(venv / "bin" / "efficientat-m4")

    def run(*cmd) -> subprocess.CompletedProcess:
        return subprocess.run([str(c) for c in cmd], cwd=work, env=env, capture_output=True, text=True, timeout=900)

    pkg = _site_package(venv)
    where = run(python, "-c", "import exporter; print(exporter.__file__); print(exporter.ROOT)")
    assert where.returncode == 0, where.stderr
    module_file, root = where.stdout.split()
    assert Path(module_file).resolve() == (pkg / "__init__.py").resolve()  # not the checkout's, not /work/main's
    assert Path(root).resolve() == (pkg / "_data").resolve()
    installed = _files(pkg)

    sf.write(work / "clip.wav", test_audio, 32000, subtype="PCM_16")
    p = run(cli, "export", "--out", "exp", "--calibration-clips", "2", "--fidelity-clips", "1")
    assert p.returncode == 0, p.stderr
    assert (work / "exp" / "network.c").is_file() and "exported mn01_trained_dev.pt" in p.stdout
    assert json.loads((work / "exp" / "manifest.json").read_text())["tool_version"] == __version__
    assert run(cli, "--version").stdout == f"efficientat-m4 {__version__}\n"
    for board in ("reference", "host"):
        p = run(python, "-m", "exporter", "run", "--board", board, "--export", "exp", "clip.wav", "--out", f"{board}.npz")
        assert p.returncode == 0, p.stderr
    ref, host = np.load(work / "reference.npz"), np.load(work / "host.npz")
    assert ref["embeddings_q"].shape == (1, 184)
    assert ref["embeddings_q"].tobytes() == host["embeddings_q"].tobytes()

    p = run(cli, "frontend", "--impl", "c", "clip.wav", "--out", "mel.npz")
    assert p.returncode == 0, p.stderr
    p = run(cli, "embed", "clip.wav", "--checkpoint", pkg / "_data" / "tests/data/mn01_trained_dev.pt", "--out", "e.npz")
    assert p.returncode == 0, p.stderr
    assert np.load(work / "mel.npz")["logmel_q"].shape[0] == 128 and np.load(work / "e.npz")["embeddings"].shape == (1, 184)
    # the HEAR module's default: the default export shipped in the package
    p = run(python, "-c", "import numpy as np, torch, exporter.hear_int8 as h\n"
                          "m = h.load_model()\n"
                          "print(m.export_dir, tuple(h.get_scene_embeddings(torch.zeros(1, 32000), m).shape))")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [str(pkg / "_data" / "firmware" / "generated"), "(1,", "184)"]

    # the developer command regenerates a checkout's firmware/generated/: refused, in one line
    for cmd in ([cli], [python, "-m", "exporter"]):
        p = run(*cmd)
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and "installed package" in p.stderr, p.stderr

    assert _files(pkg) == installed, "a command wrote into the installed package"
    assert any((cache / "build").glob("host-*/CMakeCache.txt"))  # the builds went to the user cache
    assert sorted(p.name for p in work.iterdir()) == sorted(
        ["clip.wav", "exp", "reference.npz", "host.npz", "mel.npz", "e.npz"])
