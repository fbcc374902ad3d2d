"""``export``: a complete export folder, and clear errors for bad input that leave nothing behind."""

import hashlib
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from exporter import defaults
from exporter.quantization import fidelity
from exporter.reference import int8_exec
from exporter.reference import onnx_int
from exporter.commands import export
from exporter.codegen.library import LIBRARY_FILES
from exporter.quantization.graph import Graph
from exporter.outputs import umask

SMALL = dict(calibration_clips=2, calibration_seconds=1.0, fidelity_clips=2, fidelity_seconds=1.0, progress=False)
EXPECTED_FILES = {"manifest.json", "graph.json", "graph.npz", "model_int.onnx", "model_qdq.onnx", "network.h", "network.c",
                  "network_data.c", "logmel_tables.c", "logmel_tables.h", "reports"}


@pytest.fixture(scope="module")
def model_and_info(mn01_seed0_path):
    from exporter.float_model.checkpoint import resolve_model

    return resolve_model(checkpoint=mn01_seed0_path)


@pytest.fixture(scope="module")
def exported(model_and_info, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "mn01"
    model, info = model_and_info
    summary = export.export_to(out, model=model, info=info, **SMALL)
    return out, summary


def test_export_folder_is_complete(exported, test_audio):
    out, summary = exported
    assert EXPECTED_FILES | set(LIBRARY_FILES) <= {p.name for p in out.iterdir()}  # a C library too
    assert [p.name for p in out.parent.iterdir()] == ["mn01"]  # no temporary folders left
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask()  # as mkdir makes it, not mkdtemp's 0700
    graph = Graph.load(out)
    assert graph.meta["model"]["checkpoint"] == "tests/data/mn01_seed0.pt"
    assert graph.meta["calibration"]["clips"] == 2
    from exporter.audio.files import to_pcm16
    from exporter.frontend.fixed import logmel_q12

    mel = logmel_q12(to_pcm16(test_audio))
    sess = onnx_int.session(str(out / "model_int.onnx"))
    assert onnx_int.run(sess, mel).tobytes() == int8_exec.run(graph, mel).tobytes()
    fid = json.loads((out / "reports" / "fidelity.json").read_text())
    assert list(fid["summary"]) == ["L", "B5", "B11", "B13", "B15"]
    assert (out / "reports" / "fidelity.md").read_text().startswith("# Fidelity")
    qdq = json.loads((out / "reports" / "qdq.json").read_text())
    # QDQ vs integer taps, in steps. Measured on these 4 windows: 11 at most (B15), B5 1; a miswired
    # layer gives tens of steps; 0 would mean the QDQ model rounds exactly as the integers do (it does not).
    assert qdq["windows"] == 4 and 1 <= qdq["max_abs_steps"] <= 25 and qdq["per_tap"]["B5"]["max_abs_steps"] <= 2
    assert summary["qdq_max_abs_steps"] == qdq["max_abs_steps"]
    assert summary["macs"]["16"] == 327_168


def test_export_is_deterministic(exported, model_and_info, tmp_path):
    out, _ = exported
    model, info = model_and_info
    again = tmp_path / "again"
    export.export_to(again, model=model, info=info, **SMALL)
    for name in ("graph.json", "graph.npz", "model_int.onnx", "model_qdq.onnx", "network.c", "network_data.c"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_cli_with_calibration_folder(mn01_seed0_path, tmp_path, test_audio, cli, capsys):
    cal = tmp_path / "cal"
    cal.mkdir()
    sf.write(cal / "a.wav", test_audio, 32000)
    sf.write(cal / "b.flac", test_audio[::-1].copy(), 32000)
    out = tmp_path / "out"
    code, err = cli("export", *["--checkpoint", str(mn01_seed0_path), "--calibration", str(cal), "--fidelity-clips", "1",
                      "--optimize", "size", "--out", str(out)])
    assert (code, err) == (0, "")
    graph = Graph.load(out)
    assert str(cal) in graph.meta["calibration"]["source"] and graph.meta["calibration"]["clips"] == 2
    assert "calibrating" not in capsys.readouterr().err  # no progress bars unless stderr is a terminal
    # --optimize size: the general kernels alone, nothing prepared for instances
    net, data = (out / "network.c").read_text(), (out / "network_data.c").read_text()
    assert "nn_depthwise_conv2d_row}" in net and "nn_conv2d_row}" in net
    assert not any(f"{v}}}" in net for v in ("_plain_row", "_lut_row"))
    assert "_rec[]" not in data and "_tab[256]" not in data and "nn_stem8_preps" not in data
    assert json.loads((out / "reports" / "export.json").read_text())["optimize"] == "size"


def test_wrong_checkpoint_family(tmp_path, cli):
    bad = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(4, 1, 3, 3)}, bad)
    out = tmp_path / "out"
    code, err = cli("export", *["--checkpoint", str(bad), "--out", str(out)])
    assert code == 2 and "not an EfficientAT" in err
    assert not out.exists()


