"""Task heads: demo set, labelled data, training, the int8 head and its three executors, bad input.

The end-to-end test (train on an export, export with --head, device scores bit-exact on host and
qemu-an386 in both modes) is marked slow.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from exporter import heads
from exporter.errors import UserError
from exporter.quantization.graph import Graph

GENERATED = Path(__file__).resolve().parent.parent / "firmware" / "generated"


@pytest.fixture(scope="module")
def graph() -> Graph:
    return Graph.load(GENERATED)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_demo_set_is_deterministic_and_labelled(tmp_path):
    from exporter.audio.demo_data import EVENT_CLASSES, SCENE_CLASSES, write_demo_set

    a = write_demo_set(tmp_path / "a", per_class=4, seconds=0.3)
    b = write_demo_set(tmp_path / "b", per_class=4, seconds=0.3)
    assert _digest(a) == _digest(b)
    scenes = heads.load_dataset(a / "scenes")
    assert scenes.classes == sorted(SCENE_CLASSES) and len(scenes.files) == 12 and not scenes.multi_label
    events = heads.load_dataset(a / "events")
    assert events.classes == sorted(EVENT_CLASSES)
    multi = heads.load_dataset(a / "events_multi.csv")
    assert multi.multi_label and set(multi.classes) <= set(EVENT_CLASSES)
    assert any(len(labs) == 2 for labs in multi.labels)
    # clips of different classes differ (the seed streams are per class)
    x = [np.frombuffer(p.read_bytes(), np.uint8) for p in (a / "scenes" / "speech").iterdir()]
    assert not np.array_equal(x[0], x[1])


def _fake_embeddings(graph: Graph, n: int, n_classes: int, seed: int = 0):
    """Integer embeddings whose class shifts a few elements of every section: separable."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    d = 128 + graph.tap_dim
    q = np.empty((n, d), dtype=np.int16)
    q[:, :128] = rng.normal(-2 * 4096, 4096, size=(n, 128))
    q[:, 128:] = rng.integers(-128, 128, size=(n, graph.tap_dim))
    for c in range(n_classes):
        cols = np.arange(c, d, 23)  # the columns that carry class c
        q[np.ix_(y == c, cols)] = np.clip(q[np.ix_(y == c, cols)].astype(int) + np.where(cols < 128, 3000, 60),
                                          -32768, 32767)
    q[:, 128:] = np.clip(q[:, 128:], -128, 127)
    return q, y


@pytest.mark.parametrize("hidden,multi", [(0, False), (16, False), (0, True), (16, True)])
def test_int8_head_numpy_onnx_agree_and_follow_float(graph, hidden, multi):
    from exporter.reference import onnx_int
    from exporter.quantization import qembed

    q, y = _fake_embeddings(graph, 240, 4)
    x = qembed.dequantize(graph, q).astype(np.float64)
    target = np.eye(4, dtype=int)[y] | np.eye(4, dtype=int)[(y + 1) % 4] if multi else y
    head = heads.fit(x[:160], target[:160], multi, hidden, 1.0)
    meta = {"name": "t", "classes": list("abcd"), "multi_label": multi, "mode": "scene",
            "ranges": heads.calibrate_ranges(head, x[:160])}
    qh = heads.quantize_head(graph, head, meta)
    g = Graph({**graph.meta, "heads": [qh["entry"]]}, {**graph.arrays, **qh["arrays"]})
    g.validate()
    logits_q = heads.run_heads(g, q[160:])["t"]
    sess = onnx_int.session(onnx_int.build_heads_model(g))
    onnx_q = np.stack([onnx_int.run_heads(sess, e)["t"] for e in q[160:]])
    assert np.array_equal(logits_q, onnx_q)
    # the int8 head follows the float head: decisions agree, logits close
    f = head.logits(x[160:])
    d = heads.dequantize_logits(qh["entry"], logits_q)
    span = f.max() - f.min()
    assert np.abs(d - f).max() < 0.06 * span
    if multi:
        assert np.mean((f > 0) == (d > 0)) > 0.97
    else:
        assert np.mean(np.argmax(f, -1) == np.argmax(logits_q, -1)) > 0.97
    # the network part is untouched: same hash with and without heads
    assert heads.graph_hash(g) == heads.graph_hash(graph)


