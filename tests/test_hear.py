"""The HEAR API module exporter.hear: golden outputs, eval mode, offline defaults, the official validator."""

import numpy as np
import pytest
import torch

import exporter.hear as hear
from exporter.errors import UserError

# Measured against the HEAR wrapper's golden embeddings: scene 1.1e-4 (in B15; L within 1e-6),
# timestamp 2.8e-5. The README's 2e-3 is what any independent float32 implementation meets.
TOL = 3e-4


def test_checkpoint_path_gives_golden_embeddings(mn01_seed0_path, test_audio, mn01_golden):
    model = hear.load_model(str(mn01_seed0_path))
    assert isinstance(model, torch.nn.Module)
    assert model.sample_rate == 32000
    assert model.scene_embedding_size == model.timestamp_embedding_size == 184
    assert isinstance(model.scene_embedding_size, int)
    audio = torch.from_numpy(test_audio[None])
    scene = hear.get_scene_embeddings(audio, model)
    np.testing.assert_allclose(scene.numpy(), mn01_golden["hear_scene_MB_L"], atol=TOL, rtol=0)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    np.testing.assert_allclose(emb.numpy(), mn01_golden["hear_ts_MB_L"], atol=TOL, rtol=0)
    np.testing.assert_array_equal(ts.numpy(), mn01_golden["hear_ts_timestamps_ms"])


def test_always_eval_even_after_train(mn01_seed0_path, test_audio, mn01_golden):
    """The original load_model left the model in train mode (random fmin/fmax, masking, batch-stat BN)."""
    model = hear.load_model(str(mn01_seed0_path))
    model.train()
    scene = hear.get_scene_embeddings(torch.from_numpy(test_audio[None]), model)
    assert not model.training and not model.net.training
    np.testing.assert_allclose(scene.numpy(), mn01_golden["hear_scene_MB_L"], atol=TOL, rtol=0)


def test_options_select_model_and_features(test_audio):
    model = hear.load_model(weights="random", width=1.0, features="MSE")
    assert model.scene_embedding_size == 560 and model.info.name == "random-mn10-seed0"
    emb, ts = hear.get_timestamp_embeddings(torch.from_numpy(test_audio[None, :16000]), model)
    assert emb.shape == (1, 11, 560) and emb.dtype == torch.float32


def test_default_is_official_mn01_and_fails_clearly_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFICIENTAT_M4_CACHE", str(tmp_path))
    monkeypatch.setenv("EFFICIENTAT_M4_URL_BASE", "http://127.0.0.1:9/")
    with pytest.raises(UserError, match="cannot download mn01_as .*--checkpoint PATH"):
        hear.load_model()


@pytest.mark.slow
def test_official_hear_validator_passes(mn01_seed0_path, hear_validator):
    proc = hear_validator("exporter.hear", mn01_seed0_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Received embedding of shape: torch.Size([16, 41, 184])" in proc.stdout
    assert "Received embedding of shape: torch.Size([8, 184])" in proc.stdout
    assert proc.stdout.rstrip().endswith("Looks good!")
