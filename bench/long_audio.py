"""Peak memory and time of `embed` and `run` on long audio (10 minutes, 1 hour).

Each command runs as `python -m exporter` would, in a fresh process, on a file of varied
synthetic sound (exporter/audio/synthetic.py: speech, music, environment, noise, mixtures,
near-silence in turn; 44.1 kHz mono 16-bit WAV, so every file is also resampled). Measured:
wall and CPU time, the process's peak resident memory (its VmHWM; QEMU's, a child, apart)
and its resident memory sampled every second from /proc (flat when memory does not grow with
the file). The QEMU and reference runs of the same file in timestamp mode are compared byte
for byte.

    python bench/long_audio.py [--minutes 10 60] [--cases embed ...] [--out reports/long_audio]
writes OUT.md and OUT.json after every command (``--cases``: only the commands whose names
contain one of the words; the results of an existing OUT.json that are not measured again are
kept). Target: <= 500 MB peak for any length.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
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

# Runs the command in this process and reports its peak memory and CPU time. The peak is the
# kernel's high-water mark of this process's memory (VmHWM), not getrusage's ru_maxrss: Linux
# carries ru_maxrss over an exec, so it would report the forking parent's size when larger.
WRAPPER = """
import json, os, resource, sys
from exporter.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as f:
    hwm_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
with open(os.environ["LONG_AUDIO_BENCH_OUT"], "w") as f:
    json.dump({"exit_code": code, "peak_rss_kb": hwm_kb,
               "cpu_seconds": me.ru_utime + me.ru_stime, "children_cpu_seconds": children.ru_utime + children.ru_stime}, f)
sys.exit(code)
"""


def write_audio(path: Path, minutes: float) -> float:
    """Varied synthetic sound, written piece by piece (never the whole file in memory): its seconds."""
    import soundfile as sf
    import soxr

    from exporter.audio import synthetic as synthetic_audio

    seconds = 0.0
    with sf.SoundFile(path, "w", samplerate=FILE_RATE, channels=1, subtype="PCM_16") as f:
        for _, x in synthetic_audio.pieces(minutes * 60, piece_seconds=30.0, stream="held-out"):
            f.write(soxr.resample(x, 32000, FILE_RATE))
            seconds += len(x) / 32000
    return seconds


def _status_mb(pid: int, field: str = "VmRSS") -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _qemu_peak_mb(pid: int) -> float | None:
    """The memory high-water mark of a QEMU child of ``pid``, if one runs."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
        for child in children:
            with open(f"/proc/{child}/comm") as f:
                if f.read().startswith("qemu-system"):
                    return _status_mb(int(child), "VmHWM")
    except OSError:
        pass
    return None


def measure(args: list[str], audio: Path, out: Path, work: Path) -> dict:
    """One command in a fresh process: time, peak memory, memory over time."""
    report = work / "rusage.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               LONG_AUDIO_BENCH_OUT=str(report))
    cmd = [sys.executable, "-c", WRAPPER, args[0], str(audio), *args[1:], "--out", str(out)]
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
        samples = []  # (seconds since start, RSS MB)
        qemu_peak = 0.0
        try:
            while proc.poll() is None:
                rss = _status_mb(proc.pid)
                if rss is not None:
                    samples.append((round(time.monotonic() - t0, 1), round(rss, 1)))
                qemu_peak = max(qemu_peak, _qemu_peak_mb(proc.pid) or 0.0)
                time.sleep(1.0)
        except BaseException:  # interrupted: the command ends too (it cleans up on SIGTERM)
            proc.terminate()
            proc.wait()
            raise
        wall = time.monotonic() - t0
        stdout.seek(0)
        stderr.seek(0)
        stdout, stderr = stdout.read(), stderr.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    usage = json.loads(report.read_text())
    rss = [mb for _, mb in samples]
    return {
        "seconds": round(wall, 1),
        "load_average": round(os.getloadavg()[0], 1),  # of the machine, over the last minute of the run
        "cpu_seconds": round(usage["cpu_seconds"] + usage["children_cpu_seconds"], 1),
        "peak_rss_mb": round(usage["peak_rss_kb"] / 1024, 1),
        "qemu_peak_rss_mb": round(qemu_peak, 1),  # sampled every second
        "rss_at_25_50_75_100_percent_mb": [rss[min(len(rss) - 1, int(q * len(rss)))] for q in (0.25, 0.5, 0.75, 0.999)]
        if rss else [],
        "rss_samples": samples,
        "output": stdout.decode().strip(),
    }


