"""Build the embedding firmware (or its host twin), run it on a clip, decode its UART output.

Shared by the `host`, `qemu-an386` and `qemu-netduinoplus2` boards and by the benchmark.
The clip goes in as raw int16 (the board's microphone reads it: a file on the host,
semihosting in QEMU); the embeddings come back as protocol frames
(exporter/boards/uart_protocol.py) on standard output (QEMU: `-serial stdio`).

Long clips stay out of memory: the PCM is written to a temporary file block by block, the
firmware's output goes to a file and is decoded piece by piece, and the temporary folder is
removed on every way out (an error, a timeout, Ctrl-C, SIGTERM). The timeout follows the
work: the clip's instructions at a conservative emulation speed (``default_timeout``).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
import tty
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exporter import subproc
from exporter.boards import cmake_build
from exporter.boards import uart_protocol as up
from exporter.errors import UserError
from exporter.manifest import load_export
from exporter.float_model.windows import SCENE_HOP, TS_HOP, check_clip_length

# board -> (QEMU machine, -icount shift that makes the board's counter count instructions)
QEMU_MACHINES = {"qemu-an386": ("mps2-an386", 10), "qemu-netduinoplus2": ("netduinoplus2", 0)}
BOARDS = ("host", *QEMU_MACHINES)
MODES = ("scene", "timestamp")


# Bytes of SRAM the network's arena may take on each board: netduinoplus2 is linked for the
# 128 KiB of a real STM32F405/407, of which the stack takes 8 KiB and the frontend 12 KiB
# (the linker has the last word).
ARENA_BUDGET = {"host": None, "qemu-an386": 3 * 1024 * 1024, "qemu-netduinoplus2": 108 * 1024}
TIMESTAMP_FRAMES = 16  # a 160 ms window
# of which the frontend computes 8: frames 0, 1, 15 (its own reflect padding) and the 5 new
# ones; frames 2..9 are the previous window's 7..14 (firmware/efat/efat.c, SHARED_FRAMES)
TIMESTAMP_COMPUTED_FRAMES = 8
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
    decode: up.DecodeResult | None = None  # the decoder's counts (frames are parsed into the fields above)
    n_samples: int = 0  # samples the host gave the firmware


def build_embedder(board: str, mode: str, export_dir: Path, profile: bool = False,
                   options: dict[str, str] | None = None, target: str = "embedder") -> Path:
    """Build the embedder for (board, mode) from the C sources in ``export_dir``; its path.
    ``target="validator"``: the validation firmware instead (PCM over the UART, docs/firmware.md)."""
    if board not in BOARDS:
        raise UserError(f"unknown board '{board}'; firmware boards are {', '.join(BOARDS)}")
    if mode not in MODES:
        raise UserError(f"unknown mode '{mode}'; use scene or timestamp")
    export_dir = Path(export_dir)
    if not (export_dir / "network.c").exists():
        raise UserError(f"{export_dir} has no network.c: run `python -m exporter export --out {export_dir}` first")
    load_export(export_dir, c_sources=True)  # this tool version's, its C sources of its graph
    if board != "host":
        _require("qemu-system-arm")
    opts = {"EMBED_MODE": mode, "APP_PROFILE": "ON" if profile else "OFF",
            "NET_MAX_FRAMES": str(choose_max_frames(board, mode, export_dir)), **(options or {})}
    build_dir = cmake_build.build(board, generated_dir=export_dir, options=opts, targets=[target])
    exe = build_dir / "firmware" / "app" / (target if board == "host" else f"{target}.elf")
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


# The timeout: the clip's instructions (measured per window) at an emulation speed far below
# the measured one, so that only a hung firmware meets it.
FRONTEND_INSTRUCTIONS_PER_FRAME = 39_298  # reports/frontend_m4_cost.md (README: measured)
NETWORK_INSTRUCTIONS_PER_MAC = 2.3  # reports/bench.json, mn01: 2.20 (160 ms windows), 2.31 (10 s windows)
# When the export is not known (run_embedder called directly): mn01's 692 (timestamp) and
# 1,031 (scene over 10 s) instructions per sample (reports/bench.json), with a margin.
DEFAULT_INSTRUCTIONS_PER_SAMPLE = 2_000
# QEMU (TCG, no -icount) ran this firmware at 460 M instructions/s in timestamp mode and 185 M/s
# in scene mode on 60 s of audio, start-up included, on the project's shared 2-core machine at
# load 3, and an hour of timestamps at 741 M/s (reports/long_audio.md; issue 14's: 365 M/s).
# 40 M/s leaves a factor of 4.6 or more for slower or busier hosts.
QEMU_MIN_INSTRUCTIONS_PER_SECOND = 40e6
TIMEOUT_START_SECONDS = 60.0  # start-up (QEMU, the host's file system) on a loaded machine
# Whatever the clip: 12 h of emulation, over 100 hours of audio at the measured speed.
TIMEOUT_CAP_SECONDS = 12 * 3600.0


def instructions_per_sample(graph, mode: str) -> float:
    """Instructions the firmware spends per audio sample in ``mode`` for this export's network:
    frontend + network of a window over the samples between windows (the frontend computes 8 of a
    timestamp window's 16 frames, the rest are the previous window's, plus one frame of start-up;
    a scene clip over 10 s puts every sample in four 10 s windows; a clip up to 10 s costs less)."""
    frames, hop = (TIMESTAMP_FRAMES, TS_HOP) if mode == "timestamp" else (SCENE_FRAMES, SCENE_HOP)
    computed = TIMESTAMP_COMPUTED_FRAMES if mode == "timestamp" else frames
    per_window = (computed + 1) * FRONTEND_INSTRUCTIONS_PER_FRAME + NETWORK_INSTRUCTIONS_PER_MAC * sum(graph.macs(frames))
    return per_window / hop


def default_timeout(n_samples: int, per_sample: float = DEFAULT_INSTRUCTIONS_PER_SAMPLE) -> float:
    """Seconds to wait for the firmware on ``n_samples``: start-up plus the clip's instructions
    at QEMU_MIN_INSTRUCTIONS_PER_SECOND, at most TIMEOUT_CAP_SECONDS (an hour of mn01 timestamps:
    68 minutes, against the 7.5 it took in issue 14)."""
    return min(TIMEOUT_CAP_SECONDS, TIMEOUT_START_SECONDS + n_samples * per_sample / QEMU_MIN_INSTRUCTIONS_PER_SECOND)


@contextmanager
def pcm_file(clip: np.ndarray | Iterable[np.ndarray]) -> Iterator[tuple[Path, int]]:
    """``clip`` (an int16 array, or int16 blocks: exporter/boards/__init__.py) written as the
    board's microphone reads it (raw int16 little-endian) into a temporary folder, block by
    block: (path, number of samples). The folder, and what the run puts beside the clip, is
    removed when the block is left, however it is left."""
    from exporter.boards import pcm_blocks

    with tempfile.TemporaryDirectory(prefix="embedder-") as tmp:
        path = Path(tmp) / "clip.raw"
        n = 0
        with open(path, "wb") as f:
            for block in pcm_blocks(clip):
                block.astype("<i2", copy=False).tofile(f)
                n += block.size
        yield path, n


def run_embedder(board: str, exe: Path, clip, timeout: float | None = None, icount: bool = False,
                 progress: Callable[[int], None] | None = None) -> FirmwareRun:
    """Run the built embedder on one int16 clip (an array or blocks) and decode everything it sent."""
    with pcm_file(clip) as (pcm, n):
        return run_pcm(board, exe, pcm, n, timeout, icount, progress)


def run_pcm(board: str, exe: Path, pcm: Path, n_samples: int, timeout: float | None = None,
            icount: bool = False, progress: Callable[[int], None] | None = None) -> FirmwareRun:
    """Run the embedder on the PCM file ``pcm`` (``n_samples`` long, in a folder of its own:
    the firmware's output is written beside it). ``progress(samples the firmware has read)``
    is called every subproc.POLL_SECONDS where /proc shows it."""
    timeout = default_timeout(n_samples) if timeout is None else timeout
    cmd = [str(exe), str(pcm)] if board == "host" else qemu_command(board, exe, pcm, icount)
    uart, stderr = pcm.with_name("uart.bin"), pcm.with_name("stderr.txt")
    poll = None if progress is None else lambda pid: _report_read(pid, pcm, progress)
    with open(uart, "wb") as out, open(stderr, "wb") as err:
        try:
            # stdin closed, as in CI: QEMU's -serial stdio must not depend on a terminal.
            proc = subproc.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout, poll=poll)
        except subprocess.TimeoutExpired:
            raise FirmwareError(f"{board}: the firmware did not finish within {timeout:.0f} s "
                                f"({n_samples} samples); killed") from None
    run = FirmwareRun(exit_code=proc.returncode, n_samples=n_samples)
    run.decode = _decode_file(uart, run, board)
    if board != "host" and run.exit_code not in (0, 2):
        with open(stderr, "rb") as f:
            text = f.read(1 << 20).decode(errors="replace")  # QEMU's last words: a few lines and a register dump
        if text.strip():
            run.errors.append((-1, qemu_message(text)))
    return run


def _report_read(pid: int, pcm: Path, progress: Callable[[int], None]) -> None:
    """How far the firmware has read its PCM file: the offset of the child's descriptor on it
    (Linux /proc; elsewhere, or before the file is opened, nothing is reported)."""
    target = os.path.realpath(pcm)
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    for line in f:
                        if line.startswith("pos:"):
                            progress(int(line.split()[1]) // 2)
                            return
    except OSError:  # the child ended meanwhile, or no /proc
        pass


DECODE_CHUNK = 1 << 20  # bytes of UART output decoded at a time


def _decode_file(path: Path, run: FirmwareRun, board: str) -> up.DecodeResult:
    """Decode the firmware's UART output piece by piece into ``run`` (an hour of timestamps is
    28 MB of frames: never all of them at once); the decoder's counts of the whole stream."""
    total = up.DecodeResult()
    rest = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(DECODE_CHUNK)
            data = rest + chunk
            res = up.decode_stream(data, final=not chunk)
            _take_frames(run, res.frames, board)
            total.crc_errors += res.crc_errors
            total.garbage_bytes += res.garbage_bytes
            total.truncated |= res.truncated
            if not chunk:
                return total
            rest = data[res.consumed :]


