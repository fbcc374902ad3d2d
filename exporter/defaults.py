"""The project's default model configuration: what `python -m exporter` (no command) regenerates.

firmware/generated/ is the export of this configuration; change it here only.
"""

from exporter import FIRMWARE_DIR, ROOT

CHECKPOINT = ROOT / "tests" / "data" / "mn01_seed0.pt"  # mn01, seeded weights (the golden-data model)
CALIBRATION_FOLDER = None  # None: the built-in synthetic set
CALIBRATION_SEED = 0
CALIBRATION_CLIPS = 12
CALIBRATION_SECONDS = 3.0
PERCENTILE = 99.99
GENERATED_DIR = FIRMWARE_DIR / "generated"
MAX_FRAMES = (16, 1000)  # arena plans: timestamp windows (160 ms) and 10 s scene windows
