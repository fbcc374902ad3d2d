"""Where the float model's weights come from: a checkpoint file, an official name, or seeded random.

Every command that needs a model (embed, export, run) calls ``resolve_model``
with the arguments ``add_model_arguments`` adds, so they all accept the same
``--checkpoint P | --model NAME | --weights random [--seed N] [--width W]``.

torch (and the model, which needs it) is imported inside the functions, so
that commands can add these arguments without making ``--help`` slow.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from exporter import SAMPLE_RATE
from exporter.errors import UserError
from exporter.outputs import follow_umask

if TYPE_CHECKING:
    import numpy as np
    import torch

    from exporter.float_model.mobilenet import MobileNetV3

# The EfficientAT release holding the AudioSet checkpoints (one per width: the best mAP).
DEFAULT_URL_BASE = "https://github.com/fschmid56/EfficientAT/releases/download/v0.0.1/"
URL_BASE_ENV = "EFFICIENTAT_M4_URL_BASE"
CACHE_ENV = "EFFICIENTAT_M4_CACHE"
DEFAULT_CACHE = Path("~/.cache/efficientat-m4")
OFFICIAL_FILES = {
    "mn01_as": "mn01_as_mAP_298.pt",
    "mn02_as": "mn02_as_mAP_378.pt",
    "mn04_as": "mn04_as_mAP_432.pt",
    "mn05_as": "mn05_as_mAP_443.pt",
    "mn10_as": "mn10_as_mAP_471.pt",
    "mn20_as": "mn20_as_mAP_478.pt",
    "mn30_as": "mn30_as_mAP_482.pt",
    "mn40_as": "mn40_as_mAP_484.pt",
}
DEFAULT_RANDOM_WIDTH = 0.1


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded, for reports and npz metadata."""

    name: str  # official name, checkpoint file name, or "random-mn01-seed0"
    width: float
    source: str  # "checkpoint" | "official" | "random"
    path: str | None = None
    sha256: str | None = None
    seed: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def expected_shapes(width: float) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the official state_dict at ``width`` (built on the meta device)."""
    import torch

    from exporter.float_model.mobilenet import MobileNetV3

    with torch.device("meta"):
        model = MobileNetV3(width)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _width_names() -> dict[float, str]:
    from exporter.float_model.mobilenet import NAME_TO_WIDTH

    return {w: n for n, w in NAME_TO_WIDTH.items()}


def width_from_name(name: str) -> float:
    from exporter.float_model.mobilenet import width_from_name as from_name

    return from_name(name)


def check_width(width: float) -> float:
    """A width of EfficientAT's name table (0.1 ... 4.0)."""
    names = _width_names()
    if width not in names:
        raise UserError(f"unsupported width {width:g}: choose one of {', '.join(f'{w:g}' for w in sorted(names))}")
    return width


def _width_of(width_or_name: float | str) -> float:
    return width_from_name(width_or_name) if isinstance(width_or_name, str) else check_width(float(width_or_name))


def _width_name(width: float) -> str:
    return _width_names().get(width, f"width {width:g}")


