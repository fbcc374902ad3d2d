"""Build the embedding firmware (or its host twin), run it on a clip, decode its UART output.

Shared by the `host`, `qemu-an386` and `qemu-netduinoplus2` boards and by the benchmark.
The clip goes in as raw int16 (the board's microphone reads it: a file on the host,
semihosting in QEMU); the embeddings come back as protocol frames
(exporter/uart_protocol.py) on standard output (QEMU: `-serial stdio`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporter import SAMPLE_RATE, cmake_build, subproc
from exporter import uart_protocol as up
from exporter.errors import UserError
from exporter.windows import TS_HOP

# board -> (QEMU machine, -icount shift that makes the board's counter count instructions)
QEMU_MACHINES = {"qemu-an386": ("mps2-an386", 10), "qemu-netduinoplus2": ("netduinoplus2", 0)}
BOARDS = ("host", *QEMU_MACHINES)
MODES = ("scene", "timestamp")


# Bytes of SRAM the network's arena may take on each board: netduinoplus2 is linked for the
# 128 KiB of a real STM32F405/407, of which the stack takes 8 KiB and the frontend 12 KiB
# (the linker has the last word).
ARENA_BUDGET = {"host": None, "qemu-an386": 3 * 1024 * 1024, "qemu-netduinoplus2": 108 * 1024}
TIMESTAMP_FRAMES = 16  # a 160 ms window
SCENE_FRAMES = 1000  # a 10 s window


def choose_max_frames(board: str, mode: str, export_dir: Path) -> int:
    """NET_MAX_FRAMES for (board, mode): one of the export's arena plans (network_plan.json).

    Timestamp windows need 16 frames. Scene windows want 1000 (10 s); where that arena does
    not fit, the largest plan that does, which bounds the scene clips the board accepts.
    """
    import json

    plan_file = Path(export_dir) / "network_plan.json"
    if not plan_file.exists():
        raise UserError(f"{export_dir} is not a complete export folder: {plan_file} is missing")
    try:
        plans = {int(k): v["arena_bytes"] for k, v in json.loads(plan_file.read_text())["plans"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{plan_file} is damaged ({type(e).__name__}: {e}): export again") from None
    want = TIMESTAMP_FRAMES if mode == "timestamp" else SCENE_FRAMES
    budget = ARENA_BUDGET[board]
    fits = sorted(f for f, size in plans.items() if budget is None or size <= budget)
    if want in fits:
        return want
    bigger = [f for f in fits if f > want]
    if mode == "timestamp" and bigger:
        return bigger[0]
    smaller = [f for f in fits if f < want]
    if mode == "scene" and smaller:
        return smaller[-1]
    raise UserError(f"{export_dir}: no arena plan fits {mode} windows on {board} "
                    f"(plans: {', '.join(f'{f} frames {plans[f]} B' for f in sorted(plans))})")


class FirmwareError(UserError):
    """The firmware faulted, hung, or sent something the host cannot trust."""


@dataclass
class FirmwareRun:
    exit_code: int
    hello: up.Hello | None = None
    embeddings: list[np.ndarray] = field(default_factory=list)
    timestamps_ms: list[int] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    end: up.End | None = None
    profile: up.Profile | None = None
    scores: list[up.Scores] = field(default_factory=list)  # firmware with task heads: per embedding, per head
    decode: up.DecodeResult | None = None


def build_embedder(board: str, mode: str, export_dir: Path, profile: bool = False,
                   options: dict[str, str] | None = None) -> Path:
    """Build the embedder for (board, mode) from the C sources in ``export_dir``; its path."""
    if board not in BOARDS:
        raise UserError(f"unknown board '{board}'; firmware boards are {', '.join(BOARDS)}")
    if mode not in MODES:
        raise UserError(f"unknown mode '{mode}'; use scene or timestamp")
    export_dir = Path(export_dir)
    if not (export_dir / "network.c").exists():
        raise UserError(f"{export_dir} has no network.c: run `python -m exporter export --out {export_dir}` first")
    if board != "host":
        _require("qemu-system-arm")
    opts = {"EMBED_MODE": mode, "APP_PROFILE": "ON" if profile else "OFF",
            "NET_MAX_FRAMES": str(choose_max_frames(board, mode, export_dir)), **(options or {})}
    build_dir = cmake_build.build(board, generated_dir=export_dir, options=opts, targets=["embedder"])
    exe = build_dir / "firmware" / "app" / ("embedder" if board == "host" else "embedder.elf")
    if not exe.exists():
        raise RuntimeError(f"build finished but {exe} is missing (are frontend, network and kernels there?)")
    return exe


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        raise UserError(f"'{tool}' not found on PATH (bash ci/setup.sh installs it)")


def qemu_command(board: str, exe: Path, pcm_path: Path, icount: bool = False) -> list[str]:
    machine, shift = QEMU_MACHINES[board]
    # QEMU option values escape a comma by doubling it.
    arg = str(pcm_path).replace(",", ",,")
    cmd = ["qemu-system-arm", "-M", machine, "-nographic", "-monitor", "none", "-serial", "stdio",
           "-semihosting-config", f"enable=on,target=native,arg=embedder,arg={arg}", "-kernel", str(exe)]
    if icount:
        cmd += ["-icount", f"shift={shift},sleep=off"]
    return cmd


def default_timeout(n_samples: int) -> float:
    """Generous: QEMU runs this firmware at well over 10x real time."""
    return 60.0 + 20.0 * n_samples / SAMPLE_RATE


def run_embedder(board: str, exe: Path, clip: np.ndarray, timeout: float | None = None,
                 icount: bool = False) -> FirmwareRun:
    """Run the built embedder on one int16 clip and decode everything it sent."""
    clip = np.asarray(clip)
    if clip.dtype != np.int16 or clip.ndim != 1:
        raise UserError(f"the firmware takes a mono int16 clip, got {clip.dtype} with shape {clip.shape}")
    timeout = default_timeout(clip.size) if timeout is None else timeout
    with tempfile.TemporaryDirectory(prefix="embedder-") as tmp:
        pcm = Path(tmp) / "clip.raw"
        clip.astype("<i2").tofile(pcm)
        cmd = [str(exe), str(pcm)] if board == "host" else qemu_command(board, exe, pcm, icount)
        try:
            # stdin closed, as in CI: QEMU's -serial stdio must not depend on a terminal.
            proc = subproc.run(cmd, stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise FirmwareError(f"{board}: the firmware did not finish within {timeout:.0f} s "
                                f"({clip.size} samples); killed") from None
    run = FirmwareRun(exit_code=proc.returncode)
    run.decode = res = up.decode_stream(proc.stdout)
    try:
        for f in res.frames:
            if f.type == up.HELLO:
                run.hello = up.parse_hello(f.payload)
            elif f.type == up.EMBEDDING:
                run.embeddings.append(up.parse_embedding(f.payload))
                run.timestamps_ms.append(f.timestamp_ms)
            elif f.type == up.ERROR:
                run.errors.append(up.parse_error(f.payload))
            elif f.type == up.END:
                run.end = up.parse_end(f.payload)
            elif f.type == up.PROFILE:
                run.profile = up.parse_profile(f.payload)
            elif f.type == up.SCORES:
                run.scores.append(up.parse_scores(f.payload))
    except up.ProtocolError as e:
        raise FirmwareError(f"{board}: {e}") from None
    if proc.stderr and board != "host" and run.exit_code not in (0, 2):
        run.errors.append((-1, qemu_message(proc.stderr.decode(errors="replace"))))
    return run


def qemu_message(stderr: str, limit: int = 500) -> str:
    """What QEMU said about a crash, without its register dump: its ``qemu: fatal:`` line (a
    lockup: a fault while handling a fault, such as a stack overflow on mps2-an386), else the
    first lines."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("qemu: fatal:")]
    text = fatal[0] if fatal else " / ".join(lines)
    if "Lockup" in text:
        text += " (a fault while handling a fault: most likely a stack overflow)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_run(board: str, run: FirmwareRun, n_samples: int, mode: str) -> None:
    """Raise a clear error unless the run is complete and trustworthy."""
    for code, msg in run.errors:
        if code in (up.ERR_CLIP_TOO_SHORT, up.ERR_CLIP_TOO_LONG):
            raise UserError(f"{board}: {msg}")
    if run.errors or run.exit_code != 0:
        detail = "; ".join(m for _, m in run.errors) or "no error frame"
        raise FirmwareError(f"{board}: firmware exited with status {run.exit_code}: {detail}")
    res = run.decode
    if res.crc_errors or res.truncated or res.garbage_bytes:
        raise FirmwareError(f"{board}: corrupt UART stream ({res.crc_errors} CRC errors, "
                            f"{res.garbage_bytes} stray bytes, truncated={res.truncated})")
    if run.hello is None or run.end is None:
        raise FirmwareError(f"{board}: the UART stream lacks its {'hello' if run.hello is None else 'end'} frame")
    if run.hello.mode != mode:
        raise FirmwareError(f"{board}: firmware built for {run.hello.mode} mode, expected {mode}")
    if run.end.n_samples != n_samples:
        raise FirmwareError(f"{board}: firmware read {run.end.n_samples} samples of {n_samples}")
    expected = n_samples // TS_HOP + 1 if mode == "timestamp" else 1
    if len(run.embeddings) != expected or run.end.n_embeddings != expected:
        raise FirmwareError(f"{board}: {len(run.embeddings)} embeddings for {expected} windows")
    if mode == "timestamp" and run.timestamps_ms != [50 * i for i in range(expected)]:
        raise FirmwareError(f"{board}: unexpected timestamps {run.timestamps_ms[:5]}...")
    for e in run.embeddings:
        if e.size != run.hello.dim:
            raise FirmwareError(f"{board}: embedding of {e.size} values, hello announced {run.hello.dim}")


