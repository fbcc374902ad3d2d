"""Float scene and timestamp embeddings, as EfficientAT_HEAR's MNHearWrapper computes them (eval, fp32).

Windows come from exporter/float_model/windows.py (shared with every board). Unlike the
wrapper, which embeds timestamp windows one at a time, windows are batched:
the network treats batch items independently, so only float rounding differs.
``scene_stream`` / ``timestamp_stream`` embed one sound given as blocks (a long file
read piece by piece) in bounded memory, with the very batches of ``scene`` /
``timestamp``: the same bytes.
"""

from __future__ import annotations

import numpy as np
import torch

from exporter import SAMPLE_RATE
from exporter.audio.files import check_audio
from exporter.float_model.features import DEFAULT_FEATURES, assemble, embedding_size, parse_features
from exporter.float_model.mobilenet import MobileNetV3
from exporter.float_model.preprocess import LogMel
from exporter.float_model.windows import (
    SCENE_MAX_SAMPLES,
    TS_HOP,
    TS_WINDOW,
    batched,
    scene_windows,
    stream_scene_windows,
    stream_timestamp_windows,
    timestamp_windows,
)

# Audio samples per network batch: 8 scene windows of 10 s, or 500 timestamp windows.
MAX_BATCH_SAMPLES = 8 * 10 * SAMPLE_RATE
# Audio samples per log-mel computation: two 10 s windows, or 125 timestamp windows (smaller
# pieces cost CPU: a quarter of a batch of 500 timestamp windows takes 18 % more than the whole).
MEL_BATCH_SAMPLES = 20 * SAMPLE_RATE


class FloatEmbedder(torch.nn.Module):
    """Log-mel + network + feature selection. Also the HEAR model object (see exporter/hear.py).

    Attributes: ``sample_rate`` (32000), ``features`` ("MB+L"), ``embedding_size``,
    and the HEAR names ``scene_embedding_size`` / ``timestamp_embedding_size``.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, net: MobileNetV3, features: str = DEFAULT_FEATURES, info=None):
        super().__init__()
        self.mel = LogMel()
        self.net = net
        self.features = features
        self.components = parse_features(features)
        self.embedding_size = embedding_size(net.width, features)
        self.scene_embedding_size = self.embedding_size
        self.timestamp_embedding_size = self.embedding_size
        self.info = info  # exporter.float_model.checkpoint.ModelInfo, when known
        self.eval()

    @property
    def device(self) -> torch.device:
        return self.mel.mel_basis.device

    @torch.no_grad()
    def embed_logmel(self, logmel: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel (N, 128, T) -> embeddings (N, D)."""
        logits, feats = self.net(logmel.unsqueeze(1))
        return assemble(self.components, logmel.mean(dim=2), logits, feats)

    @torch.no_grad()
    def forward(self, windows) -> torch.Tensor:
        """Audio windows (N, n) -> embeddings (N, D), in batches of at most MAX_BATCH_SAMPLES samples."""
        self.eval()
        per_batch = max(1, MAX_BATCH_SAMPLES // max(1, windows.shape[-1]))
        out = []
        for start in range(0, windows.shape[0], per_batch):
            chunk = windows[start : start + per_batch]
            if not isinstance(chunk, torch.Tensor):
                chunk = torch.from_numpy(np.ascontiguousarray(chunk))
            chunk = chunk.to(self.device, torch.float32).contiguous()
            out.append(self.embed_logmel(self.logmel(chunk)))
        return torch.cat(out, dim=0)

    def logmel(self, windows: torch.Tensor) -> torch.Tensor:
        """``self.mel`` of (N, n) windows, at most MEL_BATCH_SAMPLES samples at a time: the STFT's
        temporaries of a batch of eight 10 s windows would take 170 MB, two windows' 43 MB. Each
        window's log-mel is computed on its own either way (the same bytes; tests/test_embed_float.py)."""
        per = max(1, MEL_BATCH_SAMPLES // max(1, windows.shape[-1]))
        if windows.shape[0] <= per:
            return self.mel(windows)
        return torch.cat([self.mel(windows[i : i + per]) for i in range(0, windows.shape[0], per)])

    def _embed_each_sound(self, windows: np.ndarray) -> torch.Tensor:
        """(n_sounds, n_windows, n) -> (n_sounds, n_windows, D), one sound at a time (no stacked copy)."""
        return torch.stack([self(w) for w in windows])

    def scene(self, audio) -> torch.Tensor:
        """(n_sounds, n_samples) -> (n_sounds, D): one pass up to 10 s, else the mean over 10 s windows."""
        windows = scene_windows(_as_numpy(audio))  # (n_sounds, n_windows, len)
        if windows.shape[1] == 1:  # batch all sounds in one pass, as the wrapper does
            return self(windows[:, 0])
        return self._embed_each_sound(windows).mean(dim=1)

    def timestamp(self, audio) -> tuple[torch.Tensor, torch.Tensor]:
        """(n_sounds, n_samples) -> (embeddings (n_sounds, n_ts, D), timestamps_ms (n_sounds, n_ts))."""
        windows, ts = timestamp_windows(_as_numpy(audio))  # (n_sounds, n_ts, 5120), (n_ts,)
        emb = self._embed_each_sound(windows)
        timestamps = torch.from_numpy(np.broadcast_to(ts, windows.shape[:2]).copy()).to(emb.device)
        return emb, timestamps

    def scene_stream(self, blocks) -> torch.Tensor:
        """``scene`` of one sound given as float32 blocks (exporter.audio.files.AudioStream) -> (D,).

        Equal to ``scene(whole[None])[0]`` byte for byte: the same windows in the same batches
        (forward's), averaged by the same reduction. Holds about one batch of windows."""
        per_batch = max(1, MAX_BATCH_SAMPLES // SCENE_MAX_SAMPLES)
        emb = torch.cat([self(b) for b in batched(stream_scene_windows(_checked(blocks)), per_batch)])
        return emb[0] if len(emb) == 1 else emb[None].mean(dim=1)[0]

    def timestamp_stream(self, blocks, expected_samples: int = 0) -> np.ndarray:
        """``timestamp`` of one sound given as float32 blocks -> embeddings (n_ts, D) as numpy,
        equal to ``timestamp(whole[None])[0][0]`` byte for byte; their times are
        ``exporter.float_model.windows.timestamps_ms(n_ts)``. Holds one batch of windows, and the result:
        in one array allocated once when ``expected_samples`` (the length from the file's
        header) is right, so the result is never held twice."""
        per_batch = max(1, MAX_BATCH_SAMPLES // TS_WINDOW)
        out, n = np.empty((expected_samples // TS_HOP + 1, self.embedding_size), np.float32), 0
        for b in batched(stream_timestamp_windows(_checked(blocks)), per_batch):
            emb = self(b).cpu().numpy()
            if n + len(emb) > len(out):  # the header was wrong (or no length given): grow
                out = np.concatenate([out[:n], np.empty((max(len(emb), n), out.shape[1]), np.float32)])
            out[n : n + len(emb)] = emb
            n += len(emb)
        return out[:n]


def _checked(blocks):
    """Blocks of a sound, as _as_numpy checks a whole one (float32, finite)."""
    for b in blocks:
        if len(b):
            yield check_audio(np.asarray(b, dtype=np.float32))


def _as_numpy(audio) -> np.ndarray:
    """Float32 (n_sounds, n_samples) numpy from a tensor (any device) or array; rejects NaN/inf."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().to("cpu", torch.float32).numpy()
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected audio of shape (n_sounds, n_samples), got {x.shape}")
    return check_audio(x)
