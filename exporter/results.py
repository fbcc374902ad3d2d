"""The npz layout that ``embed`` and every ``run --board`` write.

Keys: ``embeddings`` float32 [n_files, D] (scene) or [n_files, n_ts, D]
(timestamp); ``timestamps_ms`` float32 [n_files, n_ts] (timestamp mode only);
``files`` (str [n_files]); and for the integer boards ``embeddings_q``, the raw
integers (int16: int8 network taps and the Q12 log-mel mean share one array).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from exporter import SAMPLE_RATE
from exporter.errors import UserError
from exporter.outputs import write_npz


def write_embeddings_npz(
    path: str | os.PathLike,
    embeddings: np.ndarray,
    files: list[str],
    timestamps_ms: np.ndarray | None = None,
    embeddings_q: np.ndarray | None = None,
    **extra: np.ndarray,
) -> None:
    """Write atomically (exporter.outputs.write_npz) so a failed run leaves no half file."""
    arrays = {"embeddings": np.asarray(embeddings, dtype=np.float32), "files": np.asarray(files, dtype=str)}
    if timestamps_ms is not None:
        arrays["timestamps_ms"] = np.asarray(timestamps_ms, dtype=np.float32)
    if embeddings_q is not None:
        arrays["embeddings_q"] = np.asarray(embeddings_q)
    arrays.update(extra)
    write_npz(path, **arrays)


def pad_ragged(arrays: list[np.ndarray], fill, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-file arrays of different lengths (timestamp mode: clips of different
    durations) into [n_files, max_len, ...], padded with ``fill``; also the lengths."""
    lengths = np.array([len(a) for a in arrays])
    if len(arrays) == 1:  # no copy: one long file's timestamps may be most of the memory
        return np.asarray(arrays[0], dtype=dtype)[None], lengths
    out = np.full((len(arrays), lengths.max(), *np.shape(arrays[0])[1:]), fill, dtype=dtype)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return out, lengths


def each_file(paths: Sequence[str], work: Callable[[str], object], what: str = "embedded") -> tuple[list, list, list]:
    """``work(path)`` for every file, one at a time; returns (files, results, failed).

    A file whose ``work`` raises UserError is named with the reason in one line and skipped:
    one bad file does not lose the others (the commands then write what they have, exit 1).
    None of them working is an error. A progress bar only on a terminal."""
    from tqdm import tqdm

    files, results, failed = [], [], []
    progress = tqdm(paths, unit="file", disable=len(paths) < 2 or not sys.stderr.isatty(), file=sys.stderr)
    for path in progress:
        try:
            results.append(work(path))
        except UserError as e:
            message = str(e) if str(path) in str(e) else f"{path}: {e}"
            tqdm.write(f"error: {message}", file=sys.stderr)
            failed.append(path)
            continue
        files.append(path)
    if not files:
        raise UserError(f"no embeddings written: none of the {len(paths)} file(s) could be {what}")
    return files, results, failed


PROGRESS_MIN_SECONDS = 60.0  # files longer than this get a progress bar of their own


@contextmanager
def file_progress(path: str, seconds: float) -> Iterator[Callable[[int], None] | None]:
    """A progress bar over one file's audio (in seconds), for files over a minute and only when
    standard error is a terminal, as each_file's. Yields ``progress(samples done at 32 kHz)``
    for the work to call, or None (no bar)."""
    from tqdm import tqdm

    if seconds <= PROGRESS_MIN_SECONDS or not sys.stderr.isatty():
        yield None
        return
    with tqdm(total=round(seconds, 1), unit="s", desc=os.path.basename(path), leave=False, file=sys.stderr,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio [{elapsed}<{remaining}]") as bar:
        def progress(samples: int) -> None:
            bar.update(min(samples / SAMPLE_RATE, bar.total) - bar.n)

        yield progress
