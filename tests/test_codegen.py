"""The generated C network (exporter/codegen/network.py + firmware/kernels) against the
numpy executor of the integer graph, byte for byte; the arena plan; the render.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from exporter.boards import cmake_build
from exporter.reference import int8_exec
from exporter.audio.files import to_pcm16
from exporter.float_model.checkpoint import random_model, resolve_model
from exporter.codegen import network as codegen_network
from exporter.codegen import row_schedule
from exporter.codegen.network import fuse_activations, render_network
from exporter.errors import UserError
from exporter.quantization.fold import fold_model
from exporter.quantization.calibrate import collect_ranges
from exporter.frontend.fixed import logmel_q12
from exporter.frontend.render import render_frontend
from exporter.quantization.graph import Graph
from exporter.quantization.quantize import quantize_graph

PLANS = (16, 1000)


def quantized_graph(model, logmels_q12: list[np.ndarray], name: str) -> Graph:
    fgraph = fold_model(model)
    ranges = collect_ranges(fgraph, [m.astype(np.float64) / 4096.0 for m in logmels_q12], progress=False)
    return quantize_graph(fgraph, ranges, {"name": name})


@pytest.fixture(scope="module")
def golden_q12(test_audio) -> np.ndarray:
    """The golden 3 s clip through the fixed-point frontend: int16 [300][128]."""
    return logmel_q12(to_pcm16(test_audio))


@pytest.fixture(scope="module")
def mn01_graph(mn01_seed0_path, golden_q12) -> Graph:
    net, _ = resolve_model(checkpoint=mn01_seed0_path)
    return quantized_graph(net, [golden_q12[:150], golden_q12[150:]], "mn01")


def render(graph: Graph, out_dir) -> dict:
    summary = render_network(graph, out_dir, max_frames=PLANS)
    render_frontend(out_dir)  # the firmware tree builds the frontend from the same folder
    return summary


class HostNet:
    """The generated network built for the host with each arena plan."""

    def __init__(self, graph: Graph, gen_dir, build_root):
        self.graph = graph
        self.gen_dir = gen_dir
        self.summary = render(graph, gen_dir)
        self.cli = {}
        for frames in PLANS:
            bd = cmake_build.build(board="host", generated_dir=gen_dir, options={"NET_MAX_FRAMES": str(frames)},
                                   targets=["net_cli"], build_root=build_root)
            self.cli[frames] = bd / "firmware" / "host" / "net_cli"

    def run(self, frames_q12: np.ndarray, tmp_path, plan: int = 1000, order: list | None = None):
        """(taps int8, {op index: output bytes}, stdout fields) of one window; ``order``, if given,
        gets the (op, row) of every reported row in the order the device wrote them."""
        src, taps, ops = tmp_path / "frames.bin", tmp_path / "taps.bin", tmp_path / "ops.bin"
        np.ascontiguousarray(frames_q12, dtype="<i2").tofile(src)
        proc = subprocess.run([str(self.cli[plan]), str(src), str(taps), str(ops)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        raw, rows, pos = ops.read_bytes(), {}, 0
        while pos < len(raw):
            op, row, n = (int(v) for v in np.frombuffer(raw, np.int32, 3, pos))
            rows.setdefault(op, []).append((row, np.frombuffer(raw, np.int8, n, pos + 12)))
            if order is not None:
                order.append((op, row))
            pos += 12 + n
        outs = {}
        for op, rs in rows.items():
            assert [r for r, _ in rs] == list(range(len(rs))), f"op {op}: rows out of order"
            outs[op] = np.concatenate([d for _, d in rs])
        words = proc.stdout.split()
        info = {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}
        return np.fromfile(taps, np.int8), outs, info

    def check(self, frames_q12: np.ndarray, tmp_path, plan: int = 1000) -> None:
        taps, outs, info = self.run(frames_q12, tmp_path, plan)
        env = int8_exec.run(self.graph, frames_q12, return_all=True)
        want = int8_exec.taps_vector(self.graph, env)
        # Every op's output, but a conv whose activation table is fused into it
        # (the table's op reports the result) ...
        fused = {op["index"] for op in fuse_activations(self.graph).ops if "fused_table" in op}
        assert fused and sorted(outs) == sorted(set(range(len(self.graph.ops))) - fused)
        for i, got in outs.items():
            ref = env[self.graph.ops[i]["output"]].ravel()
            assert got.tobytes() == ref.tobytes(), f"op {i} ({self.graph.ops[i]['name']}) differs"
        # ... and the taps.
        assert taps.tobytes() == want.tobytes()
        assert info["frames"] == len(frames_q12)
        assert info["macs"] == sum(self.graph.macs(len(frames_q12)))
        assert info["arena_bytes"] == self.summary["plans"][str(plan)]["arena_bytes"]


@pytest.fixture(scope="module")
def mn01_net(mn01_graph, tmp_path_factory):
    root = tmp_path_factory.mktemp("mn01")
    return HostNet(mn01_graph, root / "gen", root / "build")


def test_mn01_golden_frames(mn01_net, golden_q12, tmp_path):
    mn01_net.check(golden_q12, tmp_path, plan=1000)
    mn01_net.check(golden_q12[:16], tmp_path, plan=16)
    mn01_net.check(golden_q12[100:109], tmp_path, plan=16)  # odd T through four stride-2 layers


def test_mn01_random_inputs(mn01_net, tmp_path):
    rng = np.random.default_rng(0)
    for t in (1, 2, 5, 16):
        x = rng.integers(-32768, 32768, size=(t, 128)).astype(np.int16)  # saturates the input quantizer
        mn01_net.check(x, tmp_path, plan=16)
    x = rng.normal(-2.0, 3.0, size=(77, 128)) * 4096
    mn01_net.check(np.clip(x, -32768, 32767).astype(np.int16), tmp_path, plan=1000)


def test_window_longer_than_plan_is_refused(mn01_net, golden_q12, tmp_path):
    src = tmp_path / "frames.bin"
    golden_q12[:17].astype("<i2").tofile(src)
    proc = subprocess.run([str(mn01_net.cli[16]), str(src), str(tmp_path / "t.bin")], capture_output=True, text=True)
    assert proc.returncode == 3 and "NET_MAX_FRAMES" in proc.stderr


def test_window_lengths(mn01_net, golden_q12, tmp_path):
    """Every ring survives windows of any length up to the plan's (the schedule's edge cases)."""
    for t in range(1, 17):
        mn01_net.check(golden_q12[3 : 3 + t], tmp_path, plan=16)
    for t in (17, 31, 64, 101, 255):
        mn01_net.check(golden_q12[:t], tmp_path, plan=1000)
    # the plan's full length: the golden frames repeated (a 10 s window)
    mn01_net.check(np.tile(golden_q12, (4, 1))[:1000], tmp_path, plan=1000)


def planned_rows(graph: Graph, frames: int) -> list[tuple[int, int]]:
    """The (op, row) the device reports, in row_schedule.simulate's order: a conv with a fused table
    reports as the table's op, and a pooled op once, at its end."""
    fused = {op["index"] for op in fuse_activations(graph).ops if "fused_table" in op}
    planned = row_schedule.simulate(graph, frames, record=True).order
    return [(i, r) for k, (i, r) in enumerate(planned) if i not in fused
            and not (graph.ops[i]["op"] == "global_avgpool" and any(j == i for j, _ in planned[k + 1:]))]


