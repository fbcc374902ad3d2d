"""``python -m exporter frontend``: the fixed-point log-mel of one audio file, as the
device computes it (the numpy twin, or the C code built for the host).

Writes ``logmel_q`` int16 [128, frames] (Q3.12), ``logmel`` float32 [128, frames]
(dequantised) and ``mel_avgs`` float32 [128] (the feature L, round_div mean).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("audio", metavar="AUDIO", help="audio file (wav, flac, ogg, ...; resampled to 32 kHz)")
    parser.add_argument("--out", required=True, metavar="F.npz", help="output: logmel_q, logmel, mel_avgs")
    parser.add_argument(
        "--impl",
        choices=["python", "c"],
        default="python",
        help="python: the numpy twin; c: the C frontend built for the host (identical results)",
    )


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from exporter.audio.files import load_audio, to_pcm16
    from exporter.frontend import fixed
    from exporter.outputs import check_out_file, write_npz

    out = check_out_file(args.out)  # before the work
    pcm = to_pcm16(load_audio(args.audio))
    if args.impl == "python":
        frames = fixed.logmel_q12(pcm)
        mean = fixed.mel_mean_q12(frames)
    else:
        from exporter.frontend.host import logmel_q12_c

        fixed.check_pcm16(pcm)  # same error as the twin for a too-short clip
        frames, mean = logmel_q12_c(pcm)
    write_npz(out, logmel_q=np.ascontiguousarray(frames.T), logmel=fixed.dequantize(frames.T), mel_avgs=fixed.dequantize(mean))
    print(f"{args.audio}: {frames.shape[0]} frames -> {out}")
    return 0
