"""The embedding firmware, bit-exact: on the host build and in QEMU on both Cortex-M4 boards,
in both modes, the integers equal the `reference` board's (ONNX Runtime) byte for byte.
Plus defined behaviour for bad input (too short, too long for the board) and long scene clips."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from exporter import ROOT
from exporter.audio import example_clips
from exporter.boards import firmware_runner
from exporter.audio.files import to_pcm16
from exporter.boards import reference
from exporter.errors import UserError
from exporter.float_model.windows import TS_HOP

pytestmark = pytest.mark.slow
BOARDS = ["host", "qemu-an386", "qemu-netduinoplus2"]
MODES = ["scene", "timestamp"]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    from exporter import defaults
    from exporter.float_model.checkpoint import resolve_model
    from exporter.commands.export import export_to

    model, info = resolve_model(checkpoint=defaults.CHECKPOINT)
    out = tmp_path_factory.mktemp("fw") / "export"
    export_to(out, model=model, info=info, calibration_clips=4, fidelity_clips=1, progress=False)
    return out


@pytest.fixture(scope="module")
def clips(test_audio):
    out = {"golden": to_pcm16(np.asarray(test_audio, dtype=np.float32).ravel())}
    for name in ("speech", "music", "noise", "silence", "full_scale"):
        out[name] = to_pcm16(example_clips.CLIPS[name](1.2))
    return out


@pytest.fixture(scope="module")
def references(export_dir, clips):
    """The reference integers, computed once per (mode, clip)."""
    return {(mode, name): reference.embed_clips([clip], mode, export_dir)[0]
            for mode in MODES for name, clip in clips.items()}


@pytest.fixture(scope="module")
def embedders(export_dir):
    """One build per (board, mode) for the whole module."""
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.fail("qemu-system-arm / arm-none-eabi-gcc missing (bash ci/setup.sh)")
    cache = {}

    def get(board, mode):
        if (board, mode) not in cache:
            cache[board, mode] = firmware_runner.build_embedder(board, mode, export_dir)
        return cache[board, mode]

    return get


def _embed(embedders, board, mode, clip):
    run = firmware_runner.run_embedder(board, embedders(board, mode), clip)
    firmware_runner.check_run(board, run, clip.size, mode)
    return run, (run.embeddings[0] if mode == "scene" else np.stack(run.embeddings))


@pytest.mark.parametrize("clip_name", ["golden", "speech", "music", "noise", "silence", "full_scale"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("board", BOARDS)
def test_bit_exact_with_reference(embedders, clips, references, board, mode, clip_name):
    clip = clips[clip_name]
    ref = references[mode, clip_name]
    run, got = _embed(embedders, board, mode, clip)
    assert got.dtype == np.int16 and ref.dtype == np.int16
    assert got.shape == ref.shape
    assert np.array_equal(got, ref)
    if mode == "timestamp":
        assert run.timestamps_ms == [50 * i for i in range(clip.size // TS_HOP + 1)]
    assert run.hello.dim == ref.shape[-1] and run.hello.board == board
    if board != "host":
        # Measured stack peak (painted stack) with headroom: an overflow would fault.
        assert 0 < run.end.stack_used <= run.end.stack_size - 512


def test_embed_clips_interface_matches_reference(export_dir, clips, references):
    """The board module API of `python -m exporter run` (several clips in one call)."""
    from exporter.boards import qemu_an386

    got = qemu_an386.embed_clips([clips["speech"], clips["noise"]], "timestamp", export_dir)
    assert np.array_equal(got[0], references["timestamp", "speech"])
    assert np.array_equal(got[1], references["timestamp", "noise"])


@pytest.mark.parametrize("mode", MODES)
def test_shipped_export_on_qemu_an386_equals_reference(clips, mode):
    """What ships: firmware/generated (the default model's committed export; tests/test_generated_current.py
    checks it is current) built into the firmware, run on qemu-an386, byte-equal to the reference board
    on the same folder. The other tests here use a fresh, smaller export made by this module."""
    from exporter.defaults import GENERATED_DIR
    from exporter.quantization.graph import Graph

    clip = clips["speech"]  # 1.2 s
    ref = reference.embed_clips([clip], mode, GENERATED_DIR)[0]
    run = firmware_runner.run_embedder("qemu-an386", firmware_runner.build_embedder("qemu-an386", mode, GENERATED_DIR), clip)
    firmware_runner.check_run("qemu-an386", run, clip.size, mode)
    got = run.embeddings[0] if mode == "scene" else np.stack(run.embeddings)
    assert got.dtype == ref.dtype == np.int16 and got.shape == ref.shape
    assert np.array_equal(got, ref)
    taps = Graph.load(GENERATED_DIR).taps  # the hello frame describes the shipped graph's taps
    assert [(t.name, t.offset, t.channels, t.zero_point) for t in run.hello.taps] == \
        [(t["name"], t["offset"], t["channels"], t["zero_point"]) for t in taps]


@pytest.fixture(scope="module")
def size_export(tmp_path_factory):
    """The shipped export re-rendered with the general kernels alone (export --optimize size), as the
    benchmark's smallest build takes it."""
    from exporter import defaults
    from exporter.benchmark.firmware import size_optimized_copy

    out = tmp_path_factory.mktemp("fwsize") / "export"
    size_optimized_copy(defaults.GENERATED_DIR, out)
    assert "_lut_row}" not in (out / "network.c").read_text()  # no instance left
    return out