def _mismatch(state_dict: dict, width: float) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, mis-shaped) keys of ``state_dict`` against the layout at ``width``."""
    expected = expected_shapes(width)
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    misshaped = [
        f"{k} {tuple(state_dict[k].shape)} (expected {expected[k]})"
        for k in expected
        if k in state_dict and tuple(state_dict[k].shape) != expected[k]
    ]
    return missing, unexpected, misshaped


def _describe(keys: list[str], what: str, limit: int = 6) -> str:
    shown = ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")
    return f"{len(keys)} {what}: {shown}"


def check_state_dict(state_dict: dict, width: float, origin: str = "checkpoint") -> None:
    """Strict key and shape check against the official layout; raises UserError naming every kind of problem."""
    missing, unexpected, misshaped = _mismatch(state_dict, width)
    if missing or unexpected or misshaped:
        parts = [
            _describe(keys, what)
            for keys, what in ((missing, "missing keys"), (unexpected, "unexpected keys"), (misshaped, "mis-shaped"))
            if keys
        ]
        raise UserError(
            f"{origin} does not match the EfficientAT {_width_name(width)} (_as, mlp head) layout: " + "; ".join(parts)
        )


def infer_width(state_dict: dict, origin: str = "checkpoint") -> float:
    """The width whose official layout ``state_dict`` matches exactly."""
    if "features.0.0.weight" not in state_dict or "classifier.5.weight" not in state_dict:
        raise UserError(
            f"{origin} is not an EfficientAT MobileNetV3 (mn*_as) checkpoint: "
            "it has no 'features.0.0.weight' / 'classifier.5.weight'"
        )
    widths = sorted(_width_names())
    for width in widths:
        if not any(_mismatch(state_dict, width)):
            return width
    # Report against the closest layout: the one with the fewest differences.
    closest = min(widths, key=lambda w: sum(len(x) for x in _mismatch(state_dict, w)))
    check_state_dict(state_dict, closest, origin + " (closest width)")
    raise AssertionError("unreachable")


def load_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A plain state_dict (or one wrapped under 'model' / 'state_dict') from a torch.save file."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and weights_only errors all mean "not a checkpoint we can read"
        # torch's weights_only messages are many lines with terminal escape codes (their first line
        # ends mid-sentence): say what they mean in one line.
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if found:
            raise UserError(
                f"{path}: holds pickled Python objects ({found.group(1)}), not just tensors: a whole model "
                f"saved with torch.save(model)? It is not loaded, since unpickling can run arbitrary code. "
                f"Where you trust the file, load it yourself and save its state_dict() instead"
            ) from None
        detail = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", str(e))
        raise UserError(f"{path}: not a PyTorch checkpoint ({detail.group(1).strip() if detail else _first_line(e)})") from None
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{path}: not a checkpoint (expected a state_dict of tensors, found {type(obj).__name__})")
    return obj


def _first_line(e: Exception) -> str:
    """The first line of an exception's message, without terminal escape codes."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(e)).strip()
    return text.splitlines()[0].strip() if text else type(e).__name__


def check_finite(state_dict: dict, origin: str = "checkpoint") -> None:
    """Refuse NaN or infinite weights, naming the tensors: they would give NaN embeddings
    (embed) or fail deep inside calibration (export)."""
    import torch

    bad = [k for k, v in state_dict.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise UserError(f"{origin}: " + _describe(bad, "tensor(s) with NaN or infinite values"))


def check_seed(seed: int, what: str = "--seed") -> int:
    """Seeds are 32-bit unsigned, as numpy's and torch's generators take them everywhere."""
    if not 0 <= seed < 2**32:
        raise UserError(f"{what} {seed} is out of range: use 0 ... {2**32 - 1}")
    return seed


def model_from_state_dict(state_dict: dict, width: float | None = None, origin: str = "checkpoint") -> MobileNetV3:
    """Eval-mode float32 model; the width is inferred from the shapes unless given."""
    import torch

    from exporter.float_model.mobilenet import MobileNetV3

    if width is None:
        width = infer_width(state_dict, origin)
    else:
        check_width(width)
        check_state_dict(state_dict, width, origin)
    check_finite(state_dict, origin)
    with torch.device("meta"):  # no init work: every tensor comes from the state_dict
        model = MobileNetV3(width)
    tensors = {k: (v.to(torch.float32) if v.is_floating_point() else v).clone() for k, v in state_dict.items()}
    model.load_state_dict(tensors, assign=True)
    return model.eval()


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def official_checkpoint(name: str, url_base: str | None = None, cache: str | os.PathLike | None = None) -> Path:
    """Path of the official checkpoint ``name`` (e.g. mn10_as), downloaded into the cache on first use."""
    if name not in OFFICIAL_FILES:
        raise UserError(f"unknown model {name!r}: official models are {', '.join(OFFICIAL_FILES)}")
    cache = Path(cache).expanduser() if cache is not None else cache_dir()
    target = cache / OFFICIAL_FILES[name]
    if target.is_file():
        return target
    base = url_base or os.environ.get(URL_BASE_ENV) or DEFAULT_URL_BASE
    url = urllib.parse.urljoin(base if base.endswith("/") else base + "/", OFFICIAL_FILES[name])
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".part", dir=cache)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        follow_umask(tmp)  # mkstemp made it 0600
        os.replace(tmp, target)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if not isinstance(e, (urllib.error.URLError, OSError)):
            raise
        raise UserError(
            f"cannot download {name} from {url} ({getattr(e, 'reason', e)}). Without network access, "
            f"fetch the file elsewhere and pass --checkpoint PATH, or put it at {target}"
        ) from None
    return target