def test_embed_quantize_is_the_standardization(graph):
    """x = (e - mean) / std / s_x, up to one int8 step plus the offset folded into the bias."""
    q, y = _fake_embeddings(graph, 60, 2)
    from exporter.quantization import qembed

    x = qembed.dequantize(graph, q).astype(np.float64)
    head = heads.fit(x, y, False, 0, 1.0)
    meta = {"name": "t", "classes": ["a", "b"], "multi_label": False, "mode": "scene",
            "ranges": heads.calibrate_ranges(head, x)}
    qh = heads.quantize_head(graph, head, meta)
    g = Graph({**graph.meta, "heads": [qh["entry"]]}, {**graph.arrays, **qh["arrays"]})
    hg = heads.head_graph(g, qh["entry"])
    from exporter.reference import int8_exec

    op = hg.ops[0]
    s_x = hg.tensors[op["output"]]["scale"]
    s_e, zp_e = heads.element_scales(graph)
    center = hg.array(op, "center").astype(np.float64)
    for e in q[:5]:
        xq = int8_exec.run_op(hg, op, {heads.EMBEDDING: e}).astype(np.float64)
        want = (s_e * (e - center)) / head.std / s_x  # the real value the integers stand for
        inside = np.abs(want) < 127
        # half a step, plus the double rounding's first rounding (half of 2^shift when shifting right)
        bound = 0.5 + 0.5 * 2.0 ** np.minimum(hg.array(op, "shift"), 0) + 1e-6
        assert np.all(np.abs(xq - want)[inside] <= bound[inside])
        assert abs(np.mean((xq - want)[inside])) < 0.1  # a rounding, not a bias


def test_graph_hash_mismatch_is_refused(graph, tmp_path):
    q, y = _fake_embeddings(graph, 40, 2)
    from exporter.quantization import qembed

    x = qembed.dequantize(graph, q).astype(np.float64)
    head = heads.fit(x, y, False, 0, 1.0)
    meta = {"format": heads.HEAD_FORMAT, "name": "t", "classes": ["a", "b"], "multi_label": False, "mode": "scene",
            "layers": 1, "embedding_dim": x.shape[1], "graph_hash": heads.graph_hash(graph),
            "model": graph.meta["model"]["name"], "ranges": heads.calibrate_ranges(head, x)}
    heads.save_head(tmp_path / "h", head, meta)
    g = Graph(dict(graph.meta), dict(graph.arrays))
    heads.add_heads(g, [tmp_path / "h"])  # the graph it was trained on: accepted
    assert [h["name"] for h in g.meta["heads"]] == ["t"]
    other = Graph(dict(graph.meta), dict(graph.arrays))
    key = next(k for k in other.arrays if k.endswith(".bias"))
    other.arrays[key] = other.arrays[key] + np.int32(1)  # one bias step: another export
    with pytest.raises(UserError, match="trained on another export"):
        heads.add_heads(other, [tmp_path / "h"])
    assert "heads" not in other.meta
    with pytest.raises(UserError, match="two heads are named"):
        heads.add_heads(Graph(dict(graph.meta), dict(graph.arrays)), [tmp_path / "h", tmp_path / "h"])


def test_scores_frame_round_trip_and_malformed():
    from exporter.boards import uart_protocol as up

    s = up.Scores(1, "scenes", False, 2, 0.125, -3, np.array([-5, 7, 9], dtype=np.int8))
    frame = up.encode_frame(up.SCORES, up.encode_scores(s), seq=4, timestamp_ms=50)
    got = up.parse_scores(up.decode_stream(frame).frames[0].payload)
    assert (got.name, got.top, got.scale, got.zero_point, got.logits_q.tolist()) == ("scenes", 2, 0.125, -3, [-5, 7, 9])
    with pytest.raises(up.ProtocolError):
        up.parse_scores(up.encode_scores(s)[:-1])
    with pytest.raises(up.ProtocolError):
        up.parse_scores(up.encode_scores(s) + b"\0")


# ---- bad input: one clear line, nothing written ----------------------------------------------


def _wav(path: Path, seconds: float = 0.5, seed: int = 0) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.random.default_rng(seed).standard_normal(int(32000 * seconds)), 32000)


def test_bad_data_folders(tmp_path, cli):
    d = tmp_path / "data"
    for c in ("a", "b"):
        for i in range(4):
            _wav(d / c / f"{i}.wav", seed=i)
    (d / "empty").mkdir()
    code, msg = cli("heads", "train", d, "--name", "x", "--out", tmp_path / "h")
    assert code == 2 and "empty" in msg and "no audio files" in msg
    (d / "empty").rmdir()
    one = tmp_path / "one"
    for i in range(4):
        _wav(one / "only" / f"{i}.wav", seed=i)
    code, msg = cli("heads", "train", one, "--name", "x", "--out", tmp_path / "h")
    assert code == 2 and "only one class" in msg
    code, msg = cli("heads", "train", d, "--name", "9bad", "--out", tmp_path / "h")
    assert code == 2 and "--name" in msg
    assert not (tmp_path / "h").exists()