def _take_frames(run: FirmwareRun, frames: list[up.Frame], board: str) -> None:
    try:
        for f in frames:
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
    from exporter.quantization.graph import Graph

    exe = build_embedder(board, mode, export_dir)
    graph = Graph.load(export_dir)
    per_sample = instructions_per_sample(graph, mode)
    head_names = [h["name"] for h in graph.meta.get("heads", [])] if with_scores else []

    def embed(clip, progress: Callable[[int], None] | None = None):
        with pcm_file(clip) as (pcm, n):
            check_clip_length(n, mode)  # the windows' message, as on the reference board
            run = run_pcm(board, exe, pcm, n, default_timeout(n, per_sample), progress=progress)
        check_run(board, run, n, mode)
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


@contextlib.contextmanager
def qemu_serial_pty(board: str, exe: Path, timeout: float = 30.0):
    """Start ``exe`` (the validation firmware) in QEMU with its UART on a pseudo-terminal; yields
    the terminal's path (for ``--board serial:PATH``) once the firmware answers there. QEMU is
    ended on leaving.

    QEMU notices a reader on the terminal only by polling it about once a second, and drops
    what the guest sends before: the terminal is held open here, with a connect frame sent
    until the firmware answers (the answer is left unread for the next reader)."""
    machine, _ = QEMU_MACHINES[board]
    cmd = ["qemu-system-arm", "-M", machine, "-nographic", "-monitor", "none", "-serial", "pty",
           "-semihosting-config", "enable=on,target=native", "-kernel", str(exe)]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         process_group=0)
    try:
        # QEMU 7.2: "char device redirected to /dev/pts/N (label serial0)" (standard output)
        deadline, said = time.monotonic() + timeout, b""
        while b"\n" not in said or not re.search(rb"redirected to (\S+)", said):
            if p.poll() is not None or time.monotonic() > deadline:
                raise FirmwareError(f"{board}: QEMU did not open a pseudo-terminal: {said.decode(errors='replace')}")
            if select.select([p.stdout], [], [], 0.1)[0]:
                said += os.read(p.stdout.fileno(), 4096)
        path = re.search(rb"redirected to (\S+)", said).group(1).decode()
        holder = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(holder)
            while not select.select([holder], [], [], 0.5)[0]:
                if p.poll() is not None or time.monotonic() > deadline:
                    raise FirmwareError(f"{board}: the validation firmware did not answer on {path}")
                os.write(holder, up.encode_frame(up.CONNECT))
            yield path
        finally:
            os.close(holder)
    finally:
        subproc.kill_group(p)
        p.stdout.close()