# ---------------------------------------------------------------------------------------------
# Seeded random weights with realistic BatchNorm statistics


def _calibration_audio(seed: int, n: int = 4, seconds: float = 1.0) -> np.ndarray:
    """Deterministic test signals: tones, a chirp and coloured noise at several levels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    clips = []
    for i in range(n):
        f0 = 100.0 * 2 ** (rng.uniform(0, 6))
        chirp = np.sin(2 * np.pi * f0 * (2 ** (4 * t) - 1) / (4 * np.log(2)))
        noise = np.cumsum(rng.standard_normal(t.size)) * 0.01 * i + rng.standard_normal(t.size) * 0.05
        noise -= noise.mean()
        tone = np.sin(2 * np.pi * rng.uniform(200, 4000) * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
        clips.append(10 ** rng.uniform(-1.5, 0) * (0.4 * chirp + 0.3 * tone + noise))
    x = np.stack(clips)
    return (x / max(1.0, np.abs(x).max())).astype(np.float32)


def random_state_dict(width_or_name: float | str, seed: int = 0) -> "OrderedDict[str, torch.Tensor]":
    """Seeded weights in the official format, BatchNorm running stats measured on test signals.

    Weights come from a seeded generator; the running mean/var are the batch
    statistics of every BN layer on deterministic signals, computed in float64
    (so they do not depend on the CPU's float32 kernels), then cast to float32.
    Non-trivial mean/var make BN folding matter, as with real checkpoints.
    """
    import torch

    from exporter.float_model.mobilenet import MobileNetV3
    from exporter.float_model.preprocess import LogMel

    width = _width_of(width_or_name)
    gen = torch.Generator().manual_seed(seed)
    with torch.device("meta"):  # every tensor is set below
        model = MobileNetV3(width)
    model = model.to_empty(device="cpu").double()

    def normal(t: torch.Tensor) -> torch.Tensor:
        return torch.randn(t.shape, generator=gen, dtype=torch.float64)

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):  # He init: unit-scale activations before BN
                module.weight.copy_(normal(module.weight) * (2.0 / module.weight[0].numel()) ** 0.5)
            elif isinstance(module, torch.nn.Linear):  # 1/sqrt(fan_in): SE gates away from 0.5
                module.weight.copy_(normal(module.weight) / module.weight.shape[1] ** 0.5)
                module.bias.copy_(normal(module.bias) * 0.1)
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.weight.copy_(1.0 + 0.25 * normal(module.weight))
                module.bias.copy_(0.25 * normal(module.bias))
                module.momentum = None  # cumulative average: one batch sets running stats = batch stats
                module.reset_running_stats()
        audio = torch.from_numpy(_calibration_audio(seed)).double()
        logmel = LogMel().double()(audio).unsqueeze(1)  # float64 all the way
        model.train()
        model(logmel)
    state = model.state_dict()
    return OrderedDict((k, v.to(torch.float32) if v.is_floating_point() else v) for k, v in state.items())


def random_model(width_or_name: float | str, seed: int = 0) -> MobileNetV3:
    """Eval-mode float32 model with ``random_state_dict`` weights."""
    sd = random_state_dict(width_or_name, seed)
    width = _width_of(width_or_name)
    return model_from_state_dict(sd, width, origin=f"random weights (seed {seed})")


# ---------------------------------------------------------------------------------------------
# One entry point for every command


def resolve_model(
    checkpoint: str | os.PathLike | None = None,
    model: str | None = None,
    weights: str | None = None,
    seed: int = 0,
    width: float | None = None,
) -> tuple[MobileNetV3, ModelInfo]:
    """The eval-mode float model and its ModelInfo.

    - ``checkpoint``: a state_dict file; the width is inferred from its shapes (``width`` overrides).
    - ``model``: an official name (mn01_as ... mn40_as), downloaded once into the cache.
    - ``weights="random"``: seeded random weights at ``width`` (or the width of ``model``; default 0.1).
    """
    if weights is not None and weights != "random":
        raise UserError(f"unknown --weights {weights!r}: the only choice is 'random'")
    check_seed(seed)
    if weights == "random":
        if checkpoint is not None:
            raise UserError("--weights random and --checkpoint exclude each other")
        if model is not None and width is not None and width_from_name(model) != width:
            raise UserError(f"--width {width:g} contradicts --model {model} (width {width_from_name(model):g})")
        w = width if width is not None else (width_from_name(model) if model else DEFAULT_RANDOM_WIDTH)
        net = random_model(w, seed)
        return net, ModelInfo(name=f"random-{_width_name(w)}-seed{seed}", width=w, source="random", seed=seed)
    if checkpoint is not None and model is not None:
        raise UserError("--checkpoint and --model exclude each other")
    if checkpoint is not None:
        path = Path(checkpoint)
        net = model_from_state_dict(load_state_dict(path), width, origin=str(path))
        return net, ModelInfo(
            name=path.name, width=net.width, source="checkpoint", path=str(path), sha256=sha256_file(path)
        )
    if model is not None:
        if width is not None and width_from_name(model) != width:
            raise UserError(f"--width {width:g} contradicts --model {model} (width {width_from_name(model):g})")
        path = official_checkpoint(model)
        net = model_from_state_dict(load_state_dict(path), width_from_name(model), origin=f"{model} ({path})")
        return net, ModelInfo(name=model, width=net.width, source="official", path=str(path), sha256=sha256_file(path))
    raise UserError("no model given: use --checkpoint PATH, --model NAME (e.g. mn01_as) or --weights random")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint P | --model NAME | --weights random [--seed N] [--width W]``."""
    g = parser.add_argument_group("model (one of --checkpoint, --model, --weights random)")
    g.add_argument("--checkpoint", metavar="PATH", help="EfficientAT state_dict file (.pt); width inferred")
    g.add_argument(
        "--model",
        metavar="NAME",
        choices=sorted(OFFICIAL_FILES),
        help=f"official AudioSet checkpoint, downloaded once to {DEFAULT_CACHE} (${CACHE_ENV}): "
        + ", ".join(OFFICIAL_FILES),
    )
    g.add_argument("--weights", choices=["random"], help="seeded random weights (tests, benchmarks)")
    g.add_argument("--seed", type=int, default=0, help="seed for --weights random, 0 ... 2^32-1 (default 0)")
    g.add_argument(
        "--width", type=float, help=f"width multiplier: override for --checkpoint, size for --weights random (default {DEFAULT_RANDOM_WIDTH})"
    )


def resolve_model_args(args: argparse.Namespace) -> tuple[MobileNetV3, ModelInfo]:
    """``resolve_model`` from the arguments of ``add_model_arguments``."""
    return resolve_model(args.checkpoint, args.model, args.weights, args.seed, args.width)
