"""The float MobileNetV3 against the authors' layout, parameter counts and golden outputs."""

import math

import numpy as np
import pytest
import torch

from exporter.float_model.mobilenet import (
    BN_EPS,
    MobileNetV3,
    block_configs,
    count_parameters,
    head_channels,
    last_channel,
    make_divisible,
    width_from_name,
)
from exporter.errors import UserError

# The authors' outputs for the golden log-mel input, float32. Measured: feature maps within 2.1e-5 (B15;
# in_conv..B4 exactly equal), pooled outputs, SE, clf and logits within 2.4e-6. Limits 2.5x that; the
# README's 2e-3 is what any independent float32 implementation meets.
FMAP_TOL = 5e-5
OUT_TOL = 6e-6

# FACTS.md 1.4, compact table: "in/exp/out[/se]" for B1..B15 at width 0.1, 0.4 and 1.0.
TABLE = {
    0.1: "8/8/8 8/8/8 8/8/8 8/8/8/8 8/16/8/8 8/16/8/8 8/24/8 8/24/8 8/24/8 8/24/8 "
    "8/48/16/16 16/64/16/16 16/64/16/16 16/96/16/24 16/96/16/24",
    0.4: "8/8/8 8/24/16 16/32/16 16/32/16/8 16/48/16/16 16/48/16/16 16/96/32 32/80/32 32/72/32 32/72/32 "
    "32/192/48/48 48/272/48/72 48/272/64/72 64/384/64/96 64/384/64/96",
    1.0: "16/16/16 16/64/24 24/72/24 24/72/40/24 40/120/40/32 40/120/40/32 40/240/80 80/200/80 80/184/80 "
    "80/184/80 80/480/112/120 112/672/112/168 112/672/160/168 160/960/160/240 160/960/160/240",
}
KERNELS = [3, 3, 3, 5, 5, 5, 3, 3, 3, 3, 3, 3, 5, 5, 5]
STRIDE2 = {2, 4, 7, 13}


def _read_layout(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path) if not line.startswith("#")]
    return [(k, s, d) for k, s, d in rows]


@pytest.mark.parametrize("width", sorted(TABLE))
def test_block_configs_match_reference_table(width):
    cfgs = block_configs(width)
    assert [c.index for c in cfgs] == list(range(1, 16))
    for cfg, entry, kernel in zip(cfgs, TABLE[width].split(), KERNELS):
        values = [int(v) for v in entry.split("/")]
        assert (cfg.in_ch, cfg.exp_ch, cfg.out_ch) == tuple(values[:3]), cfg
        assert cfg.se_squeeze == (values[3] if len(values) == 4 else None), cfg
        assert cfg.has_expand == (cfg.exp_ch != cfg.in_ch)
        assert cfg.kernel == kernel
        assert cfg.stride == (2 if cfg.index in STRIDE2 else 1)
        assert cfg.act == ("RE" if cfg.index <= 6 else "HS")
        assert cfg.residual == (cfg.stride == 1 and cfg.in_ch == cfg.out_ch)


def test_expand_conv_absent_where_reference_says():
    assert [c.index for c in block_configs(0.1) if not c.has_expand] == [1, 2, 3, 4]
    for w in (0.2, 0.5, 1.0, 4.0):
        assert [c.index for c in block_configs(w) if not c.has_expand] == [1]
    # B11 at width 0.1 has in 8 != out 16: no residual, as at width 1.0
    assert not block_configs(0.1)[10].residual and not block_configs(1.0)[10].residual


