"""Run the C frontend on the host (firmware/host/logmel_cli.c): build it with
freshly rendered tables and stream PCM through it, optionally dumping every stage."""

from __future__ import annotations

import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from exporter import build_root as default_build_root, subproc
from exporter.frontend import tables as tb
from exporter.frontend.fixed import clip_too_short
from exporter.frontend.render import render_frontend

# stage dumps of logmel_cli: name -> element type (logmel.h, LOGMEL_STAGE_*)
STAGES = {
    "fft": np.int32,
    "power": np.uint64,
    "mel": np.uint64,
    "log": np.int32,
}


@lru_cache(maxsize=None)
def build_cli(build_root: Path | None = None) -> Path:
    """Render the tables into <build root>/frontend-generated and build logmel_cli; returns its path."""
    from exporter.boards.cmake_build import build

    gen = (build_root or default_build_root()) / "frontend-generated"
    render_frontend(gen)
    build_dir = build(board="host", generated_dir=gen, targets=["logmel_cli"], build_root=build_root)
    exe = build_dir / "firmware" / "host" / "logmel_cli"
    if not exe.is_file():
        raise RuntimeError(f"build finished but {exe} is missing")
    return exe


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subproc.run([str(build_cli()), *args], text=True)


def logmel_q12_c(pcm16: np.ndarray, block: int = 320, with_stages: bool = False):
    """Frames int16 [T, 128] (and the mean int16 [128], and with ``with_stages`` a dict of
    stage arrays [T, ...]) from the C code, pushing ``block`` samples at a time."""
    pcm16 = np.ascontiguousarray(pcm16, dtype=np.int16)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        pcm16.tofile(d / "in.pcm")
        args = ["frames", str(d / "in.pcm"), str(block), str(d / "frames.bin")]
        if with_stages:
            args.append(str(d / "st"))
        proc = _run(args)
        if proc.returncode == 3:
            raise clip_too_short(pcm16.size)
        if proc.returncode != 0:
            raise RuntimeError(f"logmel_cli failed ({proc.returncode}): {proc.stderr.strip()}")
        frames = np.fromfile(d / "frames.bin", dtype=np.int16).reshape(-1, tb.N_MELS)
        mean = np.fromfile(d / "frames.bin.mean", dtype=np.int16)
        if not with_stages:
            return frames, mean
        stages = {
            name: np.fromfile(d / f"st.{name}.bin", dtype=dt).reshape(frames.shape[0], -1)
            for name, dt in STAGES.items()
        }
        return frames, mean, stages


def mean_c(sums: np.ndarray, n_frames: int) -> np.ndarray:
    """logmel_mean_q12 of int32 [128] sums over ``n_frames`` frames."""
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        np.ascontiguousarray(sums, dtype=np.int32).tofile(d / "in.bin")
        proc = _run(["mean", str(d / "in.bin"), str(n_frames), str(d / "out.bin")])
        if proc.returncode != 0:
            raise RuntimeError(f"logmel_cli mean failed: {proc.stderr.strip()}")
        return np.fromfile(d / "out.bin", dtype=np.int16)


def map_c(kind: str, values: np.ndarray) -> np.ndarray:
    """``round``: int32 Q24 -> int16 Q12 (logmel_round_q12); ``log``: uint64 -> int32 Q24
    (logmel_log_q24)."""
    in_dt, out_dt = {"round": (np.int32, np.int16), "log": (np.uint64, np.int32)}[kind]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        np.ascontiguousarray(values, dtype=in_dt).tofile(d / "in.bin")
        proc = _run([kind, str(d / "in.bin"), str(d / "out.bin")])
        if proc.returncode != 0:
            raise RuntimeError(f"logmel_cli {kind} failed: {proc.stderr.strip()}")
        return np.fromfile(d / "out.bin", dtype=out_dt)


@lru_cache(maxsize=None)
def build_pdm_cli(build_root: Path | None = None) -> Path:
    """Build the PDM decimator's host program (firmware/mic/pdm_cli.c); returns its path."""
    from exporter.boards.cmake_build import build

    exe = build(board="host", targets=["pdm_cli"], build_root=build_root) / "firmware" / "mic" / "pdm_cli"
    if not exe.is_file():
        raise RuntimeError(f"build finished but {exe} is missing")
    return exe


def pdm_decimate_file_c(path: str | Path, chunk: int = 320) -> np.ndarray:
    """int16 PCM at 32 kHz from a file of PDM bytes, by the C decimator (``chunk`` samples per call)."""
    proc = subprocess.run([str(build_pdm_cli()), str(path), str(chunk)], capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pdm_cli failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}")
    return np.frombuffer(proc.stdout, dtype="<i2").astype(np.int16)
