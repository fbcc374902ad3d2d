"""The HEAR API module exporter.hear: golden outputs, eval mode, offline defaults, the official validator."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import exporter.hear as hear
from exporter import ROOT
from exporter.errors import UserError

TOL = 2e-3


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


def _validator_script(checkpoint) -> str:
    # hearvalidator 2021.0.2 (the only release) accepts only 16000/22050/44100/48000 Hz (the HEAR 2021
    # rule) and fails on 32 kHz with an AttributeError in its own error message. The paper's model is
    # 32 kHz (as EfficientAT_HEAR declares), so 32000 is added to that list; every other check is the
    # validator's own, unmodified.
    return (
        "import sys\n"
        "import hearvalidator.validate as v\n"
        "v.ValidateModel.ACCEPTABLE_SAMPLE_RATE = v.ValidateModel.ACCEPTABLE_SAMPLE_RATE + [32000]\n"
        f"sys.argv = ['hear-validator', 'exporter.hear', '--model', {str(checkpoint)!r}, '--device', 'cpu']\n"
        "v.main()\n"
    )


@pytest.mark.slow
def test_official_hear_validator_passes(mn01_seed0_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run(
        [sys.executable, "-c", _validator_script(mn01_seed0_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Received embedding of shape: torch.Size([16, 41, 184])" in proc.stdout
    assert "Received embedding of shape: torch.Size([8, 184])" in proc.stdout
    assert proc.stdout.rstrip().endswith("Looks good!")
