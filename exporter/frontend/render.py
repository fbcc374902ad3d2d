"""Render the frontend's integer tables (tables.py) into C: logmel_tables.{h,c}."""

from __future__ import annotations

from pathlib import Path

import jinja2
import numpy as np

from exporter import TEMPLATES_DIR
from exporter.frontend import tables as tb
from exporter.manifest import version_number

TEMPLATES = ("logmel_tables.h.j2", "logmel_tables.c.j2")


def _context() -> dict:
    t = tb.tables()
    ints = lambda a: [int(v) for v in a]  # noqa: E731
    return {
        "tool_version_num": version_number(),
        "n_fft": tb.N_FFT,
        "win": tb.WIN,
        "min_y": tb.MIN_Y,
        "preemph_q15": tb.PREEMPH_Q15,
        "bin_lo": t.bin_lo,
        "bin_hi": t.bin_hi,
        "mel_w_bits": tb.MEL_W_BITS,
        "mel_floor": t.mel_floor,
        "mel_exp": tb.MEL_EXP,
        "log_frac_bits": tb.LOG_FRAC_BITS,
        "log_index_bits": tb.LOG_INDEX_BITS,
        "out_frac_bits": tb.OUT_FRAC_BITS,
        "n_segments": len(t.seg_first) - 1,
        "n_mels": tb.N_MELS,
        "r8_c_q31": tb.RADIX8_C_Q31,
        "n_log_frac": len(t.log_frac),
        "stage1": ints(tb.stage1_table()),
        "twiddle3": [(int(c), int(s)) for c, s in t.twiddle_q31[tb.radix4_twiddle_index(tb.RADIX4_SPANS[1:])]],
        # byte offsets into the FFT buffer: of Z[k] (power of bin k) | mel weight << 16,
        # k = bin_lo..bin_hi; post-processing, j = bin_lo..256: the offsets of the pair
        # Z[j] | Z[512-j] << 16 (as int32), then W_1024^j (cos, sin)
        "bin_entry": ints(8 * t.fft_perm[t.bin_lo : t.bin_hi + 1] | t.seg_weight << 16),
        "post": [
            (int(np.int32(np.uint32(8 * t.fft_perm[j] | (8 * t.fft_perm[512 - j]) << 16))), *map(int, t.twiddle_q31[j]))
            for j in range(t.bin_lo, 257)
        ],
        "seg_len": ints(np.append(np.diff(t.seg_first), 0)),  # then 0: the end, for the M4 mel loop
        "log_exp": ints(t.log_exp),
        "log_frac": ints(t.log_frac),
    }


def render_frontend(out_dir: str | Path) -> list[Path]:
    """Write logmel_tables.h and logmel_tables.c into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    ctx = _context()
    written = []
    for name in TEMPLATES:
        path = out_dir / name[: -len(".j2")]
        path.write_text(env.get_template(name).render(**ctx))
        written.append(path)
    return written
