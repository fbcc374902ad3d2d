"""`python -m exporter pdm2pcm`: a raw PDM capture -> 32 kHz WAV, the numpy twin and the C
decimator giving the same samples, the twin equal in pieces and whole, bad input named in one line."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from exporter import ROOT
from exporter.audio import example_clips
from exporter.frontend import pdm


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "exporter", "pdm2pcm", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """0.3 s of speech-like sound through the sigma-delta model, and a length that is not a
    multiple of the twin's read size."""
    data = pdm.sigma_delta(pdm.upsample_to_pdm_rate(example_clips.speech_like(0.3) * 1.2), seed=11)
    path = tmp_path_factory.mktemp("pdm") / "capture.pdm"
    data.tofile(path)
    return path, data


def test_python_and_c_write_the_same_samples(capture, tmp_path, monkeypatch):
    from exporter.commands import pdm2pcm

    path, data = capture
    monkeypatch.setattr(pdm2pcm, "CHUNK_SAMPLES", 777)  # the twin in many pieces, as for a long capture
    want = pdm.decimate(data)
    got = {}
    for impl in ("python", "c"):
        out = tmp_path / f"{impl}.wav"
        proc = _cli(path, "--out", out, "--impl", impl) if impl == "c" else None
        if impl == "python":  # in this process, so the small read size applies
            from argparse import Namespace

            assert pdm2pcm.run(Namespace(pdm=str(path), out=str(out), impl="python")) == 0
        else:
            assert proc.returncode == 0, proc.stderr
            assert f"{want.size} samples" in proc.stdout
        pcm, rate = soundfile.read(out, dtype="int16")
        assert rate == 32000 and soundfile.info(out).subtype == "PCM_16"
        got[impl] = pcm
    np.testing.assert_array_equal(got["python"], want)
    np.testing.assert_array_equal(got["c"], want)
    assert np.abs(want).max() > 3000  # sound, not silence


def test_twin_in_pieces_equals_whole():
    data = pdm.sigma_delta(0.4 * np.sin(2 * np.pi * 440 * np.arange(64 * 4000) / pdm.PDM_RATE), seed=3)
    whole = pdm.decimate(data)
    dec = pdm.Decimator()
    cuts = [0, 8, 8 * 101, 8 * 102, 8 * 3000, data.size]
    parts = np.concatenate([dec.process(data[a:b]) for a, b in zip(cuts, cuts[1:])])
    np.testing.assert_array_equal(parts, whole)


@pytest.mark.parametrize("case", ["empty", "odd", "missing", "folder", "out unwritable", "out a folder"])
def test_bad_input_is_one_line(tmp_path, capture, case):
    path, _ = capture
    out = tmp_path / "o.wav"
    if case == "empty":
        path = tmp_path / "e.pdm"
        path.write_bytes(b"")
        expect = "the file is empty"
    elif case == "odd":
        path = tmp_path / "odd.pdm"
        path.write_bytes(bytes(8 * 10 + 3))
        expect = "83 bytes is not a whole number of PCM samples"
    elif case == "missing":
        path = tmp_path / "none.pdm"
        expect = "cannot read"
    elif case == "folder":
        path = tmp_path
        expect = "is a folder, not a PDM file"
    elif case == "out unwritable":
        (tmp_path / "f").write_bytes(b"")
        out = tmp_path / "f" / "o.wav"  # its parent is a file
        expect = "cannot write"
    else:
        out = tmp_path
        expect = "is a folder: give a file name"
    proc = _cli(path, "--out", out)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and expect in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.wav").exists()
