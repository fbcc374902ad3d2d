"""A MEMS-microphone-like 1-bit sigma-delta modulator, for test PDM streams (tests, reports).

MEMS PDM microphones (MP45DT02 and its kind) digitise with a 4th-order 1-bit modulator at
64x oversampling; exporter/frontend/pdm.py ``sigma_delta`` is a 2nd-order one whose in-band
noise is far higher (kept for comparison). Here: a noise transfer function of order 4 (or 5)
designed the standard way for 1-bit loops (Schreier's): zeros spread over the band at the
Gauss-Legendre nodes (the optimal placement, minimum in-band noise power), poles of a
Butterworth high-pass whose cut-off is chosen so the out-of-band gain max|NTF| is 1.5 (Lee's
rule: above ~1.5 a 1-bit loop goes unstable). Realised in error-feedback form with signal
transfer 1: the quantizer sees the same filter of the output bits as a CIFB/CRFB loop of this
NTF, so it behaves alike (same noise, same overload).

The per-sample loop runs in a small C helper (firmware/tools/sdm_model.c, built with the host
compiler on first use): 3 s at 2.048 MHz take 0.15 s instead of 5 s in Python.
``modulate_python`` is the same loop in Python, operation for operation, that the tests compare
it with bit for bit on a short stream (IEEE doubles, no fused multiply-add).
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil

import numpy as np

from exporter import FIRMWARE_DIR, build_root, subproc
from exporter.frontend.pdm import DECIMATION, PDM_RATE

SOURCE = FIRMWARE_DIR / "tools" / "sdm_model.c"
OSR = DECIMATION  # 64: the band edge (16 kHz) is PDM_RATE / (2 * 64)
OUT_OF_BAND_GAIN = 1.5
# |quantizer input| beyond which the loop has gone unstable (a stable loop stays near 1-2).
OVERLOAD_LIMIT = 20.0
MAX_ORDER = 8  # sdm_model.c's SDM_MAX_ORDER


@functools.lru_cache(maxsize=None)
def ntf(order: int = 4, obg: float = OUT_OF_BAND_GAIN, osr: int = OSR) -> tuple[np.ndarray, np.ndarray]:
    """(b, a): NTF = B(z)/A(z) as coefficients of z^-k, both monic (so NTF(inf) = 1)."""
    nodes = np.polynomial.legendre.leggauss(order)[0]  # optimal zeros: in-band noise minimised
    zeros = np.exp(1j * nodes * np.pi / osr)
    k = np.arange(order)
    proto = np.exp(1j * np.pi * (2 * k + order + 1) / (2 * order))  # analog Butterworth low-pass poles

    def poles(wc: float) -> np.ndarray:
        pa = np.tan(wc / 2) / proto  # low-pass -> high-pass, prewarped cut-off
        return (1 + pa) / (1 - pa)  # bilinear transform

    z = np.exp(1j * np.linspace(0, np.pi, 8192))
    num = np.prod(z[:, None] - zeros, axis=1)

    def gain(wc: float) -> float:
        return float(np.max(np.abs(num / np.prod(z[:, None] - poles(wc), axis=1))))

    lo, hi = 1e-4, 3.0  # max|NTF| grows with the cut-off: bisect for obg
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gain(mid) < obg else (lo, mid)
    return np.real(np.poly(zeros)), np.real(np.poly(poles(lo)))


def ntf_response(freqs_hz: np.ndarray, order: int = 4) -> np.ndarray:
    """|NTF| at frequencies of the PDM rate."""
    b, a = ntf(order)
    zi = np.exp(-2j * np.pi * np.asarray(freqs_hz, dtype=np.float64) / PDM_RATE)
    return np.abs(np.polyval(b[::-1], zi) / np.polyval(a[::-1], zi))


class Overload(ValueError):
    """The loop went unstable (input too loud for the modulator)."""


@functools.lru_cache(maxsize=None)
def _library() -> ctypes.CDLL:
    out = build_root() / "sdm_model"
    out.mkdir(parents=True, exist_ok=True)
    lib = out / "libsdm_model.so"
    if not lib.exists() or lib.stat().st_mtime < SOURCE.stat().st_mtime:
        if shutil.which("cc") is None:
            raise RuntimeError("the sigma-delta model needs a C compiler ('cc' on PATH) for its loop")
        tmp = out / f"libsdm_model.{os.getpid()}.so"  # renamed into place: another process may be loading it
        # -ffp-contract=off: no fused multiply-add, so the Python loop's bits are reproduced.
        proc = subproc.run(["cc", "-O2", "-ffp-contract=off", "-shared", "-fPIC", "-o", str(tmp), str(SOURCE)])
        if proc.returncode:
            raise RuntimeError(f"building {SOURCE} failed: {proc.stderr.decode(errors='replace')[:500]}")
        tmp.replace(lib)
    dll = ctypes.CDLL(str(lib))
    dbl = ctypes.POINTER(ctypes.c_double)
    dll.sdm_run.argtypes = [dbl, ctypes.c_size_t, ctypes.c_int, dbl, dbl, dbl, ctypes.POINTER(ctypes.c_uint8),
                            ctypes.c_double]
    dll.sdm_run.restype = ctypes.c_long
    return dll


def _dithered(x: np.ndarray, seed: int) -> np.ndarray:
    """A tiny seeded dither breaks idle tones on exact silence. 1e-5 peak to peak (in band about
    -130 dB): pdm.sigma_delta's 1e-3 (-89 dB in band) would sit above this loop's own noise."""
    rng = np.random.default_rng(seed)
    return np.asarray(x, dtype=np.float64) + (rng.random(np.size(x)) - 0.5) * 1e-5


def _pack(bits: np.ndarray) -> np.ndarray:
    """0/1 per sample -> PDM bytes (first sample in the LSB), zero-padded to whole PCM samples."""
    pad = (-bits.size) % DECIMATION
    if pad:
        bits = np.concatenate([bits, np.zeros(pad, dtype=np.uint8)])
    return np.packbits(bits, bitorder="little")


def modulate(x: np.ndarray, order: int = 4, seed: int = 0) -> np.ndarray:
    """PDM bytes from a signal at 2.048 MHz (``x`` in [-1, 1], density (1 + x) / 2), as
    pdm.sigma_delta but through the ``order`` NTF. Raises Overload if the loop goes unstable
    (a 4th-order loop holds up to about -4 dBFS of a sine; see reports/pdm_decimator.md)."""
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"modulator order {order}: 1 to {MAX_ORDER}")
    xs = np.ascontiguousarray(_dithered(x, seed))
    b, a = (np.ascontiguousarray(c) for c in ntf(order))
    state = np.zeros(2 * order)
    bits = np.zeros(xs.size, dtype=np.uint8)
    dbl = ctypes.POINTER(ctypes.c_double)
    bad = _library().sdm_run(xs.ctypes.data_as(dbl), xs.size, order, b.ctypes.data_as(dbl), a.ctypes.data_as(dbl),
                             state.ctypes.data_as(dbl), bits.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)),
                             OVERLOAD_LIMIT)
    if bad >= 0:
        raise Overload(f"the order-{order} modulator went unstable at sample {bad} "
                       f"(input peak {np.max(np.abs(x)):.3f} of full scale is too loud)")
    return _pack(bits)


def modulate_python(x: np.ndarray, order: int = 4, seed: int = 0) -> np.ndarray:
    """``modulate`` in plain Python (about 30x slower): the twin the C helper is tested against."""
    b, a = (c.tolist() for c in ntf(order))
    e = [0.0] * order
    w = [0.0] * order
    bits = bytearray()
    for i, xi in enumerate(_dithered(x, seed).tolist()):
        u = xi
        for k in range(order):
            u += b[k + 1] * e[k]
            u -= a[k + 1] * w[k]
        if u > OVERLOAD_LIMIT or u < -OVERLOAD_LIMIT:
            raise Overload(f"the order-{order} modulator went unstable at sample {i}")
        v = 1.0 if u >= 0.0 else -1.0
        e = [v - u] + e[:-1]
        w = [v - xi] + w[:-1]
        bits.append(v > 0.0)
    return _pack(np.frombuffer(bytes(bits), dtype=np.uint8))
