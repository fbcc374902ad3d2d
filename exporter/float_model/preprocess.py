"""Float32 log-mel of EfficientAT's ``AugmentMelSTFT`` in eval mode.

32 kHz audio -> pre-emphasis (valid conv, one sample shorter) -> STFT (n_fft
1024, hop 320, symmetric Hann 800 centred in 1024, centre reflect padding) ->
power -> Kaldi mel banks (128 bands, 0-15 kHz) -> ln(. + 1e-5) -> (. + 4.5) / 5.

The window and mel basis are also exposed as numpy arrays: the fixed-point
frontend derives its tables from them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from exporter import SAMPLE_RATE

N_MELS = 128
N_FFT = 1024
WIN_LENGTH = 800
HOP = 320
PREEMPHASIS = 0.97
FMIN = 0.0
FMAX = SAMPLE_RATE / 2 - 2000 / 2  # 15 kHz: sr/2 - fmax_aug_range/2 at eval
LOG_OFFSET = 1e-5
NORM_SHIFT = 4.5
NORM_SCALE = 5.0


def n_frames(n_samples: int) -> int:
    """Frames of the log-mel of ``n_samples`` audio samples (pre-emphasis drops one)."""
    return 1 + (n_samples - 1) // HOP


def hann_window_symmetric(length: int = WIN_LENGTH) -> np.ndarray:
    """0.5 - 0.5 cos(2 pi n / (length - 1)), float32, as ``torch.hann_window(periodic=False)``."""
    return torch.hann_window(length, periodic=False, dtype=torch.float32).numpy()


def _kaldi_mel(freq: torch.Tensor) -> torch.Tensor:
    """1127 ln(1 + f/700) in float32, with a correctly rounded log.

    The log is taken in float64 and rounded: float32 log kernels differ by an
    ulp between CPUs, and the triangle slopes amplify that to ~2e-5.
    """
    return 1127.0 * (1.0 + freq / 700.0).double().log().float()


def kaldi_mel_banks(
    n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE, fmin: float = FMIN, fmax: float = FMAX
) -> np.ndarray:
    """Kaldi triangular mel filters, (n_mels, n_fft // 2 + 1) float32, last (Nyquist) column zero.

    Triangles are equally spaced in Kaldi mel (1127 ln(1 + f/700)) between
    mel(fmin) and mel(fmax); weights are computed in the mel domain, peak 1, no
    normalisation. The arithmetic follows torchaudio's ``get_mel_banks`` in
    float32 (scalars in double, tensors in float32), so the result matches it
    bit for bit (given a correctly rounded float32 log).
    """
    if not 0.0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate/2, got fmin={fmin}, fmax={fmax}")
    n_bins = n_fft // 2
    mel_low = 1127.0 * math.log(1.0 + fmin / 700.0)
    mel_high = 1127.0 * math.log(1.0 + fmax / 700.0)
    delta = (mel_high - mel_low) / (n_mels + 1)
    band = torch.arange(n_mels).unsqueeze(1)
    left = mel_low + band * delta
    centre = mel_low + (band + 1.0) * delta
    right = mel_low + (band + 2.0) * delta
    mel = _kaldi_mel((sample_rate / n_fft) * torch.arange(float(n_bins))).unsqueeze(0)
    up = (mel - left) / (centre - left)
    down = (right - mel) / (right - centre)
    banks = torch.max(torch.zeros(1), torch.min(up, down))
    return F.pad(banks, (0, 1)).to(torch.float32).numpy()


def preemphasis(x: torch.Tensor) -> torch.Tensor:
    """y[n] = x[n+1] - 0.97 x[n]: (B, n) -> (B, n - 1)."""
    kernel = torch.tensor([[[-PREEMPHASIS, 1.0]]], dtype=x.dtype, device=x.device)
    return F.conv1d(x.unsqueeze(1), kernel).squeeze(1)


def power_spectrogram(y: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """|STFT|^2 of the pre-emphasised signal: (B, n) -> (B, 513, 1 + n // 320)."""
    spec = torch.stft(
        y,
        N_FFT,
        hop_length=HOP,
        win_length=WIN_LENGTH,
        window=window,
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    spec = torch.view_as_real(spec)
    return (spec**2).sum(dim=-1)


class LogMel(torch.nn.Module):
    """AugmentMelSTFT(n_mels=128, sr=32000, win_length=800, hopsize=320, n_fft=1024) in eval mode.

    forward: float32 audio (B, n) at 32 kHz, n >= 514 -> normalised log-mel (B, 128, T),
    T = 1 + (n - 1) // 320.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.from_numpy(hann_window_symmetric(WIN_LENGTH)), persistent=False)
        self.register_buffer("mel_basis", torch.from_numpy(kaldi_mel_banks()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(f"expected audio (batch, samples), got shape {tuple(x.shape)}")
        power = power_spectrogram(preemphasis(x), self.window)
        mel = torch.matmul(self.mel_basis, power)
        return (torch.log(mel + LOG_OFFSET) + NORM_SHIFT) / NORM_SCALE