def run_bench(minutes: list[float], out: Path, cases: list[str] | None = None) -> None:
    from exporter.boards import firmware_runner

    chosen = [(name, args) for name, args in CASES if not cases or any(c in name for c in cases)]
    # Build the firmware first: the runs measure running, not compiling.
    firmware_runner.build_embedder("qemu-an386", "timestamp", defaults.GENERATED_DIR)
    # Results of an earlier report stay unless measured again; the report is written after
    # every command, so a run cut short keeps what it measured (resume with --cases).
    earlier = json.loads(out.with_suffix(".json").read_text())["results"] if out.with_suffix(".json").exists() else []
    results = []

    def save() -> None:
        again = {(r["case"], r["audio_minutes"]) for r in results}
        order = {name: i for i, (name, _) in enumerate(CASES)}
        merged = [r for r in earlier if (r["case"], r["audio_minutes"]) not in again] + results
        write_report(sorted(merged, key=lambda r: (r["audio_minutes"], order[r["case"]])), out)

    with tempfile.TemporaryDirectory(prefix="long-audio-bench-") as tmp:
        work = Path(tmp)
        for m in minutes:
            audio = work / f"{m:g}min.wav"
            t0 = time.monotonic()
            seconds = write_audio(audio, m)
            print(f"{audio.name}: {seconds:.0f} s of audio written in {time.monotonic() - t0:.0f} s", flush=True)
            outputs = {}
            for name, args in chosen:
                outputs[name] = work / f"{name.replace(' ', '_')}-{m:g}.npz"
                r = measure(args, audio, outputs[name], work)
                r.update(case=name, audio_seconds=round(seconds, 1), audio_minutes=m,
                         audio_file_mb=round(audio.stat().st_size / 2**20, 1))
                print(f"{name}, {m:g} min: {r['seconds']:.0f} s, peak {r['peak_rss_mb']:.0f} MB "
                      f"(QEMU {r['qemu_peak_rss_mb']:.0f} MB)", flush=True)
                results.append(r)
                save()
            if {"run reference timestamp", "run qemu-an386 timestamp"} <= outputs.keys():
                ref, qemu = (np.load(outputs[f"run {b} timestamp"]) for b in ("reference", "qemu-an386"))
                equal = ref["embeddings_q"].tobytes() == qemu["embeddings_q"].tobytes()
                (r,) = [r for r in results if r["case"] == "run qemu-an386 timestamp" and r["audio_minutes"] == m]
                r.update(equal_to_reference=bool(equal), embeddings=int(qemu["n_timestamps"][0]))
                print(f"qemu-an386 == reference, {m:g} min: {equal} ({int(qemu['n_timestamps'][0])} embeddings)",
                      flush=True)
                save()
            audio.unlink()


def write_report(results: list[dict], out: Path) -> None:
    report = {"host": platform.platform(), "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg(),
              "python": platform.python_version(), "target_peak_rss_mb": TARGET_MB,
              "audio": f"synthetic_audio.pieces (held-out stream, 30 s pieces), {FILE_RATE} Hz mono PCM_16 WAV",
              "model": str(defaults.CHECKPOINT.relative_to(ROOT)), "results": results}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report))


