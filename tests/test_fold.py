"""BatchNorm folding: the folded float graph equals the unfolded torch model."""

from pathlib import Path

import numpy as np
import pytest
import torch

from exporter.quantization.fold import fold_model, run_float
from exporter.float_model.mobilenet import MobileNetV3
DATA = Path(__file__).parent / "data"


def _model(width: float, seed: int | None) -> MobileNetV3:
    model = MobileNetV3(width)
    if seed is None:
        model.load_state_dict(torch.load(DATA / "mn01_seed0.pt", map_location="cpu"))
    else:  # random weights with non-trivial BN statistics
        torch.manual_seed(seed)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.01, 2.0)  # small var: eps 1e-3 matters
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.3, 0.3)
    return model.eval().double()


@pytest.mark.parametrize("width,seed", [(0.1, None), (0.2, 1)])
def test_folded_graph_equals_model(width, seed):
    model = _model(width, seed)
    rng = np.random.default_rng(3)
    logmel = rng.normal(-0.5, 0.6, size=(37, 128))  # odd T: ceil(n/2) at every stride
    with torch.no_grad():
        _, feats = model(torch.from_numpy(logmel.T.copy())[None, None], return_fmaps=True)
    env = run_float(fold_model(model), logmel, dtype=torch.float64)
    names = ["in_conv"] + [f"B{k}" for k in range(1, 16)]
    for k, name in enumerate(names):
        ref = feats["fmaps"][k].transpose(2, 3)  # (1, C, F, T) -> (1, C, T, F)
        got = env[name]
        assert got.shape == ref.shape, name
        rel = (got - ref).abs().max() / ref.abs().max()
        # float64: measured <= 4.4e-15, rounding noise. The limit sits above any machine's summation order
        # and far below a folding mistake (BN eps 1e-5 instead of 1e-3 changes these maps by ~1e-3).
        assert rel <= 1e-12, (name, float(rel))
    for b in (5, 11, 13, 15):
        ref = feats["pooled"][b]
        assert torch.allclose(env[f"B{b}.pool"], ref, rtol=0, atol=1e-12 * float(ref.abs().max().detach()))


def test_fold_uses_bn_eps():
    """Folding must use the module's eps (1e-3): with eps 1e-5 the result differs."""
    conv = torch.nn.Conv2d(2, 3, 1, bias=False)
    bn = torch.nn.BatchNorm2d(3, eps=1e-3).eval()
    bn.running_var.fill_(1e-3)
    from exporter.quantization.fold import fold_conv_bn

    w, b = fold_conv_bn(conv, bn)
    expected = conv.weight.detach().double().numpy() / np.sqrt(2e-3)
    np.testing.assert_allclose(w, expected, rtol=1e-6)
