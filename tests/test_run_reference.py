"""``run --board reference``: integer embeddings through ONNX Runtime, equal to the numpy pipeline."""


import numpy as np
import pytest
import soundfile as sf

from exporter.reference import int8_exec
from exporter.quantization import qembed
from exporter.audio.files import load_audio, to_pcm16
from exporter.commands import export
from exporter.errors import UserError
from exporter.quantization.fidelity import integer_scene
from exporter.frontend.fixed import logmel_q12
from exporter.quantization.graph import Graph
from exporter.quantization.int8_math import round_div
from exporter.float_model.windows import timestamp_windows

SMALL = dict(calibration_clips=2, calibration_seconds=1.0, fidelity_clips=1, fidelity_seconds=1.0, progress=False)


@pytest.fixture(scope="module")
def export_dir(mn01_seed0_path, tmp_path_factory):
    from exporter.float_model.checkpoint import resolve_model

    model, info = resolve_model(checkpoint=mn01_seed0_path)
    out = tmp_path_factory.mktemp("run") / "export"
    export.export_to(out, model=model, info=info, **SMALL)
    return out


@pytest.fixture(scope="module")
def golden_wav(test_audio, tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "golden.wav"
    sf.write(path, test_audio, 32000, subtype="PCM_16")
    return path


def test_scene(export_dir, golden_wav, tmp_path, cli):
    out = tmp_path / "scene.npz"
    assert cli("run", *["--board", "reference", str(golden_wav), "--export", str(export_dir), "--out", str(out)]) == (0, "")
    z = np.load(out)
    graph = Graph.load(export_dir)
    assert z["embeddings_q"].dtype == np.int16 and z["embeddings_q"].shape == (1, 184)
    assert list(z["files"]) == [str(golden_wav)]
    np.testing.assert_array_equal(z["embeddings"], qembed.dequantize(graph, z["embeddings_q"]))
    # ONNX Runtime board == numpy executor pipeline, byte for byte
    expected = integer_scene(graph, load_audio(golden_wav))
    assert z["embeddings_q"][0].tobytes() == expected.tobytes()
    # L is the Q12 mean of the frames
    mel = logmel_q12(to_pcm16(load_audio(golden_wav)))
    np.testing.assert_array_equal(z["embeddings_q"][0, :128], round_div(mel.astype(np.int64).sum(axis=0), len(mel)))


def test_timestamp(export_dir, golden_wav, tmp_path, cli):
    out = tmp_path / "ts.npz"
    code, _ = cli("run", *["--board", "reference", str(golden_wav), "--mode", "timestamp", "--export", str(export_dir),
                    "--out", str(out)])
    assert code == 0
    z = np.load(out)
    assert z["embeddings_q"].shape == (1, 61, 184)
    np.testing.assert_array_equal(z["timestamps_ms"][0], np.arange(61) * 50.0)
    graph = Graph.load(export_dir)
    windows, _ = timestamp_windows(to_pcm16(load_audio(golden_wav)))
    for i in (0, 30, 60):
        mel = logmel_q12(windows[i])
        assert mel.shape == (16, 128)
        expected = qembed.window_embedding(mel, int8_exec.run(graph, mel))
        assert z["embeddings_q"][0, i].tobytes() == expected.tobytes(), i


def test_timestamp_files_of_different_lengths_are_padded(export_dir, golden_wav, tmp_path, cli):
    short = tmp_path / "short.wav"
    sf.write(short, np.asarray(sf.read(golden_wav, dtype="int16")[0][:27200]), 32000, subtype="PCM_16")  # 0.85 s
    out, alone = tmp_path / "two.npz", tmp_path / "alone.npz"
    common = ["--board", "reference", "--mode", "timestamp", "--export", str(export_dir)]
    assert cli("run", *common + [str(golden_wav), str(short), "--out", str(out)])[0] == 0
    assert cli("run", *common + [str(short), "--out", str(alone)])[0] == 0
    z, a = np.load(out), np.load(alone)
    np.testing.assert_array_equal(z["n_timestamps"], [61, 18])
    assert z["embeddings_q"][1, :18].tobytes() == a["embeddings_q"][0].tobytes()
    assert (z["embeddings_q"][1, 18:] == 0).all() and np.isnan(z["embeddings"][1, 18:]).all()
    np.testing.assert_array_equal(z["timestamps_ms"][1, :18], np.arange(18) * 50.0)
    assert np.isnan(z["timestamps_ms"][1, 18:]).all()


def test_long_scene_clip_averages_windows(export_dir, tmp_path, cli):
    rng = np.random.default_rng(0)
    clip = (0.1 * rng.normal(size=32000 * 11)).astype(np.float32)  # 11 s: 2 windows of 10 s
    path = tmp_path / "long.wav"
    sf.write(path, clip, 32000, subtype="PCM_16")
    out = tmp_path / "long.npz"
    assert cli("run", *["--board", "reference", str(path), "--export", str(export_dir), "--out", str(out)])[0] == 0
    got = np.load(out)["embeddings_q"][0]
    assert got.tobytes() == integer_scene(Graph.load(export_dir), load_audio(path)).tobytes()


def test_unreadable_file_is_named_and_others_processed(export_dir, golden_wav, tmp_path, capsys, cli):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    out = tmp_path / "mixed.npz"
    code, _ = cli("run", *["--board", "reference", str(bad), str(golden_wav), "--export", str(export_dir), "--out", str(out)])
    assert code == 1
    assert "bad.wav" in capsys.readouterr().err
    assert list(np.load(out)["files"]) == [str(golden_wav)]
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(300, np.float32), 32000)
    code, _ = cli("run", *["--board", "reference", str(short), str(golden_wav), "--export", str(export_dir), "--out", str(out)])
    assert code == 1 and "short.wav" in capsys.readouterr().err
    code, err = cli("run", *["--board", "reference", str(bad), "--export", str(export_dir), "--out", str(tmp_path / "x.npz")])
    assert code == 2 and not (tmp_path / "x.npz").exists()