def test_device_runs_the_planned_schedule(mn01_net, golden_q12, tmp_path):
    """The C scheduler writes the rows in exactly the order of row_schedule.simulate, which sized the
    rings (a different valid order could overrun a ring on some other input): full windows (the
    schedule table) and shorter ones (the table, then the search)."""
    full = np.tile(golden_q12, (4, 1))[:1000]
    for frames, plan in ((golden_q12[:16], 16), (golden_q12[:9], 16), (golden_q12[:203], 1000), (full, 1000)):
        got: list = []
        mn01_net.run(frames, tmp_path, plan, order=got)
        assert got == planned_rows(mn01_net.graph, len(frames))


def test_plans_are_written_down(mn01_net):
    """Both plans' windows follow a schedule table (each under the size limit)."""
    src = (mn01_net.gen_dir / "network.c").read_text()
    plans = re.split(r"#(?:el)?if NET_MAX_FRAMES == ", src)[1:]
    static = {int(p.split()[0]): "#define NET_STATIC_SCHEDULE 1" in p.split("#else")[0] for p in plans}
    assert static == {16: True, 1000: True}


def test_schedule_search_alone(mn01_graph, golden_q12, tmp_path_factory, tmp_path, monkeypatch):
    """A graph whose schedule table would be too large runs on the search alone, in the same order."""
    monkeypatch.setattr(codegen_network, "STATIC_SCHEDULE_MAX_BYTES", 0)
    root = tmp_path_factory.mktemp("search")
    net = HostNet(mn01_graph, root / "gen", root / "build")
    assert "NET_STATIC_SCHEDULE" not in (root / "gen" / "network.c").read_text().split("#else")[0]
    net.check(golden_q12, tmp_path, plan=1000)
    net.check(golden_q12[:16], tmp_path, plan=16)
    for frames, plan in ((golden_q12[:16], 16), (golden_q12[:203], 1000)):
        got: list = []
        net.run(frames, tmp_path, plan, order=got)
        assert got == planned_rows(mn01_graph, len(frames))


