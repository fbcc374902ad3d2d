"""Output paths: checked before any work starts, written atomically, with the umask's permissions.

Every command checks its ``--out`` first (``check_out_file`` / ``check_out_folder``), so a
folder where a file is expected, a parent that is a file, or a read-only location is one clear
error before minutes of computing, not a traceback after them. Writability is probed by
creating a file: permission bits do not tell (root writes into a mode 0555 folder; a read-only
mount refuses whatever the bits say).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from exporter.errors import UserError


def umask() -> int:
    """The process's umask (reading it means setting it: put it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: str | os.PathLike, folder: bool = False) -> None:
    """Give a file made by mkstemp (0600) or a folder made by mkdtemp (0700) the permissions
    an ordinary ``open``/``mkdir`` would have given it."""
    os.chmod(path, (0o777 if folder else 0o666) & ~umask())


def _strerror(e: OSError) -> str:
    return e.strerror or os.strerror(e.errno or 0) or type(e).__name__


def _existing_ancestor(path: Path) -> Path:
    """The nearest ancestor of ``path`` that exists (it may be a file: then the path cannot be made)."""
    p = Path(os.path.abspath(path)).parent
    while True:
        try:
            os.stat(p)
            return p
        except FileNotFoundError:
            p = p.parent
        except NotADirectoryError:  # a regular file further up: find it
            p = p.parent
        except OSError as e:
            raise UserError(f"cannot write {path}: {p}: {_strerror(e)}") from None


def check_writable_folder(folder: Path, out: str | os.PathLike) -> None:
    """``folder`` exists, is a folder, and a file can be created in it (a real probe)."""
    if not folder.is_dir():
        raise UserError(f"cannot write {out}: {folder} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
    except OSError as e:
        reason = "read-only file system" if e.errno == errno.EROFS else _strerror(e)
        raise UserError(f"cannot write {out}: {folder} is not writable ({reason})") from None
    os.close(fd)
    os.unlink(probe)


def check_out_file(path: str | os.PathLike) -> Path:
    """``path`` can be written as a file: not a folder, and its folder exists and is writable or can be made."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"output {path} is a folder: give a file name, e.g. {path / 'out.npz'}")
    check_writable_folder(_existing_ancestor(path), path)
    return path


def check_out_folder(path: str | os.PathLike) -> Path:
    """``path`` can be made as a new folder, or is an empty folder that can be filled."""
    path = Path(path)
    if path.is_dir():
        entries = sorted(p.name for p in path.iterdir())
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise UserError(f"output folder {path} is not empty (holds {shown}): choose a new or empty folder")
        check_writable_folder(path, path)
    elif os.path.lexists(path):
        raise UserError(f"output {path} exists and is not a folder")
    else:
        check_writable_folder(_existing_ancestor(path), path)
    return path


def make_parents(path: Path) -> list[Path]:
    """Create the missing folders above ``path``; returns them, outermost first, for cleaning up."""
    missing = []
    p = Path(path).parent
    while not p.exists():
        missing.append(p)
        p = p.parent
    missing.reverse()
    for p in missing:
        p.mkdir()
    return missing


def remove_folders(created: list[Path]) -> None:
    """Undo ``make_parents`` (innermost first; a folder something else was put into stays)."""
    for p in reversed(created):
        try:
            p.rmdir()
        except OSError:
            break


def write_npz(path: str | os.PathLike, **arrays) -> None:
    """``np.savez`` atomically: a temporary file in the target's folder, renamed into place,
    so a failed or interrupted write leaves no half file and an existing file stays whole."""
    import numpy as np

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise UserError(f"cannot write {path}: {_strerror(e)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        follow_umask(tmp)
        os.replace(tmp, path)
    except OSError as e:  # the disk filled up, the folder went away, ... after the work
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"cannot write {path}: {_strerror(e)}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
