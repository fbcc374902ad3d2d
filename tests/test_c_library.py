"""An export folder is a C library that builds on its own.

A small application (tests/c_library_app: main.c pushes PCM through efat_push_pcm in odd-sized
blocks and prints the embeddings) is built against a copy of an export folder, outside the
repository, with nothing else: with CMake (add_subdirectory, find_package), a plain Makefile
(sources.mk), the Zephyr module (Zephyr's CMake functions stubbed) and the PlatformIO manifest's
sources and flags, for the host, and with CMake for the Cortex-M4 in QEMU (mps2-an386). Its
embeddings, timestamps and dequantization equal the reference board's byte for byte in both modes,
and the compilers' dependency lists show no file of the repository.
"""

import json
import re
import shutil
import subprocess
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

from exporter import ROOT
from exporter.audio import example_clips
from exporter.audio.files import to_pcm16
from exporter.boards import reference
from exporter.quantization.graph import Graph
from exporter.float_model.windows import TS_HOP

pytestmark = pytest.mark.slow
APP = Path(__file__).resolve().parent / "c_library_app"
MODES = ["scene", "timestamp"]
SMALL = dict(calibration_clips=2, calibration_seconds=1.0, fidelity_clips=1, fidelity_seconds=1.0, progress=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory, mn01_seed0_path):
    """A fresh export, copied to another temporary folder as `lib` (the export itself is
    removed), with a copy of the application next to it: nothing points into the repository."""
    from exporter.float_model.checkpoint import resolve_model
    from exporter.commands.export import export_to

    root = tmp_path_factory.mktemp("clib")
    model, info = resolve_model(checkpoint=mn01_seed0_path)
    export_to(root / "export", model=model, info=info, **SMALL)
    shutil.copytree(root / "export", root / "lib")
    shutil.rmtree(root / "export")
    shutil.copytree(APP, root / "app")
    assert not root.is_relative_to(ROOT)
    return root


@pytest.fixture(scope="module")
def clips(test_audio):
    return {"golden": to_pcm16(np.asarray(test_audio, dtype=np.float32).ravel()),
            "speech": to_pcm16(example_clips.speech_like(1.2))}


def _run(cmd, cwd=None, timeout=600):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _cmake_app(work, name, mode, toolchain=False, find_package=False, options=()):
    build = work / "build" / name
    cmd = ["cmake", "-S", work / "app", "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
           f"-DEFAT_MODE={mode}", *options]
    if find_package:
        cmd += ["-DUSE_FIND_PACKAGE=ON", f"-DCMAKE_PREFIX_PATH={work / 'lib'}"]
    else:
        cmd += [f"-DEFAT_LIB={work / 'lib'}"]
    if toolchain:
        cmd += [f"-DCMAKE_TOOLCHAIN_FILE={work / 'app' / 'm4' / 'toolchain.cmake'}"]
    _run(cmd)
    _run(["cmake", "--build", build])
    deps = _run(["ninja", "-C", build, "-t", "deps"]).stdout
    _check_deps(work, [line.strip() for line in deps.splitlines() if line.startswith(" ")], build)
    return build / "app"


def _check_deps(work, paths, base):
    """Every file the compiler read (``paths``, relative to ``base``) is the application's, the
    library copy's or the compiler's own."""
    assert len(paths) > 10
    for p in paths:
        p = (base / p).resolve()
        assert not p.is_relative_to(ROOT), f"{p} is from the repository"
        assert p.is_relative_to(work) or p.is_relative_to("/usr"), p


