"""HEAR API (hearbenchmark.com) for the float model: ``exporter.hear`` is a HEAR module.

    model = exporter.hear.load_model("mn01_as_mAP_298.pt")          # a checkpoint file
    model = exporter.hear.load_model(model="mn10_as")                # official, downloaded once
    model = exporter.hear.load_model(weights="random", width=0.1)    # seeded random, offline
    emb = exporter.hear.get_scene_embeddings(audio, model)           # (n_sounds, D)
    emb, ts = exporter.hear.get_timestamp_embeddings(audio, model)   # (n_sounds, n_ts, D), ms

``load_model(model_file_path="")``: a non-empty path is an EfficientAT
checkpoint (width inferred). Empty means the options decide; with no options
it is the official ``mn01_as`` (downloaded into ~/.cache/efficientat-m4 on
first use, a clear error when offline). Options: ``model``, ``weights``,
``seed``, ``width`` (as the CLI's model arguments) and ``features`` (default
"MB+L", the paper's M_B+L). Audio is mono 32 kHz in [-1, 1]; the model always
runs in eval mode (the original ``load_model`` returned a train-mode model).

``load_model(path, board="reference")`` loads the device's int8 embeddings
instead: ``path`` is then an export folder (empty: firmware/generated) and the
call is ``exporter.hear_int8.load_model`` (see there; that module is the same
API for hear-eval-kit without model options). The functions below serve both
models.
"""

from __future__ import annotations

import torch

from exporter import hear_int8
from exporter.float_model.embed import FloatEmbedder
from exporter.errors import UserError
from exporter.float_model.features import DEFAULT_FEATURES

DEFAULT_MODEL = "mn01_as"


def load_model(
    model_file_path: str = "",
    *,
    model: str | None = None,
    weights: str | None = None,
    seed: int = 0,
    width: float | None = None,
    features: str = DEFAULT_FEATURES,
    board: str | None = None,
) -> FloatEmbedder | hear_int8.DeviceEmbedder:
    from exporter.float_model.checkpoint import resolve_model

    if board is not None:
        # The export folder fixes the model and its features: the float model's options do not apply.
        if (model, weights, seed, width, features) != (None, None, 0, None, DEFAULT_FEATURES):
            raise UserError("board= loads an export folder, whose model and features are fixed: "
                            "model, weights, seed, width and features apply only to the float model")
        return hear_int8.load_model(model_file_path, board=board)
    checkpoint = model_file_path or None
    if checkpoint is None and model is None and weights is None:
        model = DEFAULT_MODEL
    net, info = resolve_model(checkpoint=checkpoint, model=model, weights=weights, seed=seed, width=width)
    return FloatEmbedder(net, features, info)


def get_scene_embeddings(audio: torch.Tensor, model: FloatEmbedder | hear_int8.DeviceEmbedder) -> torch.Tensor:
    """(n_sounds, n_samples) -> (n_sounds, scene_embedding_size) float32, on the model's device."""
    model.eval()
    return model.scene(audio)


def get_timestamp_embeddings(
    audio: torch.Tensor, model: FloatEmbedder | hear_int8.DeviceEmbedder
) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_sounds, n_samples) -> (embeddings (n_sounds, n_ts, D), timestamps in ms (n_sounds, n_ts)).

    Windows of 160 ms every 50 ms, timestamps at the window centres 0, 50, 100, ... ms.
    """
    model.eval()
    return model.timestamp(audio)
