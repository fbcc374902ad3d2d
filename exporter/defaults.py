"""The project's default model configuration: what `python -m exporter` (no command) regenerates.

firmware/generated/ is the export of this configuration; change it here only.
"""

from exporter import FIRMWARE_DIR, ROOT

CHECKPOINT = ROOT / "tests" / "data" / "mn01_trained_dev.pt"  # mn01, trained; in the wheel too (setup.py DATA)
CALIBRATION_FOLDER = None  # None: the built-in synthetic set
CALIBRATION_SEED = 0
CALIBRATION_CLIPS = 48
CALIBRATION_SECONDS = 4.0
CALIBRATION_TIMESTAMP_WINDOWS = 3  # 160 ms windows per calibration clip, beside its scene window (reports/calibration.md)
PERCENTILE = None  # None: each tensor's range by least quantization error
GENERATED_DIR = FIRMWARE_DIR / "generated"
MAX_FRAMES = (16, 1000)  # arena plans: timestamp windows (160 ms) and 10 s scene windows