def _embed_with(work, exe, clip, repeat=1, qemu=False, block=0):
    """Run the application on ``clip``; its output parsed: info, taps, one list per clip run
    of (index, timestamp, values), the first embedding's dequantization bits, results."""
    run_dir = work / "run"
    run_dir.mkdir(exist_ok=True)
    clip.astype("<i2").tofile(run_dir / "clip.raw")
    if qemu:  # the image opens clip.raw from QEMU's folder (semihosting) and prints there
        cmd = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none",
               "-semihosting-config", "enable=on,target=native", "-kernel", exe]
    else:
        cmd = [exe, "clip.raw", str(repeat), str(block)]
    out = _run(cmd, cwd=run_dir, timeout=300).stdout
    res = {"embs": [[]], "deq": [], "end": [], "taps": []}
    for line in out.splitlines():
        word, *rest = line.split()
        if word == "info":
            res["info"] = [int(v) for v in rest]
        elif word == "tap":
            res["taps"].append((rest[0], int(rest[1]), int(rest[2]), int(rest[3], 16), int(rest[4])))
        elif word == "emb":
            res["embs"][-1].append((int(rest[0]), int(rest[1]), np.array(rest[2:], dtype=np.int16)))
        elif word == "deq":
            res["deq"].append(np.array([int(v, 16) for v in rest], dtype=np.uint32).view(np.float32))
        elif word == "end":
            res["end"].append((int(rest[0]), int(rest[1])))
            res["embs"].append([])
    res["embs"].pop()
    assert len(res["end"]) == repeat, out[-2000:]
    return res


def _check_bit_exact(work, res, clip, mode, max_frames):
    """The application's output is the reference board's: integers, timestamps, dequantization."""
    graph = Graph.load(work / "lib")
    ref = reference.embed_clips([clip], mode, work / "lib")[0]
    ref = ref[None] if mode == "scene" else ref
    assert res["info"] == [int(mode == "timestamp"), ref.shape[1], 128, 12, max_frames, len(graph.taps)]
    assert res["taps"] == [(t["name"], t["offset"], t["channels"],
                            int(np.float32(t["scale"]).view(np.uint32)), t["zero_point"]) for t in graph.taps]
    for embs, deq, end in zip(res["embs"], res["deq"], res["end"]):
        assert end == (0, clip.size)
        got = np.stack([e[2] for e in embs])
        assert got.shape == ref.shape and np.array_equal(got, ref)
        n = clip.size // TS_HOP + 1 if mode == "timestamp" else 1
        assert [(e[0], e[1]) for e in embs] == ([(i, 50 * i) for i in range(n)] if mode == "timestamp" else [(0, 0)])
        # efat_dequantize: L / 4096 and (q - zero_point) * scale in float32, as the UART hello's
        expect = ref[0].astype(np.float64) / 4096
        for t in graph.taps:
            sl = slice(128 + t["offset"], 128 + t["offset"] + t["channels"])
            expect[sl] = (ref[0, sl].astype(np.float64) - t["zero_point"]) * np.float64(np.float32(t["scale"]))
        assert np.array_equal(deq, expect.astype(np.float32))


@pytest.mark.parametrize("mode", MODES)
def test_cmake_add_subdirectory_on_the_host(work, clips, mode):
    """Two clips; the second run of each after efat_reset gives the same bytes again."""
    exe = _cmake_app(work, f"host-{mode}", mode)
    for name in ("golden", "speech"):
        res = _embed_with(work, exe, clips[name], repeat=2)
        _check_bit_exact(work, res, clips[name], mode, 16 if mode == "timestamp" else 1000)


@pytest.mark.parametrize("mode", MODES)
def test_cmake_on_cortex_m4_in_qemu(work, clips, mode):
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None:
        pytest.fail("arm-none-eabi-gcc / qemu-system-arm missing (bash ci/setup.sh)")
    exe = _cmake_app(work, f"m4-{mode}", mode, toolchain=True)
    dis = _run(["arm-none-eabi-objdump", "-d", exe]).stdout
    assert "smlad" in dis and "smmulr" in dis  # the kernels' and the frontend's DSP paths
    res = _embed_with(work, exe, clips["golden"], qemu=True)
    _check_bit_exact(work, res, clips["golden"], mode, 16 if mode == "timestamp" else 1000)


def test_cmake_find_package(work, clips):
    exe = _cmake_app(work, "find-package", "timestamp", find_package=True)
    _check_bit_exact(work, _embed_with(work, exe, clips["speech"]), clips["speech"], "timestamp", 16)