def markdown(report: dict) -> str:
    lines = [
        "# Long audio: memory and time of `embed` and `run`", "",
        f"Each command in a fresh process on {report['audio']} ({report['model']}; `run` on the shipped export "
        "`firmware/generated`). Peak memory: the process's resident high-water mark (`VmHWM`); QEMU's, a child, "
        "apart. "
        "Memory over time: resident memory sampled every second, at a quarter, half, three quarters and the "
        "end of the run. CPU time: the process's and its children's (QEMU), user and system; load: the "
        "machine's load average at the end of the run. "
        f"Target: <= {report['target_peak_rss_mb']:g} MB for any length. "
        f"Measured on {report['host']}, {report['cpus']} cores shared with other work "
        f"(load average at the end: {report['load_average_at_end'][0]:.1f}), so times are upper bounds.", "",
        "| command | audio | time | CPU time | load | peak memory | <= 500 MB | memory over the run (MB) | QEMU's peak |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["results"]:
        over = " / ".join(f"{x:.0f}" for x in r["rss_at_25_50_75_100_percent_mb"])
        qemu = f"{r['qemu_peak_rss_mb']:.0f} MB" if "qemu" in r["case"] else "-"
        cpu = f"{r['cpu_seconds']:.0f} s" if "cpu_seconds" in r else "-"
        lines.append(f"| `{r['case']}` | {r['audio_minutes']:g} min | {r['seconds']:.0f} s | {cpu} | {r.get('load_average', '-')} | "
                     f"{r['peak_rss_mb']:.0f} MB | {'yes' if r['peak_rss_mb'] <= report['target_peak_rss_mb'] else '**no**'} | "
                     f"{over} | {qemu} |")
    lines += [""]
    for r in report["results"]:
        if "equal_to_reference" in r:
            lines.append(f"- {r['audio_minutes']:g} min, timestamp mode: the {r['embeddings']:,} embeddings of "
                         f"qemu-an386 are {'equal' if r['equal_to_reference'] else '**not equal**'} to the reference "
                         "board's, byte for byte.")
    lines += ["", "What grows with the length: only the results (timestamp mode: D values per 50 ms, kept for "
              "the npz; mn01: 26 MB of int16 and 53 MB of float32 per hour, plus the per-window arrays they are "
              "gathered from), never the audio: files are read, resampled and windowed in blocks, the firmware's "
              "PCM goes to a temporary file block by block and its UART output is decoded from a file in pieces. "
              "Scene mode holds the same memory for 10 minutes and an hour.", ""]
    by = {(r["case"], r["audio_minutes"]): r for r in report["results"]}
    qemu = by.get(("run qemu-an386 timestamp", 60.0))
    bench = ROOT / "reports" / "bench.json"
    if qemu and bench.exists():
        (ts,) = [r for r in json.loads(bench.read_text())["results"]
                 if r["board"] == "qemu-an386" and r["mode"] == "timestamp"]
        instructions = qemu["embeddings"] * ts["instructions"]["total"] / ts["windows"]
        from exporter.boards import firmware_runner
        from exporter.quantization.graph import Graph

        timeout = firmware_runner.default_timeout(
            round(qemu["audio_seconds"] * 32000),
            firmware_runner.instructions_per_sample(Graph.load(defaults.GENERATED_DIR), "timestamp"))
        lines += [f"QEMU ran the hour of timestamps ({instructions / 1e9:.0f} G guest instructions at "
                  f"{ts['instructions']['total'] / ts['windows'] / 1e6:.2f} M per window, reports/bench.json) at "
                  f"{instructions / qemu['seconds'] / 1e6:.0f} M instructions per second; `run`'s timeout for it "
                  f"is {timeout / 60:.0f} minutes (exporter/boards/firmware_runner.py: `default_timeout`).", ""]
    lines += ["Before (issue 14, each file read whole): `embed` on an hour took 342 s and 1.4 GB, "
              "`run --board qemu-an386` 453 s and 2.3 GB, with a QEMU timeout of 20 hours.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    ap.add_argument("--cases", nargs="+", default=None, help="only the commands whose names contain one of these")
    ap.add_argument("--out", default=str(ROOT / "reports" / "long_audio"))
    ap.add_argument("--render", action="store_true", help="only write OUT.md again from OUT.json")
    args = ap.parse_args(argv)
    if args.render:
        out = Path(args.out)
        out.with_suffix(".md").write_text(markdown(json.loads(out.with_suffix(".json").read_text())))
        return 0
    # SIGTERM and SIGHUP as Ctrl-C: the temporary audio (300 MB for an hour) is removed.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    run_bench(args.minutes, Path(args.out), args.cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