def test_bad_export_arguments(export_dir, golden_wav, tmp_path, mn01_seed0_path, cli):
    code, err = cli("run", *["--board", "reference", str(golden_wav), "--export", str(tmp_path), "--out", str(tmp_path / "o.npz")])
    assert code == 2 and "graph.json" in err
    code, err = cli("run", *["--board", "reference", str(golden_wav), "--export", str(export_dir),
                      "--checkpoint", str(mn01_seed0_path), "--out", str(tmp_path / "o.npz")])
    assert code == 2 and "exclude" in err


def test_board_api_rejects_float_audio(export_dir):
    from exporter.boards import reference

    with pytest.raises(UserError, match="int16"):
        reference.embed_clips([np.zeros(5000, np.float32)], "scene", export_dir)


def test_model_arguments_export_once_into_the_cache(golden_wav, tmp_path, monkeypatch, capsys, cli):
    from exporter import defaults
    from exporter.quantization import fidelity

    monkeypatch.setenv("EFFICIENTAT_M4_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(defaults, "CALIBRATION_CLIPS", 2)
    monkeypatch.setattr(defaults, "CALIBRATION_SECONDS", 1.0)
    monkeypatch.setattr(fidelity, "HELD_OUT_CLIPS", 1)
    monkeypatch.setattr(fidelity, "HELD_OUT_SECONDS", 1.0)
    argv = ["--board", "reference", str(golden_wav), "--weights", "random", "--width", "0.2", "--seed", "3"]
    assert cli("run", *argv + ["--out", str(tmp_path / "a.npz")]) == (0, "")
    assert "exporting random-mn02-seed3" in capsys.readouterr().err
    exports = list((tmp_path / "cache" / "exports").iterdir())
    assert len(exports) == 1 and Graph.load(exports[0]).meta["model"]["width"] == 0.2
    assert cli("run", *argv + ["--out", str(tmp_path / "b.npz")]) == (0, "")
    assert "exporting" not in capsys.readouterr().err  # reused
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert a["embeddings_q"].shape == (1, 128 + 96) and np.array_equal(a["embeddings_q"], b["embeddings_q"])


@pytest.mark.parametrize("damage", ["graph.npz cut", "graph.json cut", "graph.json not an object",
                                    "model_int.onnx cut", "model_int.onnx missing"])
def test_damaged_export_folder_is_named(export_dir, golden_wav, tmp_path, cli, damage):
    import shutil

    broken = tmp_path / "export"
    shutil.copytree(export_dir, broken)
    name, how = damage.split(" ", 1)
    f = broken / name
    if how == "cut":
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    elif how == "missing":
        f.unlink()
    else:
        f.write_text("[1, 2]")
    out = tmp_path / "o.npz"
    code, err = cli("run", "--board", "reference", golden_wav, "--export", broken, "--out", out)
    assert code == 2 and str(f) in err and "\n" not in err, err
    assert not out.exists()


def test_a_clip_the_board_refuses_is_skipped(export_dir, golden_wav, tmp_path, monkeypatch, capsys, cli):
    """One code path for every board: an error of the board on one clip (here: the reference
    board made to refuse clips over 2 s) names the file; the others are written, exit code 1."""
    from exporter.boards import reference

    real = reference.embedder

    def picky(mode, folder):
        embed = real(mode, folder)

        def embed_or_refuse(clip, progress=None):  # `run` streams the clip: int16 blocks
            clip = np.concatenate(list(clip))
            if clip.size > 64000:
                raise UserError("reference: clip of over 2 s refused")
            return embed(clip, progress)
        return embed_or_refuse

    monkeypatch.setattr(reference, "embedder", picky)
    short = tmp_path / "short.wav"
    sf.write(short, sf.read(golden_wav, dtype="int16")[0][:48000], 32000, subtype="PCM_16")
    out = tmp_path / "o.npz"
    code, _ = cli("run", "--board", "reference", short, golden_wav, short, "--export", export_dir, "--out", out)
    assert code == 1
    assert f"error: {golden_wav}: reference: clip of over 2 s refused" in capsys.readouterr().err
    z = np.load(out)
    assert list(z["files"]) == [str(short), str(short)] and z["embeddings_q"].shape == (2, 184)


def test_malformed_firmware_frame_is_a_named_error(export_dir, golden_wav, tmp_path, monkeypatch, capsys, cli):
    """A firmware (here a stand-in program) that sends a frame with a valid CRC and a malformed payload."""
    import stat
    import sys

    from exporter.boards import firmware_runner
    from exporter.boards import uart_protocol as up

    fake = tmp_path / "fake_firmware"
    frame = up.encode_frame(up.HELLO, b"\x00\x0c\xb8")  # a hello cut after 3 bytes
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.buffer.write({frame!r})\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(firmware_runner, "build_embedder", lambda *args, **kwargs: fake)
    code, err = cli("run", "--board", "host", golden_wav, "--export", export_dir, "--out", tmp_path / "o.npz")
    assert code == 2 and "none of the 1 file(s)" in err
    assert f"error: {golden_wav}: host: malformed hello frame (3 byte payload)" in capsys.readouterr().err


def _varied_file(path, seconds: float, rate: int, channels: int = 1):
    """Speech, music and noise in turn (exporter/audio/synthetic.py) as a 16-bit file at ``rate``."""
    import soxr

    from exporter.audio import synthetic as synthetic_audio

    x = np.concatenate([c for _, c in synthetic_audio.pieces(seconds, piece_seconds=4.0)])
    x = soxr.resample(x, 32000, rate).astype(np.float32) if rate != 32000 else x
    sf.write(path, np.stack([x * (0.5 + 0.5 * c) for c in range(channels)], axis=1), rate, subtype="PCM_16")
    return path


@pytest.mark.parametrize("seconds,rate,channels", [(10.0, 32000, 1), (10.0 + 1 / 32000, 32000, 1), (23.4, 44100, 2)])
def test_streamed_scene_equals_whole_file(export_dir, tmp_path, cli, seconds, rate, channels):
    """`run` streams each file (AudioStream, windows cut as the blocks come): the bytes of the
    whole-file path (the whole clip's windows through the numpy executor), on either side of 10 s."""
    path = _varied_file(tmp_path / "clip.wav", seconds, rate, channels)
    out = tmp_path / "o.npz"
    assert cli("run", "--board", "reference", path, "--export", export_dir, "--out", out) == (0, "")
    expected = integer_scene(Graph.load(export_dir), load_audio(path))
    assert np.load(out)["embeddings_q"][0].tobytes() == expected.tobytes()


def test_streamed_timestamps_equal_whole_file(export_dir, tmp_path, cli):
    from exporter.quantization.fidelity import integer_timestamps

    path = _varied_file(tmp_path / "clip.flac", 7.3, 48000)
    out = tmp_path / "o.npz"
    assert cli("run", "--board", "reference", "--mode", "timestamp", path, "--export", export_dir, "--out", out) == (0, "")
    z, expected = np.load(out), integer_timestamps(Graph.load(export_dir), load_audio(path))
    assert z["embeddings_q"][0].tobytes() == expected.tobytes()
    np.testing.assert_array_equal(z["timestamps_ms"][0], timestamp_windows(to_pcm16(load_audio(path)))[1])
