"""Response, a tone's SNR and the Cortex-M4 cost of the nRF52840-DK's microphone path: the
126/125 resampler (firmware/mic/resample_126_125.c) and the I2S conversion before it
(firmware/mic/i2s_pcm.c); twins in exporter/frontend/resample.py.

    python bench/resample_report.py [--out reports/resampler]

Response: from the integer taps (the prototype low-pass at the input side). Cost: instructions
counted in unicorn on the Cortex-M4 build, 10 ms blocks (320 I2S samples) as the interrupt
gets them, one second of audio. Writes OUT.md, OUT.json and OUT.png (needs matplotlib).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.frontend import resample as rs  # noqa: E402


def tone(freq: float, amp: float) -> dict:
    """A tone sampled at 31,746 Hz (int16), resampled: its level and SNR at 32 kHz."""
    n = 32_000
    x = np.round(amp * 32767 * np.sin(2 * np.pi * freq * np.arange(n) / rs.IN_RATE)).astype(np.int16)
    y = rs.resample(x)[400:].astype(np.float64)
    t = (np.arange(y.size) + 400) / rs.OUT_RATE
    a = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], 1)
    c, *_ = np.linalg.lstsq(a, y, rcond=None)
    fit = a @ c
    return {"freq_hz": freq, "dbfs": round(20 * np.log10(amp), 1),
            "gain_db": round(float(20 * np.log10(np.hypot(*c) / (amp * 32767))), 4),
            "snr_db": round(float(10 * np.log10(np.sum(fit**2) / np.sum((y - fit) ** 2))), 1)}


def plot(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = np.linspace(0, 64_000, 6401)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), constrained_layout=True)
    ax1.plot(f / 1000, rs.response_db(f), color="C0", lw=0.9)
    ax1.axvline(rs.IN_RATE / 2000, color="C3", ls="--", lw=0.8, label="15.87 kHz: the input's Nyquist frequency")
    ax1.set(xlim=(0, 64), ylim=(-130, 5), xlabel="frequency (kHz)", ylabel="dB",
            title="126/125 resampler (31,746 -> 32,000 Hz): prototype low-pass, 126 phases x 48 taps, Q14")
    ax1.grid(True, alpha=0.3)
    ax1.legend(loc="upper right", fontsize=8)
    fz = np.linspace(0, 16_000, 3201)
    ax2.plot(fz / 1000, rs.response_db(fz), color="C0")
    ax2.set(xlim=(0, 16), ylim=(-3, 0.5), xlabel="frequency (kHz)", ylabel="dB", title="passband (zoom)")
    ax2.grid(True, alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "resampler"))
    args = ap.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(out.with_suffix(".png"))

    points = [100, 1000, 5000, 10000, 12000, 14000, 15000, 15500, 15873, 16500, 17000, 17500, 18000, 20000, 30000]
    report = {
        "response_db": {str(f): round(float(rs.response_db(np.array([float(f)]))[0]), 3) for f in points},
        "passband_0_14khz_db": [round(float(v), 4) for v in (rs.response_db(np.linspace(0, 14000, 1401)).min(),
                                                             rs.response_db(np.linspace(0, 14000, 1401)).max())],
        "stopband_from_17500_hz_max_db": round(float(rs.response_db(np.linspace(17500, 500_000, 50_000)).max()), 1),
        "group_delay_input_samples": (rs.L * rs.taps().shape[1] - 1) / 2 / rs.L,
        "tones": [tone(f, a) for f, a in ((1000, 0.5), (1000, 0.05), (5000, 0.5), (12000, 0.5), (14000, 0.5))],
    }
    try:
        from exporter.frontend.resample_m4 import ResamplerM4

        m4 = ResamplerM4()
        rng = np.random.default_rng(0)
        x = rng.integers(-20000, 20000, 31_746).astype(np.int16)
        y = m4.resample(x)
        rs_only = m4.instructions
        words = (x.astype(np.int32) << 8) + rng.integers(0, 256, x.size).astype(np.int32)
        y2 = m4.resample(words, i2s=True)
        report["m4_cost"] = {
            "resampler_instructions_per_output": round(rs_only / y.size, 1),
            "resampler_instructions_per_second": round(rs_only / y.size * 32_000),
            "i2s_dsp_instructions_per_output": round(m4.instructions / y2.size, 1),
            "i2s_dsp_instructions_per_second": round(m4.instructions / y2.size * 32_000),
            "code_bytes": m4.symbol_sizes.get("rs126_process", 0) + m4.symbol_sizes.get("i2s_pcm_process", 0),
            "taps_bytes": m4.symbol_sizes.get("rs_taps"), "state_bytes": m4.symbol_sizes.get("drv_rs"),
        }
    except Exception as e:  # unicorn or the toolchain missing: report without the cost
        report["m4_cost"] = {"error": f"{type(e).__name__}: {e}"}
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(out.with_suffix(".md").read_text())


def markdown(r: dict) -> str:
    c = r["m4_cost"]
    lines = [
        "# 126/125 resampler (firmware/mic/resample_126_125.c)", "",
        "Written by `python bench/resample_report.py`. The nRF52840-DK's I2S gives 32 MHz / 21 / 48 = 31,746.03 Hz; "
        "this resamples it to 32,000 Hz (x 126 / 125 exactly): 126 phases of a 48-tap polyphase low-pass "
        "(Kaiser-windowed sinc cut off at 15.87 kHz, Q14, each phase summing to 16384; bench/resample_design.py), "
        "one output per input and two every 125th. Integer arithmetic; the C and exporter/frontend/resample.py "
        "agree bit for bit (tests/test_resample.py, host build and Cortex-M4 build). Its effect on the "
        "embedding: reports/mic_rate_effect.md.", "",
        "![magnitude response](resampler.png)", "",
        "## Response (from the integer taps)", "",
        f"- 0 - 14 kHz: {r['passband_0_14khz_db'][0]:+.4f} .. {r['passband_0_14khz_db'][1]:+.4f} dB",
        f"- from 17.5 kHz (images that would fold below 14.5 kHz): at most {r['stopband_from_17500_hz_max_db']} dB",
        f"- group delay: {r['group_delay_input_samples']:.2f} input samples "
        f"({r['group_delay_input_samples'] / rs.IN_RATE * 1000:.3f} ms)", "",
        "| frequency (Hz) | " + " | ".join(r["response_db"]) + " |",
        "| --- | " + " | ".join("---" for _ in r["response_db"]) + " |",
        "| dB | " + " | ".join(f"{v:.2f}" for v in r["response_db"].values()) + " |", "",
        "## Tones", "",
        "int16 tones sampled at 31,746 Hz, resampled; level and SNR (the tone against everything else) at 32 kHz. "
        "The SNR's limit is the Q14 taps' rounding (an int16 input alone allows ~92 dB at -6 dBFS); the "
        "ICS-43434's own SNR is 65 dB.", "",
        "| tone | level | gain | SNR |", "| --- | --- | --- | --- |",
    ]
    lines += [f"| {t['freq_hz']} Hz | {t['dbfs']} dBFS | {t['gain_db']:+.4f} dB | {t['snr_db']} dB |" for t in r["tones"]]
    lines += ["", "## Cost on the Cortex-M4", ""]
    if "error" in c:
        lines.append(f"not measured: {c['error']}")
    else:
        lines += [f"- resampler: {c['resampler_instructions_per_output']} instructions per output sample, "
                  f"**{c['resampler_instructions_per_second'] / 1e6:.2f} M instructions per second** of audio",
                  f"- the I2S interrupt's whole DSP (24 -> 16 bits, DC blocker, resampler): "
                  f"{c['i2s_dsp_instructions_per_output']} per output sample, "
                  f"**{c['i2s_dsp_instructions_per_second'] / 1e6:.2f} M per second** "
                  f"({c['i2s_dsp_instructions_per_second'] / 64e6 * 100:.1f} % of an nRF52840 at 64 MHz at one "
                  "instruction per cycle)",
                  f"- code {c['code_bytes']} B, taps {c['taps_bytes']:,} B (flash), state {c['state_bytes']} B"]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