def test_empty_calibration_folder(mn01_seed0_path, tmp_path, cli):
    cal = tmp_path / "empty"
    cal.mkdir()
    (cal / "notes.txt").write_text("no audio here")
    out = tmp_path / "out"
    code, err = cli("export", *["--checkpoint", str(mn01_seed0_path), "--calibration", str(cal), "--out", str(out)])
    assert code == 2 and str(cal) in err and "no audio files" in err
    assert not out.exists()
    code, err = cli("export", *["--checkpoint", str(mn01_seed0_path), "--calibration", str(tmp_path / "nope"), "--out", str(out)])
    assert code == 2 and "nope" in err


def test_unreadable_calibration_file(mn01_seed0_path, tmp_path, cli):
    cal = tmp_path / "cal"
    cal.mkdir()
    (cal / "broken.wav").write_bytes(b"RIFF not really a wave file")
    out = tmp_path / "out"
    code, err = cli("export", *["--checkpoint", str(mn01_seed0_path), "--calibration", str(cal), "--out", str(out)])
    assert code == 2 and "broken.wav" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cal"]


def test_short_calibration_file_and_bad_percentile(mn01_seed0_path, tmp_path, cli):
    cal = tmp_path / "cal"
    cal.mkdir()
    sf.write(cal / "click.wav", np.zeros(100, np.float32), 32000)
    out = tmp_path / "out"
    code, err = cli("export", *["--checkpoint", str(mn01_seed0_path), "--calibration", str(cal), "--out", str(out)])
    assert code == 2 and "click.wav" in err and "too short" in err
    code, err = cli("export", *["--checkpoint", str(mn01_seed0_path), "--percentile", "30", "--out", str(out)])
    assert code == 2 and "percentile" in err
    assert not out.exists()


def test_calibration_covers_both_modes(exported, mn01_seed0_path, tmp_path, cli):
    """Each calibration clip is observed as a scene window and as timestamp windows; the count is checked."""
    out, _ = exported
    calibration = Graph.load(out).meta["calibration"]
    assert calibration["clips"] == 2 and calibration["timestamp_windows"] == 2 * defaults.CALIBRATION_TIMESTAMP_WINDOWS
    assert "timestamp windows (160 ms)" in calibration["source"]
    code, err = cli("export", "--checkpoint", mn01_seed0_path, "--calibration-timestamp-windows", "-1",
                    "--out", tmp_path / "out")
    assert code == 2 and err == "--calibration-timestamp-windows must be in 0 .. 100, got -1"
    assert not (tmp_path / "out").exists()


def test_output_folder_with_other_files(mn01_seed0_path, tmp_path, cli):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, err = cli("export", *["--checkpoint", str(mn01_seed0_path), "--out", str(out)])
    assert code == 2 and "not empty" in err and "keep.txt" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"


