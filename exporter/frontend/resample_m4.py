"""The 126/125 resampler (firmware/mic/resample_126_125.c) built for a Cortex-M4 (the
firmware's flags: the SMLAD path) and run in the unicorn emulator: for the test that the
target build equals the numpy twin bit for bit, and for its instruction count per second
(bench/resample_report.py). Needs arm-none-eabi-gcc and ``unicorn``."""

from __future__ import annotations

import numpy as np

from exporter import FIRMWARE_DIR
from exporter.frontend.m4_program import M4Program

MAX_IN = 40_000

DRIVER = rf"""
#include "i2s_pcm.h"
#include "resample_126_125.h"
rs126 drv_rs;
i2s_pcm drv_pcm;
int32_t drv_words[{MAX_IN}];
int16_t drv_in[{MAX_IN}];
int16_t drv_out[RS126_MAX_OUT({MAX_IN})];
unsigned drv_n_out;
void drv_init(void) {{ rs126_init(&drv_rs); i2s_pcm_init(&drv_pcm); drv_n_out = 0; }}
int drv_run(int offset, int n) {{
  size_t m = rs126_process(&drv_rs, drv_in + offset, (size_t)n, drv_out + drv_n_out);
  drv_n_out += (unsigned)m;
  return (int)m;
}}
/* the nRF52840-DK's I2S interrupt's DSP: words -> int16 -> resampled */
int drv_i2s(int offset, int n) {{
  i2s_pcm_process(&drv_pcm, drv_words + offset, (size_t)n, drv_in + offset);
  return drv_run(offset, n);
}}
"""


class ResamplerM4(M4Program):
    """resample_126_125.c in unicorn; ``instructions`` counts what the calls executed."""

    def __init__(self):
        mic = FIRMWARE_DIR / "mic"
        super().__init__("the resampler", [mic / "resample_126_125.c", mic / "i2s_pcm.c"], mic, DRIVER,
                         entry="drv_run", keep=("drv_init", "drv_i2s"))
        self.call("drv_init")
        self.instructions = 0

    def resample(self, x: np.ndarray, block: int = 320, i2s: bool = False) -> np.ndarray:
        """Resample int16 ``x`` (a fresh stream) in blocks of ``block`` inputs, like the
        nRF52840-DK's I2S buffers; with ``i2s``, ``x`` is int32 I2S words taken through
        i2s_pcm first (the whole interrupt's DSP)."""
        x = np.ascontiguousarray(x, dtype="<i4" if i2s else "<i2")
        if x.size > MAX_IN:
            raise ValueError(f"at most {MAX_IN} samples")
        self.call("drv_init")
        self.instructions = 0
        self.write("drv_words" if i2s else "drv_in", x.tobytes())
        total = 0
        for off in range(0, x.size, block):
            total += self.call("drv_i2s" if i2s else "drv_run", off, min(block, x.size - off))
        return np.frombuffer(self.read("drv_out", 2 * total), dtype="<i2").copy()
