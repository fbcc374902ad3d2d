"""How the PDM decimator's coefficients (firmware/mic/pdm_decimate.c, exporter/frontend/pdm.py) were
designed; prints them. Needs scipy (linear programming), which the project does not depend
on: the tables are committed, this script documents and reproduces them.

- half-band: 23-tap windowed sinc (Kaiser, beta 8) at a quarter of 128 kHz, rounded to Q15,
  even taps forced to 0, centre 16384, the innermost pair lowered by 1 so the sum is 32768;
- low-pass: 191-tap linear-phase minimax design (linear programme on a dense grid) of
  1 / sinc^4-droop over 0-15 kHz and 0 over 16-32 kHz at 64 kHz, stopband weight 100, Q15.
"""

import numpy as np
from scipy.optimize import linprog

PDM = 2_048_000


def cic_droop(f):
    x = np.pi * np.asarray(f, float) / PDM
    with np.errstate(invalid="ignore"):
        r = np.where(x == 0, 1.0, np.sin(16 * x) / (16 * np.sin(x)))
    return np.abs(r) ** 4


def halfband(n=23, beta=8.0):
    k = np.arange(n) - (n - 1) // 2
    h = 0.5 * np.sinc(k / 2) * np.kaiser(n, beta)
    q = np.round(h / h.sum() * 32768).astype(int)
    q[(k % 2 == 0) & (k != 0)] = 0
    q[(n - 1) // 2] = 16384
    q[(n - 1) // 2 - 1] -= (q.sum() - 32768) // 2
    q[(n - 1) // 2 + 1] = q[(n - 1) // 2 - 1]
    return q


def lowpass(n=191, fp=15000, fst=16000, fs=64000, wstop=100.0):
    m = (n - 1) // 2
    f = np.concatenate([np.linspace(0, fp, 800), np.linspace(fst, fs / 2, 1600)])
    d = np.where(f <= fp, 1 / cic_droop(f), 0.0)
    w = np.where(f <= fp, 1.0, wstop)
    a = np.cos(2 * np.pi * np.outer(f, np.arange(m + 1)) / fs)
    a[:, 1:] *= 2
    aw = a * w[:, None]
    ones = np.ones((f.size, 1))
    res = linprog(np.r_[np.zeros(m + 1), 1.0], A_ub=np.vstack([np.hstack([aw, -ones]), np.hstack([-aw, -ones])]),
                  b_ub=np.r_[w * d, -w * d], bounds=[(None, None)] * (m + 2), method="highs")
    c = res.x[:-1]
    return np.round(np.r_[c[:0:-1], c] * 32768).astype(int)


if __name__ == "__main__":
    print("half-band:", halfband().tolist())
    print("low-pass:", lowpass().tolist())
