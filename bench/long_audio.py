"""Peak memory and time of `embed` and `run` on long audio (10 minutes, 1 hour).

Each command runs as `python -m exporter` would, in a fresh process, on a file of varied
synthetic sound (exporter/synthetic_audio.py: speech, music, environment, noise, mixtures,
near-silence in turn; 44.1 kHz mono 16-bit WAV, so every file is also resampled). Measured:
wall time, the process's peak resident memory (getrusage ru_maxrss of the process itself;
its children, QEMU, separately) and its resident memory sampled every second from /proc
(flat when memory does not grow with the file). The QEMU and reference runs of the same file
in timestamp mode are compared byte for byte.

    python bench/long_audio.py [--minutes 10 60] [--out reports/long_audio]
writes OUT.md and OUT.json. Target: <= 500 MB peak for any length.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter import defaults  # noqa: E402

TARGET_MB = 500.0
FILE_RATE = 44100
# (name, arguments after the audio file): the commands of the issue, on the default model.
CASES = [
    ("embed scene", ["embed", "--checkpoint", str(defaults.CHECKPOINT), "--mode", "scene"]),
    ("embed timestamp", ["embed", "--checkpoint", str(defaults.CHECKPOINT), "--mode", "timestamp"]),
    ("run reference scene", ["run", "--board", "reference", "--export", str(defaults.GENERATED_DIR), "--mode", "scene"]),
    ("run reference timestamp", ["run", "--board", "reference", "--export", str(defaults.GENERATED_DIR),
                                 "--mode", "timestamp"]),
    ("run qemu-an386 timestamp", ["run", "--board", "qemu-an386", "--export", str(defaults.GENERATED_DIR),
                                  "--mode", "timestamp"]),
]

# Runs the command in this process and reports its own and its children's peak memory.
WRAPPER = """
import json, os, resource, sys
from exporter.cli import main
code = main(sys.argv[1:])
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(os.environ["LONG_AUDIO_BENCH_OUT"], "w") as f:
    json.dump({"exit_code": code, "peak_rss_kb": self_kb, "children_peak_rss_kb": children_kb}, f)
