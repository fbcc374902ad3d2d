"""EfficientAT MobileNetV3 audio embeddings, from float checkpoint to int8 C code for Cortex-M4."""

from pathlib import Path

#: Repository root (the package is used from an editable install / source checkout).
ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
FIRMWARE_DIR = ROOT / "firmware"

SAMPLE_RATE = 32000
"""The only sample rate the network and the frontend accept."""
