"""Child processes (QEMU, the host firmware, cmake and the builds it starts) that never outlive us.

``subprocess.run`` kills only its direct child when it is interrupted: cmake's ninja and
compilers would go on as orphans. Here each child gets a process group of its own, and the
whole group is ended on a timeout and on any exception, Ctrl-C, SIGTERM and SIGHUP included
(exporter/cli.py turns those into exceptions).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

GRACE_SECONDS = 2.0  # after SIGTERM, before SIGKILL
POLL_SECONDS = 0.5
INTERRUPTS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}  # what exporter/cli.py turns into exceptions


def run(cmd: list[str], timeout: float | None = None, poll: Callable[[int], None] | None = None,
        **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, ...)`` with the child in its own process group.

    Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds, the group ended. Standard
    input is closed: a child outside the terminal's foreground group must not read from it.
    ``stdout``/``stderr`` may be given (files: a long run's output need not be held in memory).
    ``poll(pid)`` is called about every POLL_SECONDS while the child runs (a progress bar); the
    child's output must then go to files, as nothing reads pipes meanwhile."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    if poll is not None and subprocess.PIPE in (kwargs["stdout"], kwargs["stderr"]):
        raise ValueError("poll needs stdout and stderr redirected to files")
    # A signal that arrives while the child is being started (before the try below) would raise
    # where nothing ends the child: hold the interrupting signals until the try, where they end it.
    # The child starts with the mask we had (it must die on SIGTERM).
    held = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        p = subprocess.Popen(cmd, process_group=0,
                             preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, held), **kwargs)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        raise
    with p:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            if poll is None:
                out, err = p.communicate(timeout=timeout)
            else:
                out = err = None
                _wait_polling(p, timeout, poll)
        except BaseException:
            kill_group(p)
            raise
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _wait_polling(p: subprocess.Popen, timeout: float | None, poll: Callable[[int], None]) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wait = POLL_SECONDS if deadline is None else max(0.0, min(POLL_SECONDS, deadline - time.monotonic()))
        try:
            p.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(p.args, timeout) from None
            poll(p.pid)


def kill_group(p: subprocess.Popen) -> None:
    """End ``p``'s process group: SIGTERM (QEMU and cmake exit cleanly on it), SIGKILL if it lingers."""
    _signal_group(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(p.pid, signal.SIGKILL)
    p.wait()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already empty