def test_scene_clip_over_10_s(work):
    """EFAT_SCENE_LONG_CLIPS: 10 s windows every 2.5 s, averaged, whatever the blocks: the odd
    sizes, and blocks of 4,093 of which one ends 3,347 samples past 10 s (more than the ring's
    spare room while it still holds the first 10 s); without it, a clear error, no embedding."""
    clip = to_pcm16(np.concatenate([example_clips.speech_like(5.3), example_clips.music_like(5.3)]))
    exe = _cmake_app(work, "host-scene-long", "scene", options=["-DEFAT_SCENE_LONG_CLIPS=ON"])
    _check_bit_exact(work, _embed_with(work, exe, clip), clip, "scene", 1000)
    _check_bit_exact(work, _embed_with(work, exe, clip, block=4093), clip, "scene", 1000)

    plain = _cmake_app(work, "host-scene", "scene")  # built already by the first test: reused
    proc = subprocess.run([plain, "clip.raw"], cwd=work / "run", capture_output=True, text=True)
    assert proc.returncode == 2 and "emb " not in proc.stdout and f"end -4 {clip.size}" in proc.stdout


@pytest.mark.parametrize("mode", MODES)
def test_makefile_with_sources_mk(work, clips, mode):
    build = work / "build" / f"make-{mode}"
    shutil.copytree(work / "app", build)
    _run(["make", "-s", f"EFAT_LIB={work / 'lib'}", f"EFAT_MODE={mode}"], cwd=build)
    deps = " ".join(p.read_text() for p in (build / "obj").glob("*.d"))
    _check_deps(work, [w for w in deps.replace("\\\n", " ").split() if not w.endswith(":")], build)
    res = _embed_with(work, build / "app", clips["speech"])
    _check_bit_exact(work, res, clips["speech"], mode, 16 if mode == "timestamp" else 1000)


ZEPHYR_STUB = """
# Zephyr's CMake functions that zephyr/CMakeLists.txt calls, for a host build of the module:
# a zephyr_library is a static library, zephyr_include_directories reach the application.
cmake_minimum_required(VERSION 3.20)
project(zephyr_stub C)
add_library(zephyr_interface INTERFACE)
macro(zephyr_library_named name)
  set(ZEPHYR_CURRENT_LIBRARY ${name})
  add_library(${name} STATIC)
  target_link_libraries(${name} PUBLIC zephyr_interface)
  set_property(GLOBAL APPEND PROPERTY ZEPHYR_LIBS ${name})
endmacro()
macro(zephyr_library_sources)
  target_sources(${ZEPHYR_CURRENT_LIBRARY} PRIVATE ${ARGN})
endmacro()
macro(zephyr_include_directories)
  target_include_directories(zephyr_interface INTERFACE ${ARGN})
endmacro()
macro(zephyr_library_compile_definitions)
  target_compile_definitions(${ZEPHYR_CURRENT_LIBRARY} PRIVATE ${ARGN})
endmacro()
macro(zephyr_library_compile_options)
  target_compile_options(${ZEPHYR_CURRENT_LIBRARY} PRIVATE ${ARGN})
endmacro()
add_subdirectory(${MODULE}/zephyr efficientat_m4)
get_property(libs GLOBAL PROPERTY ZEPHYR_LIBS)
add_executable(app ${APP}/main.c)
target_link_libraries(app PRIVATE zephyr_interface ${libs})
"""


