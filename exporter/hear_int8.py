"""HEAR API (hearbenchmark.com) for the device's int8 embeddings: ``exporter.hear_int8`` is a HEAR module.

    model = exporter.hear_int8.load_model()                          # firmware/generated, board "reference"
    model = exporter.hear_int8.load_model("out/mn10", board="host")  # an export folder, the C code on this machine
    emb = exporter.hear_int8.get_scene_embeddings(audio, model)      # (n_sounds, D)
    emb, ts = exporter.hear_int8.get_timestamp_embeddings(audio, model)  # (n_sounds, n_ts, D), ms

``load_model(model_file_path="", board="reference")``: the path is an export
folder of ``python -m exporter export`` (empty: firmware/generated, the
shipped default export); ``board`` is any board of ``python -m exporter run``
(exporter/boards): ``reference`` (ONNX Runtime on the integer graph, the
default), ``host`` (the generated C, built for this machine) or a QEMU board.
``exporter.hear.load_model(path, board=...)`` is the same call.

The embeddings are what the firmware sends, dequantized: the audio becomes
int16 PCM as in ``run`` (exporter.audio.files.to_pcm16), the board computes the
integers, ``exporter.quantization.qembed.dequantize`` turns them into float32. They equal
the ``embeddings`` that ``python -m exporter run --board B --export DIR``
writes, bit for bit, with the float module's layout and timestamps, so
hear-eval-kit scores the device exactly as it scores ``exporter.hear``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from exporter import SAMPLE_RATE
from exporter.quantization import qembed
from exporter.audio.files import to_pcm16
from exporter.boards import board_module
from exporter.errors import UserError
from exporter.manifest import load_export
from exporter.float_model.windows import timestamp_windows

DEFAULT_BOARD = "reference"


class DeviceEmbedder(torch.nn.Module):
    """The HEAR model object of an export folder on a board. No parameters: the
    integer graph lives in the export folder, the computation on the board.

    ``scene`` and ``timestamp`` have the signatures of FloatEmbedder's, so
    exporter.hear's functions serve both.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, export_dir: Path, board: str = DEFAULT_BOARD):
        super().__init__()
        self.board = board
        self._board = board_module(board)  # a clear error for an unknown board name
        self.export_dir = Path(export_dir)
        self.graph = load_export(self.export_dir)  # a clear error if not an export folder of this tool version
        self.embedding_size = int(qembed.embedding_dim(self.graph))
        self.scene_embedding_size = self.embedding_size
        self.timestamp_embedding_size = self.embedding_size

    def extra_repr(self) -> str:
        return f"export_dir={str(self.export_dir)!r}, board={self.board!r}, embedding_size={self.embedding_size}"

    def _integers(self, audio, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """(pcm16 (n_sounds, n_samples), the board's integers stacked over sounds)."""
        pcm = _as_pcm16(audio)
        return pcm, np.stack(self._board.embed_clips(list(pcm), mode, self.export_dir)).astype(np.int16)

    def scene(self, audio) -> torch.Tensor:
        """(n_sounds, n_samples) -> (n_sounds, D) float32, on the audio's device."""
        _, q = self._integers(audio, "scene")
        return torch.from_numpy(qembed.dequantize(self.graph, q)).to(_device(audio))

    def timestamp(self, audio) -> tuple[torch.Tensor, torch.Tensor]:
        """(n_sounds, n_samples) -> (embeddings (n_sounds, n_ts, D), timestamps_ms (n_sounds, n_ts))."""
        pcm, q = self._integers(audio, "timestamp")
        _, ts = timestamp_windows(pcm[0])  # every sound of a batch has the same length
        emb = torch.from_numpy(qembed.dequantize(self.graph, q))
        timestamps = torch.from_numpy(np.broadcast_to(ts, q.shape[:2]).copy())
        return emb.to(_device(audio)), timestamps.to(_device(audio))


def load_model(model_file_path: str = "", *, board: str = DEFAULT_BOARD) -> DeviceEmbedder:
    from exporter.defaults import GENERATED_DIR

    return DeviceEmbedder(Path(model_file_path) if model_file_path else GENERATED_DIR, board)


def get_scene_embeddings(audio: torch.Tensor, model: DeviceEmbedder) -> torch.Tensor:
    """(n_sounds, n_samples) -> (n_sounds, scene_embedding_size) float32."""
    return _check_model(model).scene(audio)


def get_timestamp_embeddings(audio: torch.Tensor, model: DeviceEmbedder) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_sounds, n_samples) -> (embeddings (n_sounds, n_ts, D), timestamps in ms (n_sounds, n_ts)).

    Windows of 160 ms every 50 ms, timestamps at the window centres 0, 50, 100, ... ms.
    """
    return _check_model(model).timestamp(audio)


def _check_model(model) -> DeviceEmbedder:
    if not isinstance(model, DeviceEmbedder):
        raise UserError(f"expected a model from exporter.hear_int8.load_model, got {type(model).__name__}")
    return model


def _device(audio) -> torch.device:
    return audio.device if isinstance(audio, torch.Tensor) else torch.device("cpu")


def _as_pcm16(audio) -> np.ndarray:
    """(n_sounds, n_samples) float audio in [-1, 1] (tensor on any device, or array) -> int16 PCM, as `run` makes it."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().to("cpu", torch.float32).numpy()
    try:
        x = np.asarray(audio, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise UserError(f"expected float audio of shape (n_sounds, n_samples): {e}") from None
    if x.ndim != 2 or x.shape[0] == 0:
        raise UserError(f"expected audio of shape (n_sounds, n_samples) with n_sounds >= 1, got {x.shape}")
    return to_pcm16(x)
