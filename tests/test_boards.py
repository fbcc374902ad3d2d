"""The board layer on its own (firmware/boards/selftest.c): UART frames, the semihosting
microphone, exit codes, the fault handler and the instruction counter, on every board."""

import shutil
import subprocess
import struct
from pathlib import Path

import numpy as np
import pytest

from exporter.boards import cmake_build
from exporter.boards import firmware_runner
from exporter.boards import uart_protocol as up

pytestmark = pytest.mark.slow
BOARDS = ["host", "qemu-an386", "qemu-netduinoplus2"]


def _build(board):
    if board != "host" and shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is missing (bash ci/setup.sh)")
    build_dir = cmake_build.build(board, targets=["board_selftest"])
    exe = build_dir / "firmware" / "boards" / ("board_selftest" if board == "host" else "board_selftest.elf")
    return board, exe


@pytest.fixture(scope="module", params=BOARDS)
def selftest(request):
    return _build(request.param)


@pytest.fixture(scope="module", params=[b for b in BOARDS if b != "host"])
def qemu_selftest(request):
    """The Cortex-M boards: fault handler and instruction counter (the host has neither)."""
    return _build(request.param)


def _run(board, exe, clip, tmp_path, icount=False):
    pcm = tmp_path / "clip.raw"
    np.asarray(clip, dtype="<i2").tofile(pcm)
    cmd = [str(exe), str(pcm)] if board == "host" else firmware_runner.qemu_command(board, exe, pcm, icount)
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return proc.returncode, up.decode_stream(proc.stdout)


def _selftest_frame(res):
    (f,) = [f for f in res.frames if f.type == up.SELFTEST]
    return struct.unpack("<IqQ", f.payload)


@pytest.mark.parametrize("n", [0, 1, 319, 320, 12345])
def test_microphone_delivers_every_sample(selftest, tmp_path, n):
    board, exe = selftest
    clip = np.random.default_rng(n).integers(-32768, 32768, n).astype(np.int16)
    rc, res = _run(board, exe, clip, tmp_path)
    assert rc == 0
    assert (res.crc_errors, res.garbage_bytes, res.truncated) == (0, 0, False)
    count, total, _ = _selftest_frame(res)
    assert (count, total) == (n, int(clip.astype(np.int64).sum()))


def test_fault_gives_error_frame_and_exit_code(qemu_selftest, tmp_path):
    board, exe = qemu_selftest
    rc, res = _run(board, exe, np.array([0x7A17], dtype=np.int16), tmp_path)
    assert rc == 3
    (f,) = res.frames
    code, msg = up.parse_error(f.payload)
    assert code == up.ERR_FAULT and msg.startswith("cpu fault: exception=0x00000003 pc=0x")


