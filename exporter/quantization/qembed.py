"""The integer embedding ``[L (int16 Q12) | taps (int8)]`` of the device, and its dequantization.

See docs/int8-graph.md, last section. One int16 array carries both parts. L is
the window's mean log-mel frame in Q12 (``round_div(sum, T)``); a scene of
several windows averages the windows' integers the same way, element by element.
"""

from __future__ import annotations

import numpy as np

from exporter.quantization import int8_math
from exporter.quantization.graph import Graph


DEQUANTIZE_ROWS = 4096


def embedding_dim(graph: Graph) -> int:
    return graph.meta["input"]["mel_bands"] + graph.tap_dim


def window_embedding(logmel_q12: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """One window: int16 [128 + tap_dim] from its Q12 log-mel [T][128] and the network's taps."""
    from exporter.frontend.fixed import mel_mean_q12

    mean = np.asarray(mel_mean_q12(np.asarray(logmel_q12)), dtype=np.int16)
    return np.concatenate([mean, np.asarray(taps, dtype=np.int8).astype(np.int16)])


def average_windows(window_embeddings: np.ndarray) -> np.ndarray:
    """Scene embedding of several windows [n_w][D]: round_div(sum, n_w) per element (int16 [D])."""
    w = np.asarray(window_embeddings, dtype=np.int64)
    return int8_math.round_div(w.sum(axis=0), w.shape[0]).astype(np.int16)


def dequantize(graph: Graph, q: np.ndarray) -> np.ndarray:
    """float32 embedding(s) [..., D]: L / 4096, tap sections (q - zero_point) * scale."""
    q = np.asarray(q)
    n_mel = graph.meta["input"]["mel_bands"]
    if q.shape[-1] != embedding_dim(graph):
        raise ValueError(f"embedding has {q.shape[-1]} values, the graph's has {embedding_dim(graph)}")
    scale = np.empty(q.shape[-1])
    zero = np.zeros(q.shape[-1])
    scale[:n_mel] = 1.0 / (1 << graph.meta["input"]["frac_bits"])
    for tap in graph.taps:
        sl = slice(n_mel + tap["offset"], n_mel + tap["offset"] + tap["channels"])
        scale[sl], zero[sl] = tap["scale"], tap["zero_point"]
    # In slices of rows: an hour of timestamps is 72,000 rows, whose float64 temporaries
    # would be ten times the result. Row by row the values are the same.
    out = np.empty(q.shape, dtype=np.float32)
    rows, flat = q.reshape(-1, q.shape[-1]), out.reshape(-1, q.shape[-1])
    for i in range(0, len(rows), DEQUANTIZE_ROWS):
        flat[i : i + DEQUANTIZE_ROWS] = (rows[i : i + DEQUANTIZE_ROWS].astype(np.float64) - zero) * scale
    return out


def sections(graph: Graph) -> list[tuple[str, slice]]:
    """(name, slice) of each embedding section: L, then the taps in order."""
    n_mel = graph.meta["input"]["mel_bands"]
    out = [("L", slice(0, n_mel))]
    for tap in graph.taps:
        out.append((tap["name"], slice(n_mel + tap["offset"], n_mel + tap["offset"] + tap["channels"])))
    return out
