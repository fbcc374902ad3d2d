"""Checkpoints that trained networks resemble at their worst, made from the trained mn01: each
exports, runs bit-exactly on the host board against the reference board, and the fidelity
report names what the quantizer did about it. A broken checkpoint (BatchNorm that divides by
zero) stops with an error naming the first layer whose output is not finite."""

import numpy as np
import pytest
import torch

from exporter.audio import example_clips
from exporter.audio.files import to_pcm16
from exporter.boards import host, reference
from exporter.errors import UserError

SE_FC1 = "features.{}.block.{}.conc_se_layers.0.fc1.bias"


def _dead_se(sd):
    """Three more SE bottlenecks whose ReLU never fires (B6, B11, B14)."""
    for block in (6, 11, 14):
        sd[SE_FC1.format(block, 2)] -= 1e3
    return {("B6.se.fc1", "constant"), ("B11.se.fc1", "constant"), ("B14.se.fc1", "constant")}


def _zero_channels(sd):
    """B5's expand conv with three output channels' weights all zero."""
    sd["features.5.block.0.0.weight"][:3] = 0
    return {("B5.expand", "zero weights")}


def _batchnorm_extremes(sd):
    """A BatchNorm channel with variance 0 (only eps is left under the root) and one with scale ~0."""
    sd["features.7.block.0.1.running_var"][2] = 0.0
    sd["features.8.block.0.1.weight"][1] = 1e-9
    return {("B8.expand.pre", "bias-limited weight scale")}


def _channel_x100(sd):
    """One channel of B5's expanded map 100x larger, B5's depthwise conv compensating (ReLU is
    positively homogeneous, so the float function is unchanged): a channel far wider than the rest."""
    sd["features.5.block.0.1.weight"][4] *= 100
    sd["features.5.block.0.1.bias"][4] *= 100
    sd["features.5.block.1.0.weight"][4] /= 100
    return set()


def _tiny_row(sd):
    """One output row of B9's expand conv scaled by 1e-6."""
    sd["features.9.block.0.0.weight"][3] *= 1e-6
    return {("B9.expand.pre", "bias-limited weight scale")}


CASES = {"dead_se": _dead_se, "zero_channels": _zero_channels, "batchnorm_extremes": _batchnorm_extremes,
         "channel_x100": _channel_x100, "tiny_row": _tiny_row}


def _checkpoint(data_dir, tmp_path, edit) -> tuple:
    """(model, info) of the trained mn01 after ``edit`` of its state_dict; the (tensor, case) notes it expects."""
    from exporter.float_model.checkpoint import resolve_model

    sd = torch.load(data_dir / "mn01_trained_dev.pt", map_location="cpu", weights_only=True)
    expected_notes = edit(sd)
    path = tmp_path / "stress.pt"
    torch.save(sd, path)
    return resolve_model(checkpoint=path), expected_notes


def _export(tmp_path, model, info):
    from exporter.commands.export import export_to

    out = tmp_path / "export"
    summary = export_to(out, model=model, info=info, calibration_clips=6, calibration_seconds=2.0,
                        fidelity_clips=2, fidelity_seconds=1.0, progress=False)
    return out, summary


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_stress_checkpoint_exports_and_runs_bit_exactly(case, data_dir, tmp_path):
    (model, info), expected_notes = _checkpoint(data_dir, tmp_path, CASES[case])
    out, summary = _export(tmp_path, model, info)
    noted = {(n["tensor"], n["case"]) for n in summary["quantization_notes"]}
    assert expected_notes <= noted, f"not reported: {expected_notes - noted}"
    assert "Where the quantizer departs" in (out / "reports" / "fidelity.md").read_text()
    fid = summary["fidelity"]
    assert set(fid) == {"L", "B5", "B11", "B13", "B15"}
    # a stressed network is still the same network where nothing broke: the log-mel part is exact
    assert fid["L"]["mean_cosine"] > 0.9999
    clip = to_pcm16(np.concatenate([example_clips.speech_like(0.6), example_clips.music_like(0.6)]))
    for mode in ("scene", "timestamp"):
        ref = reference.embed_clips([clip], mode, out)[0]
        got = host.embed_clips([clip], mode, out)[0]
        assert got.dtype == ref.dtype and np.array_equal(got, ref), f"{case}, {mode}: host != reference"


def test_non_finite_float_model_names_the_first_layer(data_dir, tmp_path):
    """running_var = -eps: BatchNorm divides by zero in B7's expand conv."""
    from exporter.commands.export import export_to

    def broken(sd):
        sd["features.7.block.0.1.running_var"][0] = -1e-3
        return set()

    (model, info), _ = _checkpoint(data_dir, tmp_path, broken)
    with pytest.raises(UserError, match=r"non-finite values \(NaN or inf\) at B7\.expand\b"):
        export_to(tmp_path / "x", model=model, info=info, calibration_clips=2, calibration_seconds=1.0,
                  fidelity_clips=1, fidelity_seconds=1.0, progress=False)
    assert not (tmp_path / "x").exists()