def test_missing_audio_source_is_reported(selftest, tmp_path):
    board, exe = selftest
    if board == "host":
        proc = subprocess.run([str(exe), str(tmp_path / "missing.raw")], capture_output=True, timeout=60)
    else:
        proc = subprocess.run(firmware_runner.qemu_command(board, exe, tmp_path / "missing.raw"),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert proc.returncode == 4
    (f,) = up.decode_stream(proc.stdout).frames
    assert up.parse_error(f.payload)[0] == up.ERR_NO_AUDIO


def test_icount_counts_instructions_exactly(qemu_selftest, tmp_path):
    """Under -icount every 320-sample block costs the same number of instructions."""
    board, exe = qemu_selftest
    counts = []
    for blocks in (1, 2, 3, 5):
        rc, res = _run(board, exe, np.ones(320 * blocks, dtype=np.int16), tmp_path, icount=True)
        assert rc == 0
        counts.append(_selftest_frame(res)[2])
    per_block = counts[1] - counts[0]
    assert 320 * 3 < per_block < 320 * 20
    assert counts[2] - counts[1] == per_block
    assert counts[3] - counts[2] == 2 * per_block


def test_counters_of_both_boards_agree(tmp_path):
    """Two independent counters (an386 dual timer, STM32 TIM2) on the same code: equal counts up
    to the boards' own few instructions."""
    clip = np.ones(40_000_000 // 5, dtype=np.int16)  # ~40 M instructions of summing
    counts = {}
    for board in ("qemu-an386", "qemu-netduinoplus2"):
        b, exe = _build(board)
        rc, res = _run(b, exe, clip, tmp_path, icount=True)
        assert rc == 0
        counts[board] = _selftest_frame(res)[2]
    assert counts["qemu-an386"] > 30_000_000
    assert abs(counts["qemu-an386"] - counts["qemu-netduinoplus2"]) < 64


def test_stack_overflow_does_not_corrupt_silently(qemu_selftest, tmp_path):
    """The application's stack sits at the bottom of SRAM: an overflow faults. netduinoplus2
    reports it in an error frame (handlers have their own stack); on mps2-an386 QEMU stops
    with a lockup (SIGABRT). Either way a non-zero exit, never corrupted results."""
    board, exe = qemu_selftest
    rc, res = _run(board, exe, np.array([0x57AC], dtype=np.int16), tmp_path)
    assert rc != 0
    if board == "qemu-netduinoplus2":
        assert rc == 3
        (f,) = res.frames
        code, msg = up.parse_error(f.payload)
        assert code == up.ERR_FAULT and "stack overflow" in msg
    else:
        assert rc in (134, -6) and res.frames == []  # SIGABRT (a shell shows 134)
        # What the user is told: QEMU's "Lockup" line, not the end of its register dump.
        run = firmware_runner.run_embedder(board, exe, np.array([0x57AC], dtype=np.int16))
        ((code, msg),) = run.errors
        assert code == -1 and msg.startswith("qemu: fatal: Lockup: can't escalate 3 to HardFault")
        assert msg.endswith("(a fault while handling a fault: most likely a stack overflow)") and "R00=" not in msg


def test_qemu_message_keeps_the_fatal_line():
    dump = "qemu: fatal: Lockup: can't escalate 3 to HardFault (current priority -1)\n\nR00=20004358 R01=00000780\n"
    dump += "s00=00000000 s01=00000000\n" * 40 + "FPSCR: 00000000\n"
    assert firmware_runner.qemu_message(dump).startswith("qemu: fatal: Lockup: can't escalate 3 to HardFault")
    assert firmware_runner.qemu_message("qemu-system-arm: -kernel x.elf: could not load\n\n") == \
        "qemu-system-arm: -kernel x.elf: could not load"
    assert len(firmware_runner.qemu_message("x" * 2000)) == 500


@pytest.fixture(scope="module")
def insn_plugin(tmp_path_factory):
    """The TCG plugin of firmware/tools/, built with the host compiler."""
    src = Path(__file__).resolve().parent.parent / "firmware" / "tools" / "insn_count_plugin.c"
    lib = tmp_path_factory.mktemp("plugin") / "libinsn_count.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", str(lib), str(src)], check=True)
    return lib


def test_icount_counter_agrees_with_the_tcg_plugin(qemu_selftest, insn_plugin, tmp_path):
    """Instructions between two clip lengths: the guest's timer and QEMU's own count (plugin)."""
    board, exe = qemu_selftest
    guest, plugin = [], []
    for n in (3200, 32000):
        pcm = tmp_path / "clip.raw"
        np.ones(n, dtype="<i2").tofile(pcm)
        out = tmp_path / f"count{n}.txt"
        cmd = firmware_runner.qemu_command(board, exe, pcm, icount=True) + ["-plugin", f"{insn_plugin},out={out}"]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        assert proc.returncode == 0
        guest.append(_selftest_frame(up.decode_stream(proc.stdout))[2])
        plugin.append(int(out.read_text()))
    assert plugin[0] > guest[0] > 0  # the plugin also counts boot and exit
    assert plugin[1] - plugin[0] == guest[1] - guest[0]
