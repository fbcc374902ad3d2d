"""exporter/benchmark/board_images.py: the real boards' preset images and their flash and RAM
from the ELF's sections, checked against the ELF's program headers (an independent reading:
what a flasher writes and what the loader reserves) and the parts' limits."""

import subprocess

import pytest

from exporter.benchmark import board_images as bi

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def images():
    return bi.measure()  # firmware/generated/, the presets' export


def segments(board, elf):
    """(flash bytes written, RAM bytes reserved) from the LOAD program headers."""
    out = subprocess.run(["arm-none-eabi-readelf", "-l", "-W", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    flash_start, flash_size = bi.PARTS[board]["flash"]
    flash = ram = 0
    for line in out.splitlines():
        f = line.split()
        if f[:1] != ["LOAD"]:
            continue
        virt, phys, filesz, memsz = (int(v, 16) for v in f[2:6])
        if flash_start <= phys < flash_start + flash_size:
            flash += filesz
        if not flash_start <= virt < flash_start + flash_size:
            ram += memsz
    return flash, ram


def test_presets_are_the_real_boards():
    assert [(b, m) for _, b, m in bi.presets()] == [(b, m) for b in bi.PARTS for m in ("scene", "timestamp")]


def test_sizes_agree_with_program_headers_and_fit(images):
    from exporter.boards import cmake_build

    assert len(images) == 4
    for r in images:
        elf = cmake_build.build(r["board"], options={"EMBED_MODE": r["mode"]}, targets=["embedder"]) \
            / "firmware" / "app" / "embedder.elf"
        flash, ram = segments(r["board"], elf)
        used = r["used"]
        # sections and segments differ by the alignment padding between segments only
        assert used["flash"] <= flash <= used["flash"] + 64, r["preset"]
        assert sum(v for m, v in used.items() if m != "flash") <= ram <= sum(
            v for m, v in used.items() if m != "flash") + 4096, r["preset"]
        assert all(used[m] <= r["limits"][m] for m in used), r["preset"]
        sym = r["symbols"]
        assert sym["net_arena"] > (70_000 if r["mode"] == "scene" else 5_000) and sym["stack"] >= 8192
        # each board's microphone path: the PDM decimator's DMA buffer, or the I2S path's resampler
        assert ("pdm_dma" in sym) == (r["board"] == "stm32f4-discovery")
        assert ("rs_taps" in sym) == (r["board"] == "nrf52840-dk")


def test_markdown_section(images, tmp_path):
    lines = bi.markdown(images)
    assert lines[0] == "## Real boards: flash and RAM"
    rows = [ln for ln in lines if ln.startswith("| stm32") or ln.startswith("| nrf")]
    assert [row.split(" | ")[0][2:] for row in rows] == [p for p, _, _ in bi.presets()]
    r = images[0]
    assert f"{r['used']['flash'] / 1024:.1f} KiB of 1 MiB" in rows[0] and "CCM" in rows[0] and "CCM" not in rows[2]
    assert bi.markdown([]) == []


def test_bench_report_carries_the_images():
    """The committed benchmark report has the images of every preset, and its markdown renders
    them from bench.json's ``real_boards`` (run_bench writes both)."""
    import json

    from exporter import ROOT
    from exporter.benchmark import firmware

    report = json.loads((ROOT / "reports" / "bench.json").read_text())
    assert [im["preset"] for im in report["real_boards"]] == [p for p, _, _ in bi.presets()]
    baseline = json.loads((ROOT / "reports" / "bench_baseline.json").read_text())
    md = firmware.markdown(report, baseline)
    assert "\n".join(bi.markdown(report["real_boards"])) in md