def test_make_divisible_rules():
    assert make_divisible(112 * 0.1) == 16  # rounds to 8, but 8 < 0.9 * 11.2
    assert make_divisible(16 * 0.1) == 8  # minimum 8
    assert make_divisible(12) == 16  # halves round up
    assert make_divisible(11.9) == 8 + 8 * (8 < 0.9 * 11.9)
    assert make_divisible(672 // 4) == 168


@pytest.mark.parametrize(
    "width,head,last", [(0.1, 96, 128), (0.2, 192, 256), (1.0, 960, 1280), (3.0, 2880, 3840), (4.0, 3840, 5120)]
)
def test_head_and_classifier_sizes(width, head, last):
    assert head_channels(width) == head  # 6 * out(B15), not rounded on its own
    assert last_channel(width) == last


@pytest.mark.parametrize(
    "width,params",
    [(0.1, 123_783), (0.2, 324_695), (0.5, 1_431_239), (1.0, 4_876_831), (2.0, 17_909_287), (4.0, 68_427_303)],
)
def test_parameter_counts_match_paper(width, params):
    assert count_parameters(width) == params


@pytest.mark.parametrize("width,name", [(0.1, "state_dict_mn01.txt"), (1.0, "state_dict_mn10.txt")])
def test_state_dict_layout_equals_official(width, name, data_dir):
    expected = _read_layout(data_dir / name)
    with torch.device("meta"):
        sd = MobileNetV3(width).state_dict()
    got = [(k, str(tuple(v.shape)), str(v.dtype).replace("torch.", "")) for k, v in sd.items()]
    assert got == expected


def test_batchnorm_is_tf_style_everywhere():
    bns = [m for m in MobileNetV3(0.1).modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 1 + sum(2 + c.has_expand for c in block_configs(0.1)) + 1
    assert all(m.eps == BN_EPS == 1e-3 and m.momentum == 0.01 for m in bns)


def test_module_accessors_follow_layer_indices():
    net = MobileNetV3(0.1)
    b4, b5 = net.features[4], net.features[5]
    assert b4.expand is None and b4.config.layer_indices == {"depthwise": 0, "se": 1, "project": 2}
    assert b5.expand is net.features[5].block[0] and b5.se is b5.block[2].conc_se_layers[0]
    assert b5.depthwise[0].groups == 16 and b5.depthwise[0].stride == (1, 1)
    assert net.features[7].se is None and net.features[7].depthwise[0].stride == (2, 2)


def test_forward_reproduces_golden_outputs(mn01_seed0_net, mn01_golden):
    g = mn01_golden
    with torch.no_grad():
        logits, feats = mn01_seed0_net(torch.from_numpy(g["logmel_input"]), return_fmaps=True)
    np.testing.assert_allclose(logits.numpy(), g["logits"], atol=OUT_TOL, rtol=0)
    np.testing.assert_allclose(feats["clf1"].numpy(), g["clf1"], atol=OUT_TOL, rtol=0)
    np.testing.assert_allclose(feats["clf2"].numpy(), g["clf2"], atol=OUT_TOL, rtol=0)
    assert g["clf2"].min() < 0  # post-Hardswish values: the golden exercises the activation
    for k in (5, 11, 13, 15):
        np.testing.assert_allclose(feats[f"se{k}"].numpy(), g[f"se_B{k}"], atol=OUT_TOL, rtol=0)
    names = ["in_conv"] + [f"B{k}" for k in range(1, 16)] + ["head_conv"]
    assert len(feats["pooled"]) == len(feats["fmaps"]) == 17
    for name, pooled, fmap in zip(names, feats["pooled"], feats["fmaps"]):
        assert fmap.shape == g[f"fmap_{name}"].shape, name
        np.testing.assert_allclose(fmap.numpy(), g[f"fmap_{name}"], atol=FMAP_TOL, rtol=0, err_msg=name)
        np.testing.assert_allclose(pooled.numpy(), g[f"pooled_{name}"], atol=OUT_TOL, rtol=0, err_msg=name)


@pytest.mark.parametrize("frames", [16, 17, 300, 1000])
def test_feature_map_sizes_are_ceil_halvings(frames):
    net = MobileNetV3(0.1).eval()
    with torch.no_grad():
        logits, feats = net(torch.zeros(2, 1, 128, frames), return_fmaps=True)
    assert logits.shape == (2, 527)
    f, t = 128, frames
    for k, fmap in enumerate(feats["fmaps"]):
        if k == 0 or (1 <= k <= 15 and block_configs(0.1)[k - 1].stride == 2):
            f, t = math.ceil(f / 2), math.ceil(t / 2)
        assert fmap.shape[2:] == (f, t), k
    assert (f, t) == (4, math.ceil(frames / 32))


def test_forward_rejects_wrong_input_shape():
    with pytest.raises(ValueError, match="B, 1, n_mels, T"):
        MobileNetV3(0.1)(torch.zeros(1, 128, 300))


def test_model_names():
    assert width_from_name("mn01_as") == 0.1 and width_from_name("mn40_as_ext") == 4.0
    with pytest.raises(UserError, match="unknown model name"):
        width_from_name("dymn10_as")
