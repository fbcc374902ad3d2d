"""The PDM decimator (firmware/mic/pdm_decimate.c) built for a Cortex-M4 (arm-none-eabi-gcc,
the firmware's flags: the SMLALD path of the low-pass) and run in the unicorn emulator: for
the test that the target build equals the numpy twin bit for bit, and for its instruction
count per second of audio (bench/pdm_report.py). Needs arm-none-eabi-gcc and ``unicorn``."""

from __future__ import annotations

import numpy as np

from exporter import ROOT
from exporter.frontend.m4_program import M4Program

MAX_SAMPLES = 8000

DRIVER = rf"""
#include "pdm_decimate.h"
pdm_dec drv_dec;
uint8_t drv_in[{MAX_SAMPLES} * 8] __attribute__((aligned(4)));
int16_t drv_out[{MAX_SAMPLES}];
void drv_init(void) {{ pdm_dec_init(&drv_dec); }}
int drv_run(int offset, int n) {{
  return (int)pdm_dec_process(&drv_dec, drv_in + 8 * offset, 8u * (unsigned)n, drv_out + offset);
}}
void drv_swap(int n_halfwords) {{ pdm_i2s_halfwords_to_bytes((const uint16_t *)drv_in, (size_t)n_halfwords, drv_in); }}
"""


class PdmM4(M4Program):
    """pdm_decimate.c in unicorn; ``instructions`` counts what the calls executed."""

    def __init__(self):
        mic = ROOT / "firmware" / "mic"
        super().__init__("the PDM decimator", [mic / "pdm_decimate.c"], mic, DRIVER, entry="drv_run",
                         keep=("drv_init", "drv_swap"))
        self.call("drv_init")

    def decimate(self, data: np.ndarray, block: int = 320, i2s: bool = False) -> np.ndarray:
        """Decimate PDM bytes (or with ``i2s`` STM32 halfwords) in blocks of ``block`` samples,
        continuing the stream of earlier calls."""
        raw = np.ascontiguousarray(data).tobytes()
        n = len(raw) // 8
        if n > MAX_SAMPLES:
            raise ValueError(f"at most {MAX_SAMPLES} PCM samples per call")
        self.write("drv_in", raw)
        if i2s:
            self.call("drv_swap", n * 4)
        for off in range(0, n, block):
            self.call("drv_run", off, min(block, n - off))
        return np.frombuffer(self.read("drv_out", 2 * n), dtype="<i2").copy()
