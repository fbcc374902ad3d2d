"""The float MobileNetV3 of EfficientAT (mn01 ... mn40, `_as` mlp checkpoints).

The module tree reproduces the official checkpoint format exactly (state_dict
keys and shapes of EfficientAT @ a425fdc ``models/mn``), so official
checkpoints load strictly. The forward pass also returns the feature taps of
the HEAR wrapper (EfficientAT_HEAR ``MobileNetV3._forward_impl``).

Component ids: 0 = in_conv, 1..15 = blocks B1..B15, 16 = head conv
(``features[k]`` is component k).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from exporter.float_model.features import TAP_BLOCKS  # re-exported: the blocks whose outputs the HEAR wrapper taps

# EfficientAT's name -> width table (``models/mn/model.py`` NAME_TO_WIDTH).
NAME_TO_WIDTH = {
    "mn01": 0.1,
    "mn02": 0.2,
    "mn04": 0.4,
    "mn05": 0.5,
    "mn06": 0.6,
    "mn08": 0.8,
    "mn10": 1.0,
    "mn12": 1.2,
    "mn14": 1.4,
    "mn16": 1.6,
    "mn20": 2.0,
    "mn30": 3.0,
    "mn40": 4.0,
}

NUM_CLASSES = 527
N_MELS = 128
N_COMPONENTS = 17  # in_conv, B1..B15, head conv
BN_EPS = 1e-3  # TF-style BatchNorm of EfficientAT (not PyTorch's 1e-5)
BN_MOMENTUM = 0.01
SE_RATIO = 4
HEAD_FACTOR = 6  # head conv has 6 * out(B15) channels, not rounded separately
BASE_LAST_CHANNEL = 1280
BASE_IN_CONV = 16


# MobileNetV3-Large at width 1.0: (kernel, exp, out, SE, activation, stride) for B1..B15.
# The input channels of a block are the previous block's outputs (B1: the in_conv's 16).
_BASE_BLOCKS = (
    (3, 16, 16, False, "RE", 1),
    (3, 64, 24, False, "RE", 2),
    (3, 72, 24, False, "RE", 1),
    (5, 72, 40, True, "RE", 2),
    (5, 120, 40, True, "RE", 1),
    (5, 120, 40, True, "RE", 1),
    (3, 240, 80, False, "HS", 2),
    (3, 200, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 480, 112, True, "HS", 1),
    (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2),
    (5, 960, 160, True, "HS", 1),
    (5, 960, 160, True, "HS", 1),
)


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round to the nearest multiple of ``divisor`` (at least ``min_value``), never below 90% of v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def width_from_name(name: str) -> float:
    """Width of an official model name such as ``mn10_as`` (the part before ``_``).

    Unlike EfficientAT (which falls back to 1.0), an unknown name is an error.
    """
    from exporter.errors import UserError

    prefix = name.split("_", 1)[0]
    if prefix not in NAME_TO_WIDTH:
        raise UserError(f"unknown model name {name!r}: expected one of {', '.join(NAME_TO_WIDTH)} (e.g. mn10_as)")
    return NAME_TO_WIDTH[prefix]


@dataclass(frozen=True)
class BlockConfig:
    """One inverted residual block Bk after width scaling."""

    index: int  # k in 1..15: the block is features[k]
    kernel: int
    in_ch: int
    exp_ch: int
    out_ch: int
    has_expand: bool  # False where exp_ch == in_ch: the 1x1 expand conv is absent
    se_squeeze: int | None  # SE bottleneck size, None without SE
    act: str  # 'RE' (ReLU) or 'HS' (Hardswish), for the expand and depthwise layers
    stride: int  # of the depthwise conv
    residual: bool  # out += in

    @property
    def layer_indices(self) -> dict[str, int]:
        """Index j of each present layer in ``features[k].block[j]`` (the state_dict's ``block.j``)."""
        names = (["expand"] if self.has_expand else []) + ["depthwise"]
        names += (["se"] if self.se_squeeze is not None else []) + ["project"]
        return {n: j for j, n in enumerate(names)}


def in_conv_channels(width: float) -> int:
    return make_divisible(BASE_IN_CONV * width)


def block_configs(width: float) -> list[BlockConfig]:
    """The 15 blocks at ``width``, as the checkpoints of that width hold them."""
    configs = []
    in_ch = in_conv_channels(width)
    for k, (kernel, exp, out, se, act, stride) in enumerate(_BASE_BLOCKS, start=1):
        exp_ch = make_divisible(exp * width)
        out_ch = make_divisible(out * width)
        configs.append(
            BlockConfig(
                index=k,
                kernel=kernel,
                in_ch=in_ch,
                exp_ch=exp_ch,
                out_ch=out_ch,
                has_expand=exp_ch != in_ch,
                se_squeeze=make_divisible(exp_ch // SE_RATIO) if se else None,
                act=act,
                stride=stride,
                residual=stride == 1 and in_ch == out_ch,
            )
        )
        in_ch = out_ch
    return configs


def head_channels(width: float) -> int:
    """Channels of the head conv = size of Clf1."""
    return HEAD_FACTOR * block_configs(width)[-1].out_ch


def last_channel(width: float) -> int:
    """Hidden size of the classifier = size of Clf2."""
    return make_divisible(BASE_LAST_CHANNEL * width)


def _activation(act: str) -> nn.Module:
    return {"RE": nn.ReLU, "HS": nn.Hardswish}[act](inplace=True)


class ConvBNAct(nn.Sequential):
    """[Conv2d(no bias), BatchNorm2d(eps 1e-3), activation?]: keys ``0.weight``, ``1.*``."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, act: str | None = None):
        layers = [
            nn.Conv2d(in_ch, out_ch, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch, eps=BN_EPS, momentum=BN_MOMENTUM),
        ]
        if act is not None:
            layers.append(_activation(act))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """Channel SE: x * sigmoid(fc2(relu(fc1(mean_FT(x))))), with Linear fcs."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, squeeze)
        self.activation = nn.ReLU()
        self.fc2 = nn.Linear(squeeze, channels)
        self.scale_activation = nn.Sigmoid()
        self.last_fc1: torch.Tensor | None = None  # pre-ReLU fc1 output of the last forward (M_SE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.fc1(x.mean((2, 3)))
        self.last_fc1 = s
        gate = self.scale_activation(self.fc2(self.activation(s)))
        return x * gate[:, :, None, None]


class ConcurrentSEBlock(nn.Module):
    """EfficientAT's wrapper; with se_dims='c' it holds one SE layer and max-aggregation is the identity."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.conc_se_layers = nn.ModuleList([SqueezeExcitation(channels, squeeze)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conc_se_layers[0](x)

    @property
    def se(self) -> SqueezeExcitation:
        return self.conc_se_layers[0]


class InvertedResidual(nn.Module):
    """[expand?] -> depthwise (stride) -> [SE] -> project (no activation) -> [+ input]."""

    def __init__(self, cfg: BlockConfig):
        super().__init__()
        self.config = cfg
        layers: list[nn.Module] = []
        if cfg.has_expand:
            layers.append(ConvBNAct(cfg.in_ch, cfg.exp_ch, 1, act=cfg.act))
        layers.append(ConvBNAct(cfg.exp_ch, cfg.exp_ch, cfg.kernel, cfg.stride, groups=cfg.exp_ch, act=cfg.act))
        if cfg.se_squeeze is not None:
            layers.append(ConcurrentSEBlock(cfg.exp_ch, cfg.se_squeeze))
        layers.append(ConvBNAct(cfg.exp_ch, cfg.out_ch, 1, act=None))
        self.block = nn.Sequential(*layers)

    def _layer(self, name: str) -> nn.Module | None:
        j = self.config.layer_indices.get(name)
        return None if j is None else self.block[j]

    @property
    def expand(self) -> ConvBNAct | None:
        return self._layer("expand")

    @property
    def depthwise(self) -> ConvBNAct:
        return self._layer("depthwise")

    @property
    def se(self) -> SqueezeExcitation | None:
        wrapper = self._layer("se")
        return None if wrapper is None else wrapper.se

    @property
    def project(self) -> ConvBNAct:
        return self._layer("project")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return y + x if self.config.residual else y


class MobileNetV3(nn.Module):
    """EfficientAT ``MN`` with the mlp head, in the official checkpoint layout.

    ``forward(x)`` takes the normalised log-mel (B, 1, 128, T) and returns
    ``(logits, feats)`` with feats:
      - ``pooled``: list of 17 tensors (B, C_k), global average pool of component k's output
      - ``clf1``: (B, 6*C15) pooled head conv output (= ``pooled[16]``)
      - ``clf2``: (B, last_channel) Hardswish(Linear(clf1)) (post-activation, as the HEAR code stores it)
      - ``se{k}`` for every SE block k: (B, squeeze) fc1 output before ReLU (M_SE)
      - ``fmaps`` (only with ``return_fmaps=True``): list of the 17 component outputs
    """

    def __init__(self, width: float, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.width = width
        self.configs = block_configs(width)
        c0 = in_conv_channels(width)
        c_head = head_channels(width)
        c_last = last_channel(width)
        self.features = nn.Sequential(
            ConvBNAct(1, c0, 3, stride=2, act="HS"),
            *[InvertedResidual(cfg) for cfg in self.configs],
            ConvBNAct(self.configs[-1].out_ch, c_head, 1, act="HS"),
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(1),
            nn.Linear(c_head, c_last),
            nn.Hardswish(inplace=True),
            nn.Dropout(p=0.2, inplace=True),
            nn.Linear(c_last, num_classes),
        )

    def forward(self, x: torch.Tensor, return_fmaps: bool = False) -> tuple[torch.Tensor, dict]:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"expected a log-mel batch (B, 1, n_mels, T), got shape {tuple(x.shape)}")
        pooled: list[torch.Tensor] = []
        fmaps: list[torch.Tensor] = []
        for layer in self.features:
            x = layer(x)
            pooled.append(x.mean((2, 3)))
            if return_fmaps:
                fmaps.append(x)
        feats: dict = {"pooled": pooled, "clf1": pooled[-1]}
        for block in self.features[1:16]:
            if block.se is not None:
                feats[f"se{block.config.index}"] = block.se.last_fc1
                block.se.last_fc1 = None  # do not keep the tensor alive between calls
        hidden = self.classifier[3](self.classifier[2](pooled[-1]))
        feats["clf2"] = hidden
        logits = self.classifier[5](self.classifier[4](hidden))
        if return_fmaps:
            feats["fmaps"] = fmaps
        return logits, feats


def count_parameters(width: float) -> int:
    """Trainable parameters of the model at ``width`` (built on the meta device: no memory used)."""
    with torch.device("meta"):
        model = MobileNetV3(width)
    return sum(p.numel() for p in model.parameters())
