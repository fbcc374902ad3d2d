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


def _ends(pid: int) -> bool:
    """``pid`` is gone within a second (a SIGKILL is delivered when the process next runs: on a
    busy machine, a moment after kill() returns)."""
    for _ in range(100):
        if not _alive(pid):
            return True
        time.sleep(0.01)
    return False


def test_output_and_exit_code(tmp_path):
    p = subproc.run(["sh", "-c", "echo out; echo err >&2; exit 3"], text=True)
    assert (p.returncode, p.stdout, p.stderr) == (3, "out\n", "err\n")


def test_timeout_ends_the_whole_group(tmp_path):
    pid_file = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        subproc.run(FAMILY + [str(pid_file)], timeout=0.5)
    assert _ends(_grandchild(pid_file))


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
    assert _ends(_grandchild(pid_file))


def test_poll_is_called_while_the_child_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(subproc, "POLL_SECONDS", 0.05)
    seen = []
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        p = subproc.run(["sh", "-c", "sleep 0.5; echo done"], stdout=out, stderr=err, poll=seen.append)
    assert p.returncode == 0 and (tmp_path / "out").read_text() == "done\n"
    assert len(seen) >= 3 and len(set(seen)) == 1  # the child's pid, several times


def test_poll_with_a_timeout_ends_the_whole_group(tmp_path, monkeypatch):
    monkeypatch.setattr(subproc, "POLL_SECONDS", 0.05)
    pid_file = tmp_path / "pid"
    with open(tmp_path / "out", "wb") as out:
        with pytest.raises(subprocess.TimeoutExpired):
            subproc.run(FAMILY + [str(pid_file)], timeout=1.5, stdout=out, stderr=out, poll=lambda pid: None)
    assert _ends(_grandchild(pid_file))


def test_an_error_in_poll_ends_the_whole_group(tmp_path, monkeypatch):
    """A progress callback that raises (or Ctrl-C while it runs) ends the child as any interruption does."""
    monkeypatch.setattr(subproc, "POLL_SECONDS", 0.05)
    pid_file = tmp_path / "pid"

    def poll(pid):
        if pid_file.exists() and pid_file.read_text().strip():
            raise KeyboardInterrupt

    with open(tmp_path / "out", "wb") as out:
        with pytest.raises(KeyboardInterrupt):
            subproc.run(FAMILY + [str(pid_file)], timeout=30, stdout=out, stderr=out, poll=poll)
    assert _ends(_grandchild(pid_file))


def test_poll_needs_files():
    with pytest.raises(ValueError, match="files"):
        subproc.run(["true"], poll=lambda pid: None)
