"""Output paths are checked before any work (exporter/outputs.py) and written with the umask's permissions."""

import os
import stat

import numpy as np
import pytest

from exporter.errors import UserError
from exporter.outputs import check_out_file, check_out_folder, umask, write_npz


def test_a_folder_where_a_file_is_expected(tmp_path):
    with pytest.raises(UserError, match="is a folder: give a file name"):
        check_out_file(tmp_path)


def test_a_file_where_a_folder_is_needed(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("x")
    for bad in (f / "out.npz", f / "sub" / "deeper" / "out.npz"):
        with pytest.raises(UserError, match=rf"cannot write .*: {f} is a file, not a folder"):
            check_out_file(bad)
    with pytest.raises(UserError, match=f"{f} is a file, not a folder"):
        check_out_folder(f / "export")
    with pytest.raises(UserError, match="exists and is not a folder"):
        check_out_folder(f)


def test_a_read_only_file_system(mounted_tmpfs):
    ro = mounted_tmpfs("ro", read_only=True)
    with pytest.raises(UserError, match=r"ro is not writable \(read-only file system\)"):
        check_out_file(ro / "out.npz")
    with pytest.raises(UserError, match="not writable"):
        check_out_file(ro / "new" / "out.npz")  # the folder would have to be made there
    with pytest.raises(UserError, match="not writable"):
        check_out_folder(ro)  # empty, but cannot be filled
    with pytest.raises(UserError, match="not writable"):
        check_out_folder(ro / "export")


def test_writable_places_pass_and_the_probe_leaves_nothing(tmp_path):
    assert check_out_file(tmp_path / "a" / "b" / "out.npz") == tmp_path / "a" / "b" / "out.npz"
    (tmp_path / "old.npz").write_bytes(b"replaced later")
    check_out_file(tmp_path / "old.npz")
    empty = tmp_path / "empty"
    empty.mkdir()
    check_out_folder(empty)
    check_out_folder(tmp_path / "new" / "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "old.npz"] and not any(empty.iterdir())


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_npz_follows_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert umask() == mask
        write_npz(tmp_path / "x.npz", a=np.arange(3))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.npz").stat().st_mode) == 0o666 & ~mask
    assert np.load(tmp_path / "x.npz")["a"].tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]


def test_npz_write_failure_is_a_clear_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(UserError, match=f"cannot write {f / 'x.npz'}"):
        write_npz(f / "x.npz", a=np.arange(3))


# Each command with arguments that would fail later (no such checkpoint, audio or export): the
# error must be the output's, so it comes before any work.
LATER_FAILURE = {
    "embed": ["missing.wav", "--checkpoint", "missing.pt"],
    "run": ["missing.wav", "--board", "reference", "--export", "no-export"],
    "frontend": ["missing.wav"],
    "pdm2pcm": ["missing.pdm"],
    "listen": ["missing-port", "--seconds", "1"],
    "export": ["--checkpoint", "missing.pt"],
}


@pytest.mark.parametrize("command", LATER_FAILURE)
def test_commands_check_out_before_the_work(command, tmp_path, mounted_tmpfs, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "export" if command == "export" else "out.npz"
    (tmp_path / "file").write_text("x")
    cases = [(tmp_path / "file" / name, "is a file, not a folder"),
             (mounted_tmpfs("ro", read_only=True) / name, "not writable (read-only file system)")]
    if command != "export":  # export fills an existing empty folder
        cases.append((tmp_path, "is a folder: give a file name"))
    for out, message in cases:
        code, err = cli(command, *LATER_FAILURE[command], "--out", out)
        assert code == 2 and message in err and str(out) in err, (out, err)
    code, err = cli(command, *LATER_FAILURE[command], "--out", tmp_path / "fine" / name)
    assert code == 2 and "missing" in err  # a good --out: the later failure
