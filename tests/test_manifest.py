"""An export folder from another version of the tool is refused: by `run`, the boards and the
HEAR module (manifest.json, one line naming both versions) and by the C compiler (network.h and
logmel_tables.h against the kernels' and the frontend's headers shipped with the tool)."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from exporter import FIRMWARE_DIR, __version__, hear_int8, manifest
from exporter.boards import firmware_runner
from exporter.boards import reference
from exporter.errors import UserError
from exporter.quantization.graph import Graph

GENERATED = FIRMWARE_DIR / "generated"  # a complete export of this version (tests/test_generated_current.py)
C_COMPILER = shutil.which("cc") or shutil.which("gcc")


@pytest.fixture
def export_copy(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(GENERATED, folder)
    return folder


def _edit(path, pattern, replacement):
    text = path.read_text()
    new = re.sub(pattern, replacement, text)
    assert new != text, f"{pattern!r} not in {path}"
    path.write_text(new)


def _set_version(folder, version):
    record = json.loads((folder / manifest.FILE).read_text())
    (folder / manifest.FILE).write_text(json.dumps(dict(record, tool_version=version)))


def test_version_number():
    assert manifest.version_number("0.1.0") == 100 and manifest.version_number("2.13.7") == 21307
    for bad in ("0.1", "0.1.0.dev1", "1.100.0", "x.y.z"):
        with pytest.raises(ValueError):
            manifest.version_number(bad)


def test_shipped_c_headers_have_the_tool_version():
    """nn_kernels.h and logmel.h are written by hand: a version bump must update them."""
    want = manifest.version_number(__version__)
    for header, macro in (("kernels/nn_kernels.h", "NN_TOOL_VERSION_NUM"), ("frontend/logmel.h", "LOGMEL_TOOL_VERSION_NUM")):
        m = re.search(rf"#define {macro} (\d+)", (FIRMWARE_DIR / header).read_text())
        assert m and int(m[1]) == want, f"{header}: {macro} must be {want} (exporter.__version__ {__version__})"


def test_the_export_records_version_and_graph_hash():
    graph = Graph.load(GENERATED)
    record = json.loads((GENERATED / manifest.FILE).read_text())
    assert record == {"format": manifest.FORMAT, "tool_version": __version__, "graph_sha256": graph.digest()}
    header = (GENERATED / "network.h").read_text()
    assert f'#define NET_TOOL_VERSION     "{__version__}"' in header
    assert f'#define NET_GRAPH_SHA256     "{graph.digest()}"' in header
    assert manifest.load_export(GENERATED, c_sources=True).digest() == graph.digest()


def test_graph_digest_follows_the_content(tmp_path):
    graph = Graph.load(GENERATED)
    graph.save(tmp_path)
    assert Graph.load(tmp_path).digest() == graph.digest()  # save/load keeps it
    key = sorted(graph.arrays)[0]
    changed = Graph(graph.meta, dict(graph.arrays, **{key: graph.arrays[key].copy()}))
    changed.arrays[key].flat[0] ^= 1
    assert changed.digest() != graph.digest()


def test_run_refuses_an_export_of_another_version(export_copy, tmp_path, test_audio, cli):
    _set_version(export_copy, "0.0.9")
    wav = tmp_path / "clip.wav"
    sf.write(wav, test_audio, 32000, subtype="PCM_16")
    out = tmp_path / "e.npz"
    code, err = cli("run", "--board", "reference", wav, "--export", export_copy, "--out", out)
    assert code == 2 and "\n" not in err and not out.exists()
    assert f"written by efficientat-m4 0.0.9, this is efficientat-m4 {__version__}" in err and str(export_copy) in err


@pytest.mark.parametrize("load", ["hear_int8", "reference board", "host board"])
def test_every_user_of_an_export_folder_refuses_another_version(export_copy, load):
    _set_version(export_copy, "9.9.9")
    with pytest.raises(UserError, match=rf"efficientat-m4 9\.9\.9, this is efficientat-m4 {re.escape(__version__)}"):
        if load == "hear_int8":
            hear_int8.load_model(str(export_copy))
        elif load == "reference board":
            reference.embedder("scene", export_copy)
        else:
            firmware_runner.build_embedder("host", "scene", export_copy)  # refused before CMake runs


def test_an_export_without_manifest_is_refused(export_copy):
    (export_copy / manifest.FILE).unlink()
    with pytest.raises(UserError, match=r"has no manifest\.json: it was written by an efficientat-m4 that did not "
                                        rf"record its version, this is efficientat-m4 {re.escape(__version__)}"):
        manifest.load_export(export_copy)


def test_a_graph_or_network_h_of_another_export_is_refused(export_copy):
    graph = Graph.load(export_copy)
    graph.arrays[graph.ops[1]["bias"]] = graph.arrays[graph.ops[1]["bias"]] + np.int32(1)
    graph.save(export_copy)  # a valid graph, but not the one exported
    with pytest.raises(UserError, match="not the graph it was exported with"):
        manifest.load_export(export_copy)
    shutil.copy(GENERATED / "graph.npz", export_copy / "graph.npz")
    manifest.load_export(export_copy, c_sources=True)  # restored
    _edit(export_copy / "network.h", r'NET_GRAPH_SHA256\s+"[0-9a-f]+"', 'NET_GRAPH_SHA256 "0123abcd"')
    manifest.load_export(export_copy)  # the graph is fine: the reference board needs no C
    with pytest.raises(UserError, match="network.h is missing or was generated from another graph"):
        manifest.load_export(export_copy, c_sources=True)


def _compile(source, *include_dirs) -> subprocess.CompletedProcess:
    """What any build system does with the file: compile it (syntax only, the #error is the preprocessor's)."""
    args = [C_COMPILER, "-std=c99", "-fsyntax-only", *(f"-I{d}" for d in include_dirs), str(source)]
    return subprocess.run(args, capture_output=True, text=True)


@pytest.mark.skipif(C_COMPILER is None, reason="needs a C compiler")
@pytest.mark.parametrize("edit", ["this version", "another version", "no version (an older export)"])
def test_the_c_sources_refuse_another_versions_generated_files(export_copy, edit):
    if edit == "another version":
        _edit(export_copy / "network.h", r"#define NET_TOOL_VERSION_NUM \d+", "#define NET_TOOL_VERSION_NUM 99")
        _edit(export_copy / "logmel_tables.h", r"#define LOGMEL_TABLES_TOOL_VERSION_NUM \d+",
              "#define LOGMEL_TABLES_TOOL_VERSION_NUM 99")
    elif edit.startswith("no version"):
        _edit(export_copy / "network.h", r"#define NET_TOOL_VERSION_NUM \d+", "")
        _edit(export_copy / "logmel_tables.h", r"#define LOGMEL_TABLES_TOOL_VERSION_NUM \d+", "")
    network = [_compile(export_copy / name, export_copy, FIRMWARE_DIR / "kernels") for name in ("network.c", "network_data.c")]
    frontend = _compile(FIRMWARE_DIR / "frontend" / "logmel.c", FIRMWARE_DIR / "frontend", export_copy)
    if edit == "this version":
        assert [p.returncode for p in (*network, frontend)] == [0, 0, 0], [p.stderr for p in (*network, frontend)]
        return
    for p in network:
        assert p.returncode != 0 and "network.h was generated by another efficientat-m4 version" in p.stderr, p.stderr
    assert frontend.returncode != 0 and "logmel_tables.h was generated by another efficientat-m4 version" in frontend.stderr
