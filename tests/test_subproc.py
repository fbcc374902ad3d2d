"""Child processes end with us: on a timeout and on an interruption, the whole process group
(cmake's ninja and compilers, not only cmake) is gone."""

import os
import signal
import subprocess
import threading
import time

import pytest

from exporter import subproc

# A child that starts a grandchild and reports its pid, then both wait (as cmake -> ninja -> cc).
FAMILY = ["sh", "-c", "sleep 60 & echo $! > \"$0\"; wait", ]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def _grandchild(pid_file) -> int:
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            return int(pid_file.read_text())
        time.sleep(0.01)
    raise AssertionError("the grandchild did not start")


def test_output_and_exit_code(tmp_path):
    p = subproc.run(["sh", "-c", "echo out; echo err >&2; exit 3"], text=True)
    assert (p.returncode, p.stdout, p.stderr) == (3, "out\n", "err\n")


def test_timeout_ends_the_whole_group(tmp_path):
    pid_file = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        subproc.run(FAMILY + [str(pid_file)], timeout=0.5)
    assert not _alive(_grandchild(pid_file))


def test_interruption_ends_the_whole_group(tmp_path):
    """SIGTERM to this process, as the CLI handles it: an exception inside run (here raised by a
    signal handler, as exporter/cli.py's is)."""
    pid_file = tmp_path / "pid"

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        with pytest.raises(KeyboardInterrupt):
            subproc.run(FAMILY + [str(pid_file)], timeout=30)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert not _alive(_grandchild(pid_file))
