"""Packaging hook: the wheel carries what the commands need besides the Python code.

The templates, the C sources, the CMake project and the default checkpoint stay where they are
in the repository; build_py copies them into the package as exporter/_data/ with the same
relative paths, where exporter/__init__.py finds them in an installed wheel (ROOT). Editable
installs use the repository itself and get no copy. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# Relative to the repository root; MANIFEST.in lists the same for the sdist. The checkpoint is
# exporter/defaults.py's CHECKPOINT; firmware/ includes generated/, the default export.
DATA = ["CMakeLists.txt", "CMakePresets.json", "cmake", "firmware", "templates", "tests/data/mn01_trained_dev.pt"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "build", ".*")


class build_py_with_data(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "exporter" / "_data"
        shutil.rmtree(target, ignore_errors=True)  # nothing stale from an earlier build
        for rel in DATA:
            src, dst = HERE / rel, target / rel
            if not src.exists():  # a wheel without it would fail only when a command runs
                raise SystemExit(f"setup.py: {src} is missing (an sdist without MANIFEST.in's files?)")
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, ignore=IGNORE)
            else:
                shutil.copy2(src, dst)


setup(cmdclass={"build_py": build_py_with_data})