def test_bad_csv(tmp_path, cli):
    for i in range(8):
        _wav(tmp_path / f"{i}.wav", seed=i)
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label\n" + "".join(f"{i}.wav,{'ab'[i % 2]}\n" for i in range(8)) + "gone.wav,a\n")
    code, msg = cli("heads", "train", csv, "--name", "x", "--out", tmp_path / "h")
    assert code == 2 and "do not exist" in msg and "gone.wav" in msg
    csv.write_text("".join(f"{i}.wav,{'ab'[i % 2]},{'train' if i < 6 else 'bogus'}\n" for i in range(8)))
    code, msg = cli("heads", "train", csv, "--name", "x", "--out", tmp_path / "h")
    assert code == 2 and "unknown split" in msg
    assert not (tmp_path / "h").exists()


def test_class_without_readable_audio(tmp_path, cli):
    """Files that look like audio but are not: the class is named, nothing is written."""
    d = tmp_path / "data"
    for i in range(4):
        _wav(d / "good" / f"{i}.wav", seed=i)
        (d / "broken").mkdir(exist_ok=True)
        (d / "broken" / f"{i}.wav").write_bytes(b"not audio at all")
    code, msg = cli("heads", "train", d, "--name", "x", "--out", tmp_path / "h")
    assert code == 2 and "'broken' has no readable audio" in msg
    assert not (tmp_path / "h").exists() and not list(tmp_path.glob(".h.tmp-*"))


def test_count_instructions_needs_qemu(tmp_path, cli, monkeypatch):
    """Without the tools, --count-instructions stops before training, naming what is missing."""
    import shutil

    d = tmp_path / "data"
    for c in ("a", "b"):
        for i in range(4):
            _wav(d / c / f"{i}.wav", seed=i)
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    code, msg = cli("heads", "train", d, "--name", "x", "--count-instructions", "--out", tmp_path / "h")
    assert code == 2 and "--count-instructions" in msg and "qemu-system-arm" in msg
    assert not (tmp_path / "h").exists()


@pytest.mark.slow
def test_head_cost_on_the_device(graph, head_on_generated):
    """The head measured on qemu-an386 (exporter/benchmark/heads.py): the same instructions per
    embedding in both modes (a head does not depend on the window), at least one instruction per two
    multiply-accumulates (SMLAD's rate) and not far above the MACs plus the standardization and the
    scores frame (the network's own instructions per embedding are millions), and at least its
    constants in flash."""
    from exporter.benchmark.heads import measure
    from exporter.commands.heads import head_cost

    head, meta = heads.load_head(head_on_generated)
    qh = heads.quantize_head(graph, head, meta)
    cost = head_cost(qh["entry"], qh["arrays"])
    scene = measure(GENERATED, [head_on_generated], "scene")
    ts = measure(GENERATED, [head_on_generated], "timestamp")
    assert scene["embeddings"] == 1 and ts["embeddings"] == 21
    assert scene["instructions_per_embedding"] == ts["instructions_per_embedding"]
    assert cost["macs"] / 2 < scene["instructions_per_embedding"] < 10 * cost["macs"] + 50_000
    assert scene["flash_bytes"] >= cost["flash_bytes"] and scene["ram_bytes"] > 0
    assert (scene["flash_bytes"], scene["ram_bytes"]) == (ts["flash_bytes"], ts["ram_bytes"])


def test_export_refuses_a_head_of_another_model(tmp_path, cli, graph):
    head = heads.FloatHead(np.zeros(184), np.ones(184), [(np.zeros((2, 184)), np.zeros(2))], False)
    heads.save_head(tmp_path / "h", head, {"format": heads.HEAD_FORMAT, "name": "t", "classes": ["a", "b"],
                                           "multi_label": False, "mode": "scene", "layers": 1, "embedding_dim": 184,
                                           "graph_hash": "0" * 64, "model": "mn10_as.pt", "ranges": {}})
    code, msg = cli("export", "--head", tmp_path / "h", "--out", tmp_path / "out")
    assert code == 2 and "trained on an export of mn10_as.pt" in msg
    assert not (tmp_path / "out").exists()
    code, msg = cli("export", "--head", tmp_path / "nothing", "--out", tmp_path / "out")
    assert code == 2 and "not a head folder" in msg


# ---- end to end: train on an export, export with the heads, the device's scores ------------


@pytest.fixture(scope="module")
def export_with_heads(tmp_path_factory, cli_module):
    """A quick export (A), a scene head and a multi-label timestamp head trained on it from the
    demo set, and export B = A + both heads."""
    from exporter.audio.demo_data import write_demo_set

    root = tmp_path_factory.mktemp("heads_e2e")
    demo = write_demo_set(root / "demo", per_class=12, seconds=1.5)
    quick = ("--calibration-clips", 4, "--fidelity-clips", 1)
    assert cli_module("export", *quick, "--out", root / "A") == (0, "")
    assert cli_module("heads", "train", demo / "scenes", "--name", "scenes", "--export", root / "A",
                      "--count-instructions", "--out", root / "h_scenes") == (0, "")
    # a multi-label head with a hidden layer, on timestamp embeddings of 20 clips (time: each clip is 31)
    rows = (demo / "events_multi.csv").read_text().splitlines()
    keep = sorted({r.split(",")[0] for r in rows[1:]})[:20]
    (demo / "events20.csv").write_text("\n".join(r for r in rows if r.split(",")[0] in keep) + "\n")
    assert cli_module("heads", "train", demo / "events20.csv", "--name", "events", "--mode", "timestamp",
                      "--hidden", 16, "--export", root / "A", "--out", root / "h_events") == (0, "")
    assert cli_module("export", *quick, "--head", root / "h_scenes", "--head", root / "h_events",
                      "--out", root / "B") == (0, "")
    return root, demo


