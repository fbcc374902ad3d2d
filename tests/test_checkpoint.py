"""Loading checkpoints, width inference, strict checks, official names offline, seeded random weights."""

import argparse
import hashlib
import shutil

import numpy as np
import pytest
import torch

from exporter.float_model.checkpoint import (
    OFFICIAL_FILES,
    add_model_arguments,
    infer_width,
    load_state_dict,
    model_from_state_dict,
    official_checkpoint,
    random_state_dict,
    resolve_model,
    resolve_model_args,
)
from exporter.errors import UserError
from exporter.float_model.preprocess import LogMel

UNREACHABLE = "http://127.0.0.1:9/"  # discard port: connection refused, no network needed


@pytest.fixture(scope="module")
def sd01(mn01_seed0_path):
    return torch.load(mn01_seed0_path, weights_only=True)


def _layout(path):
    return [line.split("\t")[:2] for line in open(path) if not line.startswith("#")]


def test_resolve_checkpoint_infers_width_and_records_info(mn01_seed0_path):
    net, info = resolve_model(checkpoint=mn01_seed0_path)
    assert net.width == 0.1 and not net.training
    assert info.source == "checkpoint" and info.name == "mn01_seed0.pt" and info.width == 0.1
    assert info.sha256 == hashlib.sha256(mn01_seed0_path.read_bytes()).hexdigest()
    ref = torch.load(mn01_seed0_path, weights_only=True)
    assert all(torch.equal(ref[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("wrapper", ["model", "state_dict"])
def test_wrapped_state_dict_loads(wrapper, sd01, tmp_path):
    path = tmp_path / "wrapped.pt"
    torch.save({wrapper: sd01, "epoch": torch.tensor(3)}, path)
    assert load_state_dict(path).keys() == sd01.keys()


def test_mn10_layout_loads_strictly(data_dir):
    sd = random_state_dict("mn10_as", seed=1)
    assert [[k, str(tuple(v.shape))] for k, v in sd.items()] == _layout(data_dir / "state_dict_mn10.txt")
    assert infer_width(sd) == 1.0
    net = model_from_state_dict(sd)
    assert all(torch.equal(sd[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("width", [0.2, 0.5, 2.0])
def test_width_inferred_from_shapes(width):
    with torch.device("meta"):
        from exporter.float_model.mobilenet import MobileNetV3

        sd = MobileNetV3(width).state_dict()
    assert infer_width(sd) == width


def test_missing_key_is_named(sd01):
    sd = dict(sd01)
    del sd["features.5.block.2.conc_se_layers.0.fc1.bias"]
    with pytest.raises(UserError, match=r"1 missing keys: features\.5\.block\.2\.conc_se_layers\.0\.fc1\.bias"):
        model_from_state_dict(sd, origin="ck.pt")


def test_unexpected_key_is_named(sd01):
    sd = dict(sd01, **{"features.17.0.weight": torch.zeros(1)})
    with pytest.raises(UserError, match=r"unexpected keys: features\.17\.0\.weight"):
        model_from_state_dict(sd)


def test_misshaped_key_is_named_with_shapes(sd01):
    sd = dict(sd01, **{"classifier.5.weight": torch.zeros(10, 128)})
    with pytest.raises(UserError, match=r"mis-shaped: classifier\.5\.weight \(10, 128\) \(expected \(527, 128\)\)"):
        model_from_state_dict(sd)


def test_width_override_is_checked(sd01):
    with pytest.raises(UserError, match="mn10.*mis-shaped"):
        model_from_state_dict(sd01, width=1.0)
    with pytest.raises(UserError, match="unsupported width 0.3"):
        model_from_state_dict(sd01, width=0.3)


def test_wrong_family_rejected(tmp_path):
    # a torchvision-style MobileNetV3 / a fully-convolutional EfficientAT head
    with pytest.raises(UserError, match="not an EfficientAT MobileNetV3"):
        infer_width({"features.0.0.weight": torch.zeros(16, 3, 3, 3), "classifier.3.weight": torch.zeros(1000, 1280)})
    with pytest.raises(UserError, match="not an EfficientAT MobileNetV3"):
        infer_width({"conv.weight": torch.zeros(1)})


def test_not_a_checkpoint(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(UserError, match=r"notes\.pt: not a PyTorch checkpoint"):
        load_state_dict(text)
    lst = tmp_path / "list.pt"
    torch.save([1, 2, 3], lst)
    with pytest.raises(UserError, match=r"list\.pt: not a checkpoint .*list"):
        load_state_dict(lst)
    with pytest.raises(UserError, match="no such checkpoint file"):
        load_state_dict(tmp_path / "missing.pt")


def test_official_download_without_network(tmp_path):
    with pytest.raises(UserError, match=r"cannot download mn01_as from http://127\.0\.0\.1:9/mn01_as_mAP_298\.pt"):
        official_checkpoint("mn01_as", url_base=UNREACHABLE, cache=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind
    with pytest.raises(UserError, match="unknown model 'mn99_as'"):
        official_checkpoint("mn99_as", cache=tmp_path)


def test_official_name_uses_cache_offline(tmp_path, monkeypatch, mn01_seed0_path):
    monkeypatch.setenv("EFFICIENTAT_M4_CACHE", str(tmp_path))
    monkeypatch.setenv("EFFICIENTAT_M4_URL_BASE", UNREACHABLE)
    with pytest.raises(UserError, match="cannot download mn01_as"):
        resolve_model(model="mn01_as")
    shutil.copy(mn01_seed0_path, tmp_path / OFFICIAL_FILES["mn01_as"])
    net, info = resolve_model(model="mn01_as")
    assert info.source == "official" and info.name == "mn01_as" and net.width == 0.1
    with pytest.raises(UserError, match="contradicts"):
        resolve_model(model="mn01_as", width=1.0)


def test_random_weights_are_seeded_and_realistic():
    a, b, c = random_state_dict(0.1, 0), random_state_dict("mn01_as", 0), random_state_dict(0.1, 1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["features.16.0.weight"], c["features.16.0.weight"])
    means = torch.cat([v for k, v in a.items() if k.endswith("running_mean")])
    variances = torch.cat([v for k, v in a.items() if k.endswith("running_var")])
    assert means.abs().mean() > 0.05 and (variances - 1).abs().mean() > 0.1  # BN folding is not the identity
    assert (variances > 0).all()


def test_random_model_gives_lively_features(test_audio):
    net, info = resolve_model(weights="random", seed=0)
    assert info.source == "random" and info.width == 0.1 and info.name == "random-mn01-seed0"
    with torch.no_grad():
        logits, feats = net(LogMel()(torch.from_numpy(test_audio[None])).unsqueeze(1))
    for k in (5, 11, 13, 15):
        pooled = feats["pooled"][k]
        assert torch.isfinite(pooled).all() and pooled.std() > 0.05
    assert torch.isfinite(logits).all()


def test_resolve_model_argument_errors(mn01_seed0_path):
    with pytest.raises(UserError, match="no model given"):
        resolve_model()
    with pytest.raises(UserError, match="exclude each other"):
        resolve_model(checkpoint=mn01_seed0_path, model="mn01_as")
    with pytest.raises(UserError, match="exclude each other"):
        resolve_model(checkpoint=mn01_seed0_path, weights="random")
    with pytest.raises(UserError, match="only choice is 'random'"):
        resolve_model(weights="pretrained")
    with pytest.raises(UserError, match="unsupported width"):
        resolve_model(weights="random", width=0.3)


def test_model_arguments_parse(mn01_seed0_path):
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    args = parser.parse_args(["--weights", "random", "--seed", "3", "--width", "0.2"])
    net, info = resolve_model_args(args)
    assert info.width == 0.2 and info.seed == 3 and net.width == 0.2
    args = parser.parse_args(["--checkpoint", str(mn01_seed0_path)])
    assert resolve_model_args(args)[1].source == "checkpoint"
    with pytest.raises(SystemExit):
        parser.parse_args(["--model", "resnet50"])


def test_float_dtype_checkpoint_is_cast(sd01, tmp_path):
    path = tmp_path / "half.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in sd01.items()}, path)
    net, _ = resolve_model(checkpoint=path)
    assert net.features[0][0].weight.dtype == torch.float32
    np.testing.assert_allclose(
        net.features[0][0].weight.detach().numpy(), sd01["features.0.0.weight"].half().float().numpy()
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_by_name(sd01, tmp_path, value):
    bad = {k: v.clone() for k, v in sd01.items()}
    bad["features.5.block.1.0.weight"].view(-1)[7] = value
    bad["classifier.5.bias"][0] = value
    path = tmp_path / "bad.pt"
    torch.save(bad, path)
    with pytest.raises(UserError, match=r"bad\.pt: 2 tensor\(s\) with NaN or infinite values: "
                                        r"features\.5\.block\.1\.0\.weight, classifier\.5\.bias"):
        resolve_model(checkpoint=path)


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64])
def test_seed_out_of_range_is_a_clear_error(seed):
    with pytest.raises(UserError, match=f"--seed {seed} is out of range: use 0 ... 4294967295"):
        resolve_model(weights="random", seed=seed)


def test_pickled_whole_model_is_refused_in_one_clean_line(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(UserError) as e:
        load_state_dict(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: holds pickled Python objects (torch.nn.modules.linear.Linear)")
    assert msg.endswith("save its state_dict() instead") and "\n" not in msg and "\x1b" not in msg
