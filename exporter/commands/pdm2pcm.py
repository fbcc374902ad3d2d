"""``python -m exporter pdm2pcm IN --out OUT.wav``: decimate a raw PDM capture to 32 kHz PCM
with the firmware's decimator (the STM32F4-Discovery's microphone path), so a capture from
one's own microphone can be listened to and checked.

IN holds 1-bit PDM at 2.048 MHz, 8 samples per byte, the first (oldest) sample in the least
significant bit; 8 bytes make one PCM sample. ``--impl python`` is the numpy twin
(exporter/frontend/pdm.py), ``--impl c`` the C code (firmware/mic/pdm_decimate.c) built for
this machine: the two give the same samples.
"""

from __future__ import annotations

import argparse
import os

from exporter.errors import UserError

CHUNK_SAMPLES = 32_000  # PCM samples per step of the numpy twin (256 KB of PDM): bounded memory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pdm", metavar="IN", help="raw PDM file: 2.048 MHz, 8 samples per byte, first sample in bit 0")
    parser.add_argument("--out", required=True, metavar="OUT.wav", help="output: 16-bit mono WAV at 32 kHz")
    parser.add_argument("--impl", choices=["python", "c"], default="python",
                        help="python: the numpy twin; c: the firmware's C decimator built for the host (identical results)")


def check_input(path: str) -> int:
    """The PDM file's size in bytes, if it can be decimated; else a one-line error."""
    from exporter.frontend import pdm

    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a PDM file") from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None
    if size == 0:
        raise UserError(f"{path}: the file is empty")
    if size % pdm.BYTES_PER_SAMPLE:
        raise UserError(f"{path}: {size} bytes is not a whole number of PCM samples (each takes "
                        f"{pdm.BYTES_PER_SAMPLE} bytes = {pdm.DECIMATION} PDM bits): is it raw PDM, cut short?")
    return size


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    import numpy as np
    import soundfile as sf

    from exporter.frontend import pdm
    from exporter.outputs import check_out_file, follow_umask

    if Path(args.out).is_dir():
        raise UserError(f"output {args.out} is a folder: give a file name, e.g. {Path(args.out) / 'out.wav'}")
    out = check_out_file(args.out)  # before the work
    size = check_input(args.pdm)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with sf.SoundFile(tmp, "w", samplerate=pdm.PCM_RATE, channels=1, subtype="PCM_16", format="WAV") as wav:
            if args.impl == "c":
                from exporter.frontend.host import pdm_decimate_file_c

                wav.write(pdm_decimate_file_c(args.pdm))
            else:
                dec = pdm.Decimator()
                with open(args.pdm, "rb") as f:
                    while chunk := f.read(CHUNK_SAMPLES * pdm.BYTES_PER_SAMPLE):
                        wav.write(dec.process(np.frombuffer(chunk, dtype=np.uint8)))
        follow_umask(tmp)
        os.replace(tmp, out)
    except OSError as e:
        raise UserError(f"cannot write {out}: {e.strerror or e}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    n = size // pdm.BYTES_PER_SAMPLE
    print(f"{args.pdm}: {n} samples ({n / pdm.PCM_RATE:.2f} s at 32 kHz) -> {out}")
    return 0