def test_failure_leaves_nothing_half_written(model_and_info, tmp_path, monkeypatch):
    import exporter.codegen.network

    def fail(*args, **kwargs):
        raise RuntimeError("simulated failure while writing C sources")

    monkeypatch.setattr(exporter.codegen.network, "render_network", fail)
    model, info = model_and_info
    with pytest.raises(RuntimeError, match="simulated"):
        export.export_to(tmp_path / "out", model=model, info=info, **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_regenerate_default_replaces_the_folder(tmp_path, monkeypatch):
    gen = tmp_path / "generated"
    gen.mkdir()
    (gen / "stale.c").write_text("old")
    monkeypatch.setattr(defaults, "GENERATED_DIR", gen)
    monkeypatch.setattr(defaults, "CALIBRATION_CLIPS", 2)
    monkeypatch.setattr(defaults, "CALIBRATION_SECONDS", 1.0)
    monkeypatch.setattr(fidelity, "HELD_OUT_CLIPS", 1)
    monkeypatch.setattr(fidelity, "HELD_OUT_SECONDS", 1.0)
    assert export.regenerate_default() == 0
    names = {p.name for p in gen.iterdir()}
    assert EXPECTED_FILES <= names and "stale.c" not in names
    # the library's other files are the repository's own (firmware/): no second copy
    assert not names & set(LIBRARY_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]
    assert Graph.load(gen).meta["model"]["checkpoint_sha256"] == hashlib.sha256(defaults.CHECKPOINT.read_bytes()).hexdigest()


def test_export_fills_an_empty_mount_point_in_place(model_and_info, mounted_tmpfs):
    """A container volume: an empty folder that cannot be removed or renamed over (EBUSY)."""
    out = mounted_tmpfs("volume")
    inode = out.stat().st_ino
    model, info = model_and_info
    export.export_to(out, model=model, info=info, **SMALL)
    assert out.stat().st_ino == inode and os.path.ismount(out)
    assert {p.name for p in out.iterdir()} == EXPECTED_FILES | {"network_plan.json", *LIBRARY_FILES}  # no temporary folder
    assert Graph.load(out).meta["model"]["name"] == "mn01_seed0.pt"


def _fake_export(interrupt_after_writing=False):
    """write_export's stand-in for tests of export_to's own work (temporary folders, moves, clean-up)."""
    def write(folder, **kwargs):
        (folder / "graph.json").write_text("{}")
        (folder / "reports").mkdir()
        (folder / "reports" / "fidelity.md").write_text("# Fidelity")
        if interrupt_after_writing:
            raise KeyboardInterrupt
        (folder / "network.c").write_text("/* network */")
        return {"ops": 0}
    return write


@pytest.mark.parametrize("where", ["empty folder", "new folder below new folders"])
def test_interrupted_export_leaves_nothing_behind(tmp_path, monkeypatch, where):
    """Ctrl-C (or SIGTERM/SIGHUP, which the CLI turns into the same exception) during the export:
    an existing empty folder stays, empty; folders made for a new one go again."""
    monkeypatch.setattr(export, "write_export", _fake_export(interrupt_after_writing=True))
    empty = tmp_path / "empty"
    empty.mkdir()
    out = empty if where == "empty folder" else tmp_path / "new" / "deeper" / "out"
    with pytest.raises(KeyboardInterrupt):
        export.export_to(out)
    assert [p.name for p in tmp_path.iterdir()] == ["empty"] and list(empty.iterdir()) == []


def test_export_into_an_empty_folder_keeps_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "write_export", _fake_export())
    out = tmp_path / "out"
    out.mkdir()
    inode = out.stat().st_ino
    assert export.export_to(out) == {"ops": 0}
    assert out.stat().st_ino == inode
    assert sorted(p.name for p in out.iterdir()) == ["graph.json", "network.c", "reports"]


def test_interruption_while_filling_in_place_takes_back_what_was_moved(tmp_path, monkeypatch):
    real_replace, moves = os.replace, []

    def replace_then_interrupt(src, dst):
        moves.append(Path(dst))
        if len(moves) == 3:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(export, "write_export", _fake_export())
    monkeypatch.setattr(export.os, "replace", replace_then_interrupt)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KeyboardInterrupt):
        export.export_to(out)
    assert [m.parent for m in moves] == [out] * 3
    assert out.is_dir() and list(out.iterdir()) == []


def test_seeds_are_checked(mn01_seed0_path, tmp_path, cli):
    out = tmp_path / "out"
    for seed in ("-1", str(2**32)):
        code, err = cli("export", "--checkpoint", mn01_seed0_path, "--calibration-seed", seed, "--out", out)
        assert code == 2 and err == f"--calibration-seed {seed} is out of range: use 0 ... 4294967295"
        code, err = cli("export", "--weights", "random", "--seed", seed, "--out", out)
        assert code == 2 and err == f"--seed {seed} is out of range: use 0 ... 4294967295"
    assert not out.exists()