def embedder(board: str, mode: str, export_dir: Path, with_scores: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """The board interface of `python -m exporter run` (exporter/boards/__init__.py): builds the
    firmware once and returns the function int16 clip -> the firmware's integers, [D] in scene
    mode, [n_ts, D] in timestamp mode. ``with_scores``: clip -> (integers, {head name: int8
    logits [C] (scene) or [n_ts, C]}) from the firmware's scores frames (an export with heads)."""
    exe = build_embedder(board, mode, export_dir)
    head_names = [h["name"] for h in _heads_of(export_dir)] if with_scores else []

    def embed(clip: np.ndarray):
        clip = np.asarray(clip)
        run = run_embedder(board, exe, clip)
        check_run(board, run, clip.size, mode)
        q = run.embeddings[0] if mode == "scene" else np.stack(run.embeddings)
        if not with_scores:
            return q
        if len(run.scores) != len(run.embeddings) * len(head_names) or \
                [s.name for s in run.scores] != head_names * len(run.embeddings):
            raise FirmwareError(f"{board}: {len(run.scores)} scores frames for {len(run.embeddings)} embeddings "
                                f"and heads {head_names}")
        scores = {n: np.stack([s.logits_q for s in run.scores[i::len(head_names)]]) for i, n in enumerate(head_names)}
        return q, {n: (v[0] if mode == "scene" else v) for n, v in scores.items()}

    return embed


def _heads_of(export_dir: Path) -> list[dict]:
    from exporter.graph import Graph

    return Graph.load(export_dir).meta.get("heads", [])