@pytest.mark.slow
def test_heads_train_report(export_with_heads):
    import json

    root, _ = export_with_heads
    for name, key in (("scenes", "accuracy"), ("events", "mAP")):
        folder = root / f"h_{name}"
        r = json.loads((folder / "report.json").read_text())
        assert (folder / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "Held-out" in (folder / "report.md").read_text()
        held = r["held_out"]
        assert set(held) == {"float_head_float_embeddings", "float_head_device_embeddings", "int8_head_device_embeddings"}
        assert all(0 <= v <= 1 for m in held.values() for v in m.values())
        assert r["int8_vs_float_head_agreement"] >= 0.75  # small held-out sets: a borderline clip may flip
        if name == "scenes":  # speech / music / noise is learnable from the embedding: far above chance (1/3)
            assert held["int8_head_device_embeddings"][key] >= 0.6
        assert r["cost"]["flash_bytes"] > 0 and r["cost"]["macs"] > 0
        if name == "scenes":  # --count-instructions: measured in QEMU, in the report
            d = r["device_cost"]
            assert d["board"] == "qemu-an386" and d["mode"] == "scene" and d["embeddings"] == 1
            assert r["cost"]["macs"] / 2 < d["instructions_per_embedding"] < 10 * r["cost"]["macs"] + 50_000
            assert d["flash_bytes"] >= r["cost"]["flash_bytes"]
            assert f"{d['instructions_per_embedding']:,.0f} |" in (folder / "report.md").read_text()
        else:
            assert "device_cost" not in r and "not counted" in (folder / "report.md").read_text()
        meta = json.loads((folder / "head.json").read_text())
        assert meta["graph_hash"] == heads.graph_hash(Graph.load(root / "A"))
    events = json.loads((root / "h_events" / "head.json").read_text())
    assert events["multi_label"] and events["hidden"] == 16


@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", "qemu-an386"])
@pytest.mark.parametrize("mode", ["scene", "timestamp"])
def test_device_scores_bit_exact(export_with_heads, board, mode):
    from exporter.audio.files import load_audio, to_pcm16
    from exporter.boards import scores_embedder

    root, demo = export_with_heads
    g = Graph.load(root / "B")
    assert [h["name"] for h in g.meta["heads"]] == ["scenes", "events"]
    assert heads.graph_hash(g) == heads.graph_hash(Graph.load(root / "A"))  # the network is unchanged
    clips = [to_pcm16(load_audio(p)) for p in sorted((demo / "scenes").rglob("*.wav"))[::7]]
    ref = scores_embedder("reference", mode, root / "B")
    dev = scores_embedder(board, mode, root / "B")
    for clip in clips:
        (q_ref, s_ref), (q_dev, s_dev) = ref(clip), dev(clip)
        assert np.array_equal(q_ref, q_dev)
        assert s_ref.keys() == s_dev.keys() == {"scenes", "events"}
        for name in s_ref:
            assert s_dev[name].dtype == np.int8 and np.array_equal(s_ref[name], s_dev[name]), (board, mode, name)
        # and the numpy executor of the graph agrees with both
        np_scores = heads.run_heads(g, q_ref)
        assert all(np.array_equal(np_scores[n], s_ref[n]) for n in s_ref)


@pytest.mark.slow
def test_run_writes_scores_and_labels(export_with_heads, tmp_path, cli):
    root, demo = export_with_heads
    files = sorted((demo / "scenes").rglob("*.wav"))[::5]
    assert cli("run", "--board", "reference", "--export", root / "B", *files, "--out", tmp_path / "r.npz") == (0, "")
    r = np.load(tmp_path / "r.npz")
    assert list(r["heads"]) == ["scenes", "events"]
    assert r["scores.scenes"].shape == (len(files), 3) and np.allclose(r["scores.scenes"].sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(r["scores"], r["scores.scenes"])
    classes = list(r["classes.scenes"])
    assert list(r["labels.scenes"]) == [classes[i] for i in np.argmax(r["scores_q.scenes"], axis=1)]
    assert r["scores.events"].shape == (len(files), 5)  # sigmoid: independent per class
