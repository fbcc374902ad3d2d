"""EfficientAT MobileNetV3 audio embeddings, from float checkpoint to int8 C code for Cortex-M4."""

import os
from pathlib import Path

__version__ = "0.1.0"
"""The tool's version (pyproject.toml reads it from here); export folders record it (manifest.py)."""

PACKAGE_DIR = Path(__file__).resolve().parent
_BUNDLED = PACKAGE_DIR / "_data"

#: True in an installed wheel: the templates, C sources, CMake project and default checkpoint
#: are then a copy inside the package (setup.py makes it), which must never be written to.
INSTALLED = _BUNDLED.is_dir()

#: The root of the repository's layout (CMakeLists.txt, cmake/, firmware/, templates/, the
#: default checkpoint in tests/data/): the repository itself in a source checkout or an editable
#: install, the package's copy in an installed wheel. Paths below it are the same in both.
ROOT = _BUNDLED if INSTALLED else PACKAGE_DIR.parent
TEMPLATES_DIR = ROOT / "templates"
FIRMWARE_DIR = ROOT / "firmware"

SAMPLE_RATE = 32000
"""The only sample rate the network and the frontend accept."""


def build_root() -> Path:
    """Where CMake build folders go: ``build/`` of a writable checkout, else the user cache
    (``$EFFICIENTAT_M4_CACHE``, default ``~/.cache/efficientat-m4``), never site-packages."""
    if not INSTALLED and os.access(ROOT, os.W_OK):
        return ROOT / "build"
    from exporter.float_model.checkpoint import cache_dir

    return cache_dir() / "build"