@pytest.mark.parametrize("mode", MODES)
def test_size_optimized_export_on_qemu_an386_equals_reference(size_export, clips, mode):
    """export --optimize size built for size (-Os) gives the reference board's integers: the general kernels
    compute what the instances do."""
    clip = clips["noise"]
    ref = reference.embed_clips([clip], mode, size_export)[0]
    exe = firmware_runner.build_embedder("qemu-an386", mode, size_export, options={"CMAKE_BUILD_TYPE": "MinSizeRel"})
    run = firmware_runner.run_embedder("qemu-an386", exe, clip)
    firmware_runner.check_run("qemu-an386", run, clip.size, mode)
    got = run.embeddings[0] if mode == "scene" else np.stack(run.embeddings)
    assert got.shape == ref.shape and np.array_equal(got, ref)


@pytest.fixture(scope="module")
def other_width_export(tmp_path_factory):
    """A second width (0.2, seeded random weights): other channel counts, so other kernel instances
    and general-kernel paths (exporter/codegen/kernel_variants.py) than mn01's."""
    from exporter.commands.export import export_to
    from exporter.float_model.checkpoint import resolve_model

    model, info = resolve_model(weights="random", width=0.2, seed=3)
    out = tmp_path_factory.mktemp("fw02") / "export"
    export_to(out, model=model, info=info, calibration_clips=2, fidelity_clips=1, progress=False)
    return out


@pytest.mark.parametrize("mode", MODES)
def test_other_width_on_qemu_an386_equals_reference(other_width_export, clips, mode):
    clip = clips["music"]
    ref = reference.embed_clips([clip], mode, other_width_export)[0]
    exe = firmware_runner.build_embedder("qemu-an386", mode, other_width_export)
    run = firmware_runner.run_embedder("qemu-an386", exe, clip)
    firmware_runner.check_run("qemu-an386", run, clip.size, mode)
    got = run.embeddings[0] if mode == "scene" else np.stack(run.embeddings)
    assert got.shape == ref.shape and np.array_equal(got, ref)


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("mode,n", [("timestamp", 0), ("timestamp", 2560), ("scene", 513)])
def test_clip_shorter_than_a_window_is_an_error_frame(embedders, board, mode, n):
    clip = to_pcm16(example_clips.noise(1.0))[:n]
    run = firmware_runner.run_embedder(board, embedders(board, mode), clip)
    assert run.exit_code == 2
    assert run.embeddings == [] and run.end is not None and run.end.n_samples == n
    ((code, msg),) = run.errors
    assert code == 1 and "too short" in msg
    with pytest.raises(UserError, match="too short"):
        firmware_runner.check_run(board, run, n, mode)


def test_shortest_timestamp_clip_is_bit_exact(embedders, export_dir):
    clip = to_pcm16(example_clips.music_like(1.0)[:2561])
    ref = reference.embed_clips([clip], "timestamp", export_dir)[0]
    _, got = _embed(embedders, "qemu-an386", "timestamp", clip)
    assert got.shape == (2, ref.shape[1]) and np.array_equal(got, ref)


def test_long_scene_clip_averages_padded_windows(embedders, export_dir):
    """Over 10 s: 10 s windows every 2.5 s on the clip reflect-padded by 5 s, averaged (an386)."""
    clip = to_pcm16(np.concatenate([example_clips.speech_like(5.3), example_clips.music_like(5.3)]))
    ref = reference.embed_clips([clip], "scene", export_dir)[0]
    _, got = _embed(embedders, "qemu-an386", "scene", clip)
    assert np.array_equal(got, ref)


def test_long_scene_clip_on_netduinoplus2_is_refused(embedders):
    """Scene clips over 10 s need a 940 KB sample ring: not on a 128 KiB board. A clear error."""
    clip = to_pcm16(example_clips.noise(10.02))
    run = firmware_runner.run_embedder("qemu-netduinoplus2", embedders("qemu-netduinoplus2", "scene"), clip)
    assert run.exit_code == 2 and run.embeddings == []
    ((code, msg),) = run.errors
    assert code == 2 and "over 10 s" in msg and "qemu-netduinoplus2" in msg
    with pytest.raises(UserError, match="over 10 s"):
        firmware_runner.check_run("qemu-netduinoplus2", run, clip.size, "scene")