sys.exit(code)
"""


def write_audio(path: Path, minutes: float) -> float:
    """Varied synthetic sound, written piece by piece (never the whole file in memory): its seconds."""
    import soundfile as sf
    import soxr

    from exporter import synthetic_audio

    seconds = 0.0
    with sf.SoundFile(path, "w", samplerate=FILE_RATE, channels=1, subtype="PCM_16") as f:
        for _, x in synthetic_audio.pieces(minutes * 60, piece_seconds=30.0, stream="held-out"):
            f.write(soxr.resample(x, 32000, FILE_RATE))
            seconds += len(x) / 32000
    return seconds


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure(args: list[str], audio: Path, out: Path, work: Path) -> dict:
    """One command in a fresh process: time, peak memory, memory over time."""
    report = work / "rusage.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               LONG_AUDIO_BENCH_OUT=str(report))
    cmd = [sys.executable, "-c", WRAPPER, args[0], str(audio), *args[1:], "--out", str(out)]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    samples = []  # (seconds since start, RSS MB)
    while proc.poll() is None:
        rss = _rss_mb(proc.pid)
        if rss is not None:
            samples.append((round(time.monotonic() - t0, 1), round(rss, 1)))
        time.sleep(1.0)
    wall = time.monotonic() - t0
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    usage = json.loads(report.read_text())
    rss = [mb for _, mb in samples]
    return {
        "seconds": round(wall, 1),
        "peak_rss_mb": round(usage["peak_rss_kb"] / 1024, 1),
        "children_peak_rss_mb": round(usage["children_peak_rss_kb"] / 1024, 1),
        "rss_at_25_50_75_100_percent_mb": [rss[min(len(rss) - 1, int(q * len(rss)))] for q in (0.25, 0.5, 0.75, 0.999)]
        if rss else [],
        "rss_samples": samples,
        "output": stdout.decode().strip(),
    }


def run_bench(minutes: list[float], out: Path) -> dict:
    from exporter import firmware_runner

    # Build the firmware first: the runs measure running, not compiling.
    firmware_runner.build_embedder("qemu-an386", "timestamp", defaults.GENERATED_DIR)
    results = []
    with tempfile.TemporaryDirectory(prefix="long-audio-bench-") as tmp:
        work = Path(tmp)
        for m in minutes:
            audio = work / f"{m:g}min.wav"
            t0 = time.monotonic()
            seconds = write_audio(audio, m)
            print(f"{audio.name}: {seconds:.0f} s of audio written in {time.monotonic() - t0:.0f} s", flush=True)
            outputs = {}
            for name, args in CASES:
                outputs[name] = work / f"{name.replace(' ', '_')}-{m:g}.npz"
                r = measure(args, audio, outputs[name], work)
                r.update(case=name, audio_seconds=round(seconds, 1), audio_minutes=m,
                         audio_file_mb=round(audio.stat().st_size / 2**20, 1))
                print(f"{name}, {m:g} min: {r['seconds']:.0f} s, peak {r['peak_rss_mb']:.0f} MB "
                      f"(children {r['children_peak_rss_mb']:.0f} MB)", flush=True)
                results.append(r)
            ref, qemu = (np.load(outputs[f"run {b} timestamp"]) for b in ("reference", "qemu-an386"))
            equal = ref["embeddings_q"].tobytes() == qemu["embeddings_q"].tobytes()
            results[-1]["equal_to_reference"] = bool(equal)
            results[-1]["embeddings"] = int(qemu["n_timestamps"][0])
            print(f"qemu-an386 == reference, {m:g} min: {equal} ({int(qemu['n_timestamps'][0])} embeddings)", flush=True)
            audio.unlink()
    report = {"host": platform.platform(), "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg(),
              "python": platform.python_version(), "target_peak_rss_mb": TARGET_MB,
              "audio": f"synthetic_audio.pieces (held-out stream, 30 s pieces), {FILE_RATE} Hz mono PCM_16 WAV",
              "model": str(defaults.CHECKPOINT.relative_to(ROOT)), "results": results}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    return report


def markdown(report: dict) -> str:
    lines = [
        "# Long audio: memory and time of `embed` and `run`", "",
        f"Each command in a fresh process on {report['audio']} ({report['model']}; `run` on the shipped export "
        "`firmware/generated`). Peak memory: the process's own `ru_maxrss`; QEMU's, a child, apart. "
        "Memory over time: resident memory sampled every second, at a quarter, half, three quarters and the "
        f"end of the run. Target: <= {report['target_peak_rss_mb']:g} MB for any length. "
        f"Measured on {report['host']}, {report['cpus']} cores shared with other work "
        f"(load average at the end: {report['load_average_at_end'][0]:.1f}), so times are upper bounds.", "",
        "| command | audio | time | peak memory | <= 500 MB | memory over the run (MB) | children's peak (QEMU) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["results"]:
        over = " / ".join(f"{x:.0f}" for x in r["rss_at_25_50_75_100_percent_mb"])
        children = f"{r['children_peak_rss_mb']:.0f} MB" if "qemu" in r["case"] else "-"
        lines.append(f"| `{r['case']}` | {r['audio_minutes']:g} min | {r['seconds']:.0f} s | "
                     f"{r['peak_rss_mb']:.0f} MB | {'yes' if r['peak_rss_mb'] <= report['target_peak_rss_mb'] else '**no**'} | "
                     f"{over} | {children} |")
    lines += [""]
    for r in report["results"]:
        if "equal_to_reference" in r:
            lines.append(f"- {r['audio_minutes']:g} min, timestamp mode: the {r['embeddings']:,} embeddings of "
                         f"qemu-an386 are {'equal' if r['equal_to_reference'] else '**not equal**'} to the reference "
                         "board's, byte for byte.")
    lines += ["", "What grows with the length: only the results (timestamp mode: D values per 50 ms, kept for "
              "the npz; mn01: 26 MB of int16 and 53 MB of float32 per hour), never the audio: files are read, "
              "resampled and windowed in blocks, the firmware's PCM goes to a temporary file block by block "
              "and its UART output is decoded from a file in pieces.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    ap.add_argument("--out", default=str(ROOT / "reports" / "long_audio"))
    args = ap.parse_args(argv)
    run_bench(args.minutes, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
