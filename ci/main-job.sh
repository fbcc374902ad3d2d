#!/usr/bin/env bash
# The README's main job, on a fresh machine after ci/setup.sh: make an example clip, regenerate
# the firmware's C sources, embed the clip on the emulated Cortex-M4 (QEMU mps2-an386) in both
# modes, and check the integers against the reference board (ONNX Runtime) byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/main-job}
mkdir -p "$OUT"
CLIP="$OUT/example_speech_music.wav"

echo "== example clip: $CLIP (4 s, synthetic speech-like then music-like, made by exporter/audio/example_clips.py)"
python3 - "$CLIP" <<'PY'
import sys
import numpy as np
import soundfile as sf
from exporter import SAMPLE_RATE
from exporter.audio import example_clips
x = np.concatenate([example_clips.speech_like(2.0), example_clips.music_like(2.0)])
sf.write(sys.argv[1], x, SAMPLE_RATE, subtype="PCM_16")
PY

echo "== python -m exporter (regenerates firmware/generated/)"
python3 -m exporter

for mode in scene timestamp; do
  for board in qemu-an386 reference; do
    echo "== python -m exporter run --board $board --mode $mode"
    python3 -m exporter run --board "$board" --mode "$mode" --export firmware/generated \
      "$CLIP" --out "$OUT/${board}_${mode}.npz"
  done
done

echo "== summary"
python3 - "$OUT" <<'PY'
import sys
from pathlib import Path
import numpy as np
out = Path(sys.argv[1])
ok = True
for mode in ("scene", "timestamp"):
    dev = np.load(out / f"qemu-an386_{mode}.npz")
    ref = np.load(out / f"reference_{mode}.npz")
    q, r = dev["embeddings_q"], ref["embeddings_q"]
    exact = q.dtype == r.dtype and q.shape == r.shape and np.array_equal(q, r)
    ok &= exact
    emb = dev["embeddings"]
    print(f"{mode:9s}: embeddings {tuple(emb.shape)}, |e| mean {np.abs(emb).mean():.4f}; "
          f"qemu-an386 vs reference: {'bit-exact' if exact else 'DIFFERENT'}")
sys.exit(0 if ok else 1)
PY
