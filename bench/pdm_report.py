"""Frequency response, SNR and Cortex-M4 cost of the PDM -> PCM decimator
(firmware/mic/pdm_decimate.c, twin exporter/frontend/pdm.py).

    python bench/pdm_report.py [--out reports/pdm_decimator]

Response: from the integer coefficients (CIC x half-band x low-pass), and measured with
tones through the second-order sigma-delta model and the decimator. Cost: instructions
counted in unicorn on the Cortex-M4 build, 10 ms blocks, in steady state.
Writes OUT.md, OUT.json and OUT.png (the response plotted; needs matplotlib).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.frontend import pdm  # noqa: E402

FS = pdm.PDM_RATE


def tone_snr(freq: float, amp: float, seconds: float = 0.5, seed: int = 0) -> tuple[float, float]:
    t = np.arange(int(seconds * FS)) / FS
    y = pdm.decimate(pdm.sigma_delta(amp * np.sin(2 * np.pi * freq * t), seed=seed))[6400:].astype(np.float64)
    tt = np.arange(y.size) / pdm.PCM_RATE
    a = np.stack([np.sin(2 * np.pi * freq * tt), np.cos(2 * np.pi * freq * tt), np.ones_like(tt)], 1)
    c, *_ = np.linalg.lstsq(a, y, rcond=None)
    fit = a[:, :2] @ c[:2]
    resid = y - a @ c
    return float(20 * np.log10(np.hypot(c[0], c[1]) / 32768 / amp)), float(10 * np.log10(np.sum(fit**2) / np.sum(resid**2)))


def ideal_snr(freq: float, amp: float, seconds: float = 0.5, seed: int = 0) -> float:
    """The same modulator's SNR through an ideal filter (FFT brick wall at 16 kHz, float):
    what the modulator itself allows."""
    t = np.arange(int(seconds * FS)) / FS
    bits = np.unpackbits(pdm.sigma_delta(amp * np.sin(2 * np.pi * freq * t), seed=seed), bitorder="little")
    x = bits[: t.size] * 2.0 - 1.0
    spec = np.fft.rfft(x * np.hanning(x.size))
    f = np.fft.rfftfreq(x.size, 1 / FS)
    band = (f > 20) & (f < 16000)
    near = band & (np.abs(f - freq) < 30)
    return float(10 * np.log10(np.sum(np.abs(spec[near]) ** 2) / np.sum(np.abs(spec[band & ~near]) ** 2)))


def embedding_effect() -> list[dict]:
    """Cosine per section (dequantized, reference board, default export, scene mode) of the
    embedding of a 3 s clip at -3 dB through: the modulator and the decimator (the whole
    microphone path; the group delay of 51 samples taken out); the decimator's linear response
    alone (float, no modulator); the modulator through an ideal filter (float brick wall)."""
    from exporter.audio import example_clips
    from exporter.audio.files import to_pcm16
    from exporter.boards import reference
    from exporter.quantization.graph import Graph

    export = ROOT / "firmware" / "generated"
    graph = Graph.load(export)
    secs = [("L", slice(0, 128), 0)] + [(t["name"], slice(128 + t["offset"], 128 + t["offset"] + t["channels"]),
                                         t["zero_point"]) for t in graph.meta["taps"]]  # fmt: skip
    embed = reference.embedder("scene", export)

    def cosines(a, b):
        return {n: round(float((a[s] - z) @ (b[s] - z) / (np.linalg.norm(a[s] - z) * np.linalg.norm(b[s] - z) + 1e-12)), 4)
                for n, s, z in secs}

    rows = []
    for name, clip in (("speech-like", example_clips.speech_like(3.0)), ("music-like", example_clips.music_like(3.0))):
        x = clip.astype(np.float64) * 0.7
        ref = embed(to_pcm16(x)).astype(np.float64)
        bits = pdm.sigma_delta(pdm.upsample_to_pdm_rate(x))
        y = pdm.decimate(bits)
        y = np.concatenate([y[51:], np.zeros(51, np.int16)])
        f = np.fft.rfftfreq(x.size, 1 / pdm.PCM_RATE)
        h = 10 ** (pdm.response_db(np.maximum(f, 1.0)) / 20) * f / np.sqrt(f**2 + 5.0**2)
        linear = np.fft.irfft(np.fft.rfft(x) * h, x.size)
        pm = np.unpackbits(bits, bitorder="little")[: x.size * 64] * 2.0 - 1.0
        spec = np.fft.rfft(pm)
        spec[np.fft.rfftfreq(pm.size, 1 / FS) > 15500] = 0
        ideal = np.fft.irfft(spec, pm.size)[::64]
        for what, sig in (("modulator + decimator", y), ("decimator's response alone", to_pcm16(linear)),
                          ("modulator + ideal filter", to_pcm16(ideal))):
            rows.append({"clip": name, "path": what, "cosine": cosines(ref, embed(sig).astype(np.float64))})
    return rows


def plot(path: Path) -> None:
    """The chain's magnitude response from its integer coefficients: the whole input band on a
    log axis (everything above 16 kHz folds into the output band), and the passband."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f_all = np.geomspace(10, FS / 2, 60_000)
    f_pb = np.linspace(10, 17_000, 4000)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7.5), constrained_layout=True)
    ax1.semilogx(f_all, pdm.response_db(f_all), lw=0.8, color="C0")
    ax1.axvline(16_000, color="C3", lw=0.8, ls="--", label="16 kHz: above it, everything folds into 0-16 kHz")
    ax1.set(xlim=(10, FS / 2), ylim=(-140, 10), xlabel="input frequency (Hz)", ylabel="dB",
            title="PDM decimator 2.048 MHz -> 32 kHz: CIC sinc^4 /16, half-band /2, low-pass /2")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(loc="lower left", fontsize=8)
    r_pb = pdm.response_db(f_pb)
    ax2.plot(f_pb / 1000, r_pb, color="C0")
    ax2.axvspan(15, 16, color="C1", alpha=0.1, lw=0, label="transition 15-16 kHz")
    ax2.set(xlim=(0, 17), ylim=(-1.0, 0.5), xlabel="frequency (kHz)", ylabel="dB", title="passband (zoom)")
    ax2.grid(True, alpha=0.3)
    ax2.legend(loc="lower left", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "pdm_decimator"))
    ap.add_argument("--plot-only", action="store_true", help="write only OUT.png (seconds instead of minutes)")
    args = ap.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(out.with_suffix(".png"))
    if args.plot_only:
        return

    pb_f = np.linspace(20, 15000, 3000)
    pb = pdm.response_db(pb_f)
    st_f = np.linspace(16000, FS / 2, 400_000)
    st = pdm.response_db(st_f)
    points = [100, 1000, 4000, 8000, 12000, 14000, 15000, 15500, 16000, 17000, 20000, 32000, 48000, 112000, 128000, 144000]
    table = {f: float(pdm.response_db(np.array([f]))[0]) for f in points}
    delay_bits = (pdm.cic_taps().size - 1) / 2 + (pdm.HB_TAPS.size - 1) / 2 * 16 + (pdm.FIR_TAPS.size - 1) / 2 * 32
    tones = []
    for freq, amp in ((1000, 0.5), (1000, 0.1), (1000, 0.01), (5000, 0.5), (14000, 0.5)):
        gain, snr = tone_snr(freq, amp)
        tones.append({"freq_hz": freq, "dbfs": round(20 * np.log10(amp), 1), "gain_db": round(gain, 3),
                      "snr_db": round(snr, 1), "ideal_filter_snr_db": round(ideal_snr(freq, amp), 1)})
    rejection = []
    for freq, alias in ((17000, 15000), (20000, 12000), (30000, 2000), (120000, 8000), (250000, 6000)):
        t = np.arange(int(0.3 * FS)) / FS
        y = pdm.decimate(pdm.sigma_delta(0.5 * np.sin(2 * np.pi * freq * t)))[3200:].astype(np.float64)
        tt = np.arange(y.size) / pdm.PCM_RATE
        a = np.stack([np.sin(2 * np.pi * alias * tt), np.cos(2 * np.pi * alias * tt)], 1)
        c, *_ = np.linalg.lstsq(a, y, rcond=None)
        rejection.append({"freq_hz": freq, "alias_hz": alias,
                          "attenuation_db": round(float(20 * np.log10(np.hypot(*c) / 32768 / 0.5 + 1e-12)), 1)})

    embedding = embedding_effect()

    cost = None
    try:
        from exporter.frontend.pdm_m4 import PdmM4

        m4 = PdmM4()
        t = np.arange(8 * 1600 * 8) / FS
        data = pdm.sigma_delta(0.3 * np.sin(2 * np.pi * 440 * t[: 1600 * 64]))
        halfwords = pdm.i2s_halfwords(data).astype("<u2")
        m4.decimate(halfwords[: 4 * 320], i2s=True)  # warm-up block
        m4.instructions = 0
        m4.decimate(halfwords[4 * 320:], block=320, i2s=True)
        n = (halfwords.size - 4 * 320) // 4
        per_sample = m4.instructions / n
        cost = {"instructions_per_pcm_sample": round(per_sample, 1),
                "instructions_per_second": round(per_sample * pdm.PCM_RATE),
                "code_bytes": m4.text_bytes, "state_bytes": m4.symbol_sizes.get("drv_dec"),
                "table_bytes": m4.symbol_sizes.get("cic_tab", 0) + m4.symbol_sizes.get("fir_pairs", 0)}
    except Exception as e:  # unicorn or the toolchain missing: report without the cost
        cost = {"error": f"{type(e).__name__}: {e}"}

    report = {
        "passband_hz": [20, 15000], "passband_min_db": round(float(pb.min()), 3), "passband_max_db": round(float(pb.max()), 3),
        "stopband_from_hz": 16000, "stopband_max_db": round(float(st.max()), 1),
        "stopband_max_at_hz": round(float(st_f[np.argmax(st)])),
        "group_delay_ms": round(delay_bits / FS * 1000, 3), "group_delay_pcm_samples": round(delay_bits / 64, 2),
        "response_db": {str(k): round(v, 2) for k, v in table.items()},
        "tones": tones, "out_of_band": rejection, "m4_cost": cost, "embedding": embedding,
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(out.with_suffix(".md").read_text())


def markdown(r: dict) -> str:
    c = r["m4_cost"]
    lines = [
        "# PDM -> PCM decimator (firmware/mic/pdm_decimate.c)", "",
        "Written by `python bench/pdm_report.py`. 1-bit PDM at 2.048 MHz -> int16 at 32 kHz: CIC sinc^4 /16 "
        "(byte tables) -> half-band 23 taps /2 -> low-pass 191 taps /2 (CIC droop compensated) -> DC blocker "
        "(-3 dB at 5 Hz). Every stage is integer arithmetic; the C and exporter/frontend/pdm.py agree bit for bit "
        "(tests/test_pdm.py, host build and Cortex-M4 build).", "",
        "## Response (from the integer coefficients)", "",
        "![magnitude response](pdm_decimator.png)", "",
        f"- passband {r['passband_hz'][0]} Hz - {r['passband_hz'][1]} Hz: {r['passband_min_db']:+.3f} .. "
        f"{r['passband_max_db']:+.3f} dB",
        f"- stopband from {r['stopband_from_hz']} Hz to 1.024 MHz: at most {r['stopband_max_db']} dB "
        f"(worst at {r['stopband_max_at_hz']} Hz)",
        f"- group delay (linear phase): {r['group_delay_ms']} ms = {r['group_delay_pcm_samples']} samples at 32 kHz",
        "", "| frequency (Hz) | " + " | ".join(r["response_db"]) + " |",
        "| --- | " + " | ".join("---" for _ in r["response_db"]) + " |",
        "| dB | " + " | ".join(f"{v:.2f}" for v in r["response_db"].values()) + " |", "",
        "## Measured through a sigma-delta modulator", "",
        "PDM from a second-order error-feedback modulator (exporter/frontend/pdm.py `sigma_delta`, NTF (1 - z^-1)^2), "
        "decimated by the twin. SNR: tone against everything else from 20 Hz to 16 kHz; the last column is the "
        "same PDM through an ideal float brick wall at 16 kHz (the modulator's own limit).", "",
        "| tone | level | gain | SNR | ideal filter SNR |", "| --- | --- | --- | --- | --- |",
    ]
    for t in r["tones"]:
        lines.append(f"| {t['freq_hz']} Hz | {t['dbfs']} dBFS | {t['gain_db']:+.3f} dB | {t['snr_db']} dB | "
                     f"{t['ideal_filter_snr_db']} dB |")
    lines += ["", "Out-of-band tones (-6 dBFS) and what is left of them at their alias frequency:", "",
              "| tone | alias at 32 kHz | attenuation |", "| --- | --- | --- |"]
    for t in r["out_of_band"]:
        lines.append(f"| {t['freq_hz']} Hz | {t['alias_hz']} Hz | {t['attenuation_db']} dB |")
    lines += ["", "## The embedding of decimated PDM", "",
              "Cosine per section (dequantized int8 embedding, reference board, default export, scene mode) "
              "against the embedding of the original PCM, 3 s clips at 0.7 x their level. The loss comes "
              "from the second-order modulator model's noise (third row), not from the decimator (second "
              "row); a MEMS microphone's fourth-order modulator has a lower in-band noise floor.", ""]
    names = list(r["embedding"][0]["cosine"])
    lines += ["| clip | path | " + " | ".join(names) + " |", "| --- | --- | " + " | ".join("---" for _ in names) + " |"]
    for e in r["embedding"]:
        lines.append(f"| {e['clip']} | {e['path']} | " + " | ".join(f"{v:.4f}" for v in e["cosine"].values()) + " |")
    lines += ["", "## Cost on the Cortex-M4", ""]
    if "error" in c:
        lines.append(f"not measured: {c['error']}")
    else:
        lines += [f"- {c['instructions_per_pcm_sample']} instructions per PCM sample, "
                  f"**{c['instructions_per_second'] / 1e6:.2f} M instructions per second** of audio "
                  f"({c['instructions_per_second'] / 168e6 * 100:.1f} % of an STM32F407 at 168 MHz at one "
                  "instruction per cycle), halfword reordering included",
                  f"- code {c['code_bytes']} B (with the driver), state {c['state_bytes']} B, tables in RAM "
                  f"{c['table_bytes']} B (CIC byte tables 4 KiB + the low-pass taps as word pairs)"]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
