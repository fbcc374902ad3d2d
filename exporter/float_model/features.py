"""Feature sets of the paper and how they form an embedding.

Sets: L (time-averaged log-mel, 128), MB (pooled outputs of B5, B11, B13,
B15), MSE (pre-ReLU SE bottlenecks of the same blocks), Clf1, Clf2, Clf3
(logits). A combination is written with '+', e.g. "MB+L" (the paper's M_B+L,
the default). Whatever order is written, the pieces are concatenated in the
HEAR wrapper's fixed order: L, clf1, clf2, logits, se5, se11, se13, se15, b5,
b11, b13, b15.

Importing this module does not import torch (the CLI's --help stays fast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exporter.errors import UserError

if TYPE_CHECKING:
    import torch

DEFAULT_FEATURES = "MB+L"

# The blocks whose pooled outputs (MB) and SE bottlenecks (MSE) the HEAR wrapper taps.
TAP_BLOCKS = (5, 11, 13, 15)

# The wrapper's concatenation order of the pieces ("components").
COMPONENT_ORDER = ("L", "clf1", "clf2", "logits") + tuple(f"se{k}" for k in TAP_BLOCKS) + tuple(
    f"b{k}" for k in TAP_BLOCKS
)

FEATURE_SETS = {
    "L": ("L",),
    "MB": tuple(f"b{k}" for k in TAP_BLOCKS),
    "MSE": tuple(f"se{k}" for k in TAP_BLOCKS),
    "Clf1": ("clf1",),
    "Clf2": ("clf2",),
    "Clf3": ("logits",),
}
_BY_LOWER = {name.lower(): name for name in FEATURE_SETS}
ALL_FEATURES = "+".join(FEATURE_SETS)


def parse_features(spec: str) -> tuple[str, ...]:
    """"MB+L" -> the components in concatenation order, e.g. ('L', 'b5', 'b11', 'b13', 'b15')."""
    names = [part.strip() for part in str(spec).split("+")]
    chosen: set[str] = set()
    for name in names:
        canonical = _BY_LOWER.get(name.lower())
        if canonical is None:
            raise UserError(
                f"unknown feature set {name!r} in {spec!r}: use {', '.join(FEATURE_SETS)} or a '+' combination like MB+L"
            )
        if canonical in chosen:
            raise UserError(f"feature set {canonical} appears twice in {spec!r}")
        chosen.add(canonical)
    components = {c for name in chosen for c in FEATURE_SETS[name]}
    return tuple(c for c in COMPONENT_ORDER if c in components)


def component_sizes(width: float) -> dict[str, int]:
    """Size of every component at ``width``, in concatenation order."""
    from exporter.float_model.mobilenet import N_MELS, NUM_CLASSES, block_configs, head_channels, last_channel

    cfgs = {c.index: c for c in block_configs(width)}
    sizes = {"L": N_MELS, "clf1": head_channels(width), "clf2": last_channel(width), "logits": NUM_CLASSES}
    sizes.update({f"se{k}": cfgs[k].se_squeeze for k in TAP_BLOCKS})
    sizes.update({f"b{k}": cfgs[k].out_ch for k in TAP_BLOCKS})
    return sizes


def component_offsets(width: float, features: str = DEFAULT_FEATURES) -> list[tuple[str, int, int]]:
    """[(component, start, end)] of each piece in the embedding."""
    sizes = component_sizes(width)
    out, start = [], 0
    for c in parse_features(features):
        out.append((c, start, start + sizes[c]))
        start += sizes[c]
    return out


def embedding_size(width: float, features: str = DEFAULT_FEATURES) -> int:
    sizes = component_sizes(width)
    return sum(sizes[c] for c in parse_features(features))


def component_tensor(component: str, mel_avgs: torch.Tensor, logits: torch.Tensor, feats: dict) -> torch.Tensor:
    """One component (B, size) from the model's outputs (see MobileNetV3.forward)."""
    if component == "L":
        return mel_avgs
    if component == "logits":
        return logits
    if component in ("clf1", "clf2") or component.startswith("se"):
        return feats[component]
    if component.startswith("b"):
        return feats["pooled"][int(component[1:])]
    raise KeyError(component)


def assemble(components: tuple[str, ...], mel_avgs: torch.Tensor, logits: torch.Tensor, feats: dict) -> torch.Tensor:
    """Concatenate ``components`` (from parse_features) into (B, D)."""
    import torch

    return torch.cat([component_tensor(c, mel_avgs, logits, feats) for c in components], dim=1)