def test_zephyr_module(work, clips):
    """module.yml names the module's CMakeLists.txt and Kconfig; the Kconfig symbols the CMake
    file reads exist; built with Zephyr's functions stubbed and prj.conf's choices, it is exact."""
    lib = work / "lib"
    # module.yml's `build:` keys (read without a YAML package: the file is this simple)
    yml = dict(re.findall(r"^  (cmake|kconfig): (\S+)$", (lib / "zephyr" / "module.yml").read_text(), re.M))
    assert (lib / yml["cmake"] / "CMakeLists.txt").is_file() and (lib / yml["kconfig"]).is_file()
    kconfig = (lib / "zephyr" / "Kconfig").read_text()
    defined = set(re.findall(r"^\s*(?:menu)?config (\w+)", kconfig, re.M))
    used = set(re.findall(r"CONFIG_(\w+)", (lib / "zephyr" / "CMakeLists.txt").read_text()))
    assert used and used <= defined, used - defined
    assert "choice EFFICIENTAT_M4_MODE" in kconfig and "default 16 if EFFICIENTAT_M4_MODE_TIMESTAMP" in kconfig

    stub = work / "zephyr-stub"
    stub.mkdir()
    (stub / "CMakeLists.txt").write_text(ZEPHYR_STUB)
    build = work / "build" / "zephyr"
    kconf = ["-DCONFIG_EFFICIENTAT_M4=y", "-DCONFIG_EFFICIENTAT_M4_MODE_TIMESTAMP=y",
             "-DCONFIG_EFFICIENTAT_M4_MAX_FRAMES=16"]
    _run(["cmake", "-S", stub, "-B", build, "-G", "Ninja", f"-DMODULE={lib}", f"-DAPP={work / 'app'}", *kconf])
    _run(["cmake", "--build", build])
    res = _embed_with(work, build / "app", clips["speech"])
    _check_bit_exact(work, res, clips["speech"], "timestamp", 16)


def test_platformio_manifest(work, clips):
    """library.json: its source filter selects the library's sources (those of sources.mk), its
    flags' include folders exist; compiled as PlatformIO would (srcDir, includeDir and the flags,
    options from the project's build_flags) it is exact. Timestamp mode without NET_MAX_FRAMES is
    a compile error (a scene-size arena for 16-frame windows otherwise)."""
    lib = work / "lib"
    manifest = json.loads((lib / "library.json").read_text())
    b = manifest["build"]
    files = sorted(str(p.relative_to(lib)) for p in lib.rglob("*") if p.is_file())
    selected = []
    for f in files:
        keep = False
        for pattern in b["srcFilter"]:
            if fnmatch(f, pattern[2:-1]):
                keep = pattern[0] == "+"
        if keep:
            selected.append(f)
    mk = (lib / "sources.mk").read_text()
    listed = re.search(r"EFAT_SOURCES := \$\(addprefix \$\(EFAT_DIR\)/,(.*?)\)\n", mk, re.S).group(1)
    assert sorted(selected) == sorted(listed.replace("\\", " ").split())
    includes = [lib / b["includeDir"], lib / b["srcDir"]] + [lib / f[2:].strip() for f in b["flags"] if f.startswith("-I")]
    assert all(d.is_dir() for d in includes)
    flags = [f"-I{d}" for d in includes] + [f for f in b["flags"] if not f.startswith("-I")]
    exe = work / "build" / "pio-app"
    exe.parent.mkdir(exist_ok=True)
    build_flags = ["-DEFAT_MODE_TIMESTAMP", "-DNET_MAX_FRAMES=16"]
    _run(["gcc", "-O2", *flags, *build_flags, *[lib / s for s in selected], work / "app" / "main.c", "-o", exe])
    _check_bit_exact(work, _embed_with(work, exe, clips["speech"]), clips["speech"], "timestamp", 16)

    proc = subprocess.run(["gcc", "-fsyntax-only", *flags, "-DEFAT_MODE_TIMESTAMP", lib / "efat" / "efat.c"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "define NET_MAX_FRAMES" in proc.stderr


def test_library_sources_are_the_repositorys(work):
    """One copy of every C file: the export's static sources are firmware/'s, byte for byte."""
    lib = work / "lib"
    for part in ("kernels", "frontend", "efat"):
        ours = sorted(p.name for p in (ROOT / "firmware" / part).iterdir() if p.suffix in (".c", ".h", ".cmake"))
        assert sorted(p.name for p in (lib / part).iterdir()) == ours
        for name in ours:
            assert (lib / part / name).read_bytes() == (ROOT / "firmware" / part / name).read_bytes()
    assert (lib / "CMakeLists.txt").read_bytes() == (ROOT / "firmware" / "CMakeLists.txt").read_bytes()