def test_other_max_frames_is_a_build_error(mn01_net):
    gen = mn01_net.gen_dir
    kernels = cmake_build.ROOT / "firmware" / "kernels"
    cmd = ["gcc", "-std=c99", "-fsyntax-only", f"-I{kernels}", f"-I{gen}", str(gen / "network.c")]
    assert subprocess.run(cmd + ["-DNET_MAX_FRAMES=16"], capture_output=True).returncode == 0
    proc = subprocess.run(cmd + ["-DNET_MAX_FRAMES=17"], capture_output=True, text=True)
    assert proc.returncode != 0 and "no arena plan" in proc.stderr


def test_mn02_random_weights(golden_q12, tmp_path_factory, tmp_path):
    graph = quantized_graph(random_model("mn02", seed=3), [golden_q12[:100]], "mn02")
    root = tmp_path_factory.mktemp("mn02")
    net = HostNet(graph, root / "gen", root / "build")
    net.check(golden_q12[40:240], tmp_path, plan=1000)
    net.check(golden_q12[:13], tmp_path, plan=16)


def test_render_is_deterministic(mn01_graph, tmp_path):
    a = render_network(mn01_graph, tmp_path / "a", max_frames=PLANS)
    b = render_network(mn01_graph, tmp_path / "b", max_frames=PLANS)
    assert a == b
    for name in ("network.h", "network.c", "network_data.c", "network_plan.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_graph_without_quantize_op_is_refused(mn01_graph, tmp_path):
    meta = dict(mn01_graph.meta)
    meta["ops"] = [op for op in mn01_graph.ops if op["op"] != "quantize"]
    with pytest.raises(UserError, match="quantize"):
        render_network(Graph(meta, mn01_graph.arrays), tmp_path)


def test_compiles_for_cortex_m4(mn01_net, tmp_path):
    """Kernels (DSP paths) and the generated network build warning-free for the M4."""
    gcc = shutil.which("arm-none-eabi-gcc")
    assert gcc, "arm-none-eabi-gcc is needed (bash ci/setup.sh installs it)"
    gen = mn01_net.gen_dir
    kernels = cmake_build.ROOT / "firmware" / "kernels"
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2", "-ffp-contract=off",
             "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{kernels}", f"-I{gen}", "-DNET_MAX_FRAMES=16"]
    sources = sorted(kernels.glob("*.c")) + [gen / "network.c", gen / "network_data.c"]
    for src in sources:
        obj = tmp_path / (src.name + ".o")
        proc = subprocess.run([gcc, *flags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(tmp_path / "nn_conv.c.o")], capture_output=True, text=True)
    assert "smlad" in dis.stdout  # the DSP path, not the portable one