def test_firmware_problems_are_clear_errors(embedders, clips):
    """A hang (timeout), a fault (exit status + error frame), a corrupt stream: FirmwareError."""
    exe = embedders("qemu-an386", "timestamp")
    with pytest.raises(firmware_runner.FirmwareError, match="did not finish within"):
        firmware_runner.run_embedder("qemu-an386", exe, clips["golden"], timeout=0.05)

    run = firmware_runner.run_embedder("qemu-an386", exe, clips["speech"])
    firmware_runner.check_run("qemu-an386", run, clips["speech"].size, "timestamp")  # the good run passes
    faulted = firmware_runner.FirmwareRun(exit_code=3, errors=[(4, "cpu fault: exception=0x00000003 pc=0x1")])
    with pytest.raises(firmware_runner.FirmwareError, match="status 3: cpu fault"):
        firmware_runner.check_run("qemu-an386", faulted, clips["speech"].size, "timestamp")
    run.decode.crc_errors = 1
    with pytest.raises(firmware_runner.FirmwareError, match="1 CRC errors"):
        firmware_runner.check_run("qemu-an386", run, clips["speech"].size, "timestamp")
    run.decode.crc_errors = 0
    run.embeddings.pop()
    with pytest.raises(firmware_runner.FirmwareError, match="embeddings for"):
        firmware_runner.check_run("qemu-an386", run, clips["speech"].size, "timestamp")


def test_hello_frame_carries_the_graphs_dequantization(embedders, export_dir, clips):
    from exporter.quantization import qembed
    from exporter.quantization.graph import Graph

    graph = Graph.load(export_dir)
    run, got = _embed(embedders, "qemu-netduinoplus2", "timestamp", clips["music"])
    h = run.hello
    assert (h.mode, h.l_frac_bits, h.l_dim, h.max_frames) == ("timestamp", 12, 128, 16)
    assert [(t.name, t.offset, t.channels, t.zero_point) for t in h.taps] == \
        [(t["name"], t["offset"], t["channels"], t["zero_point"]) for t in graph.taps]
    assert [t.scale for t in h.taps] == [float(np.float32(t["scale"])) for t in graph.taps]
    np.testing.assert_allclose(h.dequantize(got), qembed.dequantize(graph, got), rtol=1e-6, atol=1e-7)


def _wav(path, pcm):
    import soundfile as sf

    sf.write(path, pcm, 32000, subtype="PCM_16")  # read back as pcm / 32768: the same int16
    return path


def test_run_skips_a_clip_the_board_cannot_take(export_dir, embedders, clips, tmp_path, capsys, cli):
    """`run` on qemu-netduinoplus2 with a 10.02 s clip between two good ones: the long one is
    named and skipped, the good ones are written (equal to the reference), exit code 1."""
    embedders("qemu-netduinoplus2", "scene")  # the module's build
    good1, good2 = _wav(tmp_path / "speech.wav", clips["speech"]), _wav(tmp_path / "music.wav", clips["music"])
    long = _wav(tmp_path / "long.wav", to_pcm16(example_clips.noise(10.02)))
    out = tmp_path / "n.npz"
    code, _ = cli("run", "--board", "qemu-netduinoplus2", good1, long, good2, "--export", export_dir, "--out", out)
    assert code == 1
    err = capsys.readouterr().err
    assert f"error: {long}: qemu-netduinoplus2: " in err and "over 10 s" in err
    z = np.load(out)
    assert list(z["files"]) == [str(good1), str(good2)]
    expected = reference.embed_clips([clips["speech"], clips["music"]], "scene", export_dir)
    assert np.array_equal(z["embeddings_q"], np.stack(expected))


def _children(pid: int) -> dict[int, str]:
    """pid -> command name of the processes whose parent is ``pid``."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            if int(rest[1]) == pid and rest[0] != "Z":
                out[int(d)] = name
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_during_run_ends_qemu_and_leaves_nothing(export_dir, embedders, tmp_path, sig):
    """`kill` (SIGTERM) or a closed terminal (SIGHUP) while QEMU runs: QEMU ends with the
    command, the temporary clip is removed, no output is written, exit code 128 + signal."""
    embedders("qemu-an386", "timestamp")  # built here: the command only runs QEMU
    wav = _wav(tmp_path / "minute.wav", to_pcm16(example_clips.noise(60.0)))
    tmp, out = tmp_path / "tmp", tmp_path / "out.npz"
    tmp.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), TMPDIR=str(tmp))
    cmd = [sys.executable, "-m", "exporter", "run", "--board", "qemu-an386", "--mode", "timestamp", str(wav),
           "--export", str(export_dir), "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (qemu := [p for p, name in _children(proc.pid).items() if name.startswith("qemu-system")]):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "QEMU did not start"
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, err
    assert b"Traceback" not in err
    assert not _alive(qemu[0])
    assert list(tmp.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["minute.wav", "tmp"]
