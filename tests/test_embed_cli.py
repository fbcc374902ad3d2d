"""``python -m exporter embed`` end to end: npz contents, modes, failures per file, exit codes."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import exporter.cli as cli
from exporter import ROOT

# Measured against the HEAR wrapper's golden embeddings: scene 1.1e-4 (in B15; L within 1e-6),
# timestamp 2.8e-5. The README's 2e-3 is what any independent float32 implementation meets.
TOL = 3e-4


@pytest.fixture
def embed_only(monkeypatch):
    """cli.main with only the embed command registered: these tests do not depend on other commands' modules."""
    monkeypatch.setattr(cli, "COMMANDS", [c for c in cli.COMMANDS if c[0] == "embed"])
    return lambda *argv: cli.main(["embed", *map(str, argv)])


@pytest.fixture
def wavs(tmp_path, test_audio):
    """The golden clip as a float wav (bit-exact), and a 1.3 s piece of it at 48 kHz."""
    a = tmp_path / "clip.wav"
    sf.write(a, test_audio, 32000, subtype="FLOAT")
    b = tmp_path / "short48k.flac"
    sf.write(b, test_audio[:41600], 48000)
    return a, b


def test_scene_embeddings_match_golden(embed_only, wavs, mn01_seed0_path, mn01_golden, tmp_path, capsys):
    out = tmp_path / "out" / "emb.npz"
    assert embed_only(wavs[0], wavs[1], "--checkpoint", mn01_seed0_path, "--out", out) == 0
    d = np.load(out)
    assert set(d.files) == {"embeddings", "files", "features", "model"}
    assert d["embeddings"].shape == (2, 184) and d["embeddings"].dtype == np.float32
    assert list(d["files"]) == [str(wavs[0]), str(wavs[1])]
    assert str(d["features"]) == "MB+L" and str(d["model"]) == "mn01_seed0.pt"
    np.testing.assert_allclose(d["embeddings"][:1], mn01_golden["hear_scene_MB_L"], atol=TOL, rtol=0)
    assert "wrote" in capsys.readouterr().out


def test_timestamp_mode_pads_shorter_files(embed_only, wavs, mn01_seed0_path, mn01_golden, tmp_path):
    out = tmp_path / "ts.npz"
    args = ["--checkpoint", mn01_seed0_path, "--mode", "timestamp", "--features", "L+MB", "--out", out]
    assert embed_only(*wavs, *args) == 0
    d = np.load(out)
    # 41600 samples at 48 kHz -> 27733 at 32 kHz -> 27733 // 1600 + 1 = 18 timestamps
    np.testing.assert_array_equal(d["n_timestamps"], [61, 18])
    assert d["embeddings"].shape == (2, 61, 184) and d["timestamps_ms"].shape == (2, 61)
    np.testing.assert_allclose(d["embeddings"][:1], mn01_golden["hear_ts_MB_L"], atol=TOL, rtol=0)
    np.testing.assert_array_equal(d["timestamps_ms"][0], mn01_golden["hear_ts_timestamps_ms"][0])
    assert np.isnan(d["embeddings"][1, 18:]).all() and np.isfinite(d["embeddings"][1, :18]).all()
    assert np.isnan(d["timestamps_ms"][1, 18:]).all() and d["timestamps_ms"][1, 17] == 850


def test_bad_file_is_named_and_others_kept(embed_only, wavs, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"not audio at all")
    tiny = tmp_path / "tiny.wav"
    sf.write(tiny, np.zeros(2000, np.float32), 32000)
    out = tmp_path / "emb.npz"
    rc = embed_only(wavs[0], corrupt, tiny, wavs[1], "--weights", "random", "--mode", "timestamp", "--out", out)
    assert rc == 1
    err = capsys.readouterr().err
    assert f"error: {corrupt}: cannot read audio" in err
    assert f"error: {tiny}: clip of 2000 samples" in err and "too short for timestamp embeddings" in err
    assert list(np.load(out)["files"]) == [str(wavs[0]), str(wavs[1])]
    assert "file/s" not in err and "\r" not in err  # no progress bar: stderr is not a terminal


def test_all_files_bad_writes_nothing(embed_only, tmp_path, capsys):
    out = tmp_path / "emb.npz"
    assert embed_only(tmp_path / "missing.wav", "--weights", "random", "--out", out) == 2
    err = capsys.readouterr().err
    assert "missing.wav: no such audio file" in err and "no embeddings written" in err
    assert not out.exists()


def test_bad_arguments_exit_2(embed_only, wavs, tmp_path, capsys):
    out = tmp_path / "emb.npz"
    assert embed_only(wavs[0], "--weights", "random", "--features", "MB+X", "--out", out) == 2
    assert "unknown feature set 'X'" in capsys.readouterr().err
    assert embed_only(wavs[0], "--out", out) == 2
    assert "no model given" in capsys.readouterr().err
    notckpt = tmp_path / "x.pt"
    notckpt.write_text("nope")
    assert embed_only(wavs[0], "--checkpoint", notckpt, "--out", out) == 2
    assert "not a PyTorch checkpoint" in capsys.readouterr().err
    assert not out.exists()


def test_python_dash_m_entry_point(wavs, tmp_path):
    """The real command line, in a fresh process (all features sets, random mn02 weights)."""
    out = tmp_path / "emb.npz"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "exporter", "embed", str(wavs[0]), "--weights", "random", "--width", "0.2"]
    cmd += ["--features", "L+MB+MSE+Clf1+Clf2+Clf3", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    d = np.load(out)
    assert d["embeddings"].shape == (1, 128 + 192 + 256 + 527 + 112 + 96)
    assert str(d["model"]) == "random-mn02-seed0"


def _on_a_terminal(cmd: list[str], timeout: float = 300) -> tuple[int, str]:
    """Run ``cmd`` with standard error on a pseudo-terminal of 100 columns: (exit code, what it drew)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    return proc.wait(timeout=timeout), drawn.decode(errors="replace")


def test_long_file_gets_a_progress_bar_on_a_terminal_only(embed_only, tmp_path, capsys):
    """A file over a minute: a bar of its seconds of audio, drawn when standard error is a
    terminal and not otherwise; a shorter file: none."""
    long, short = tmp_path / "long.wav", tmp_path / "short.wav"
    sf.write(long, (0.1 * np.random.default_rng(0).standard_normal(61 * 22050)).astype(np.float32), 22050, subtype="PCM_16")
    sf.write(short, np.zeros(32000 * 5, np.float32), 32000)
    base = [sys.executable, "-m", "exporter", "embed", "--weights", "random", "--out", str(tmp_path / "e.npz")]
    code, drawn = _on_a_terminal(base + [str(long)])
    assert code == 0 and "/61 s of audio" in drawn and re.search(r"long\.wav: +[1-9]\d*%", drawn), drawn
    code, drawn = _on_a_terminal(base + [str(short)])
    assert code == 0 and "s of audio" not in drawn, drawn
    assert embed_only(long, "--weights", "random", "--out", tmp_path / "e.npz") == 0
    err = capsys.readouterr().err
    assert "s of audio" not in err and "\r" not in err
