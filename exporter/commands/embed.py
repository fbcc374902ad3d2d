"""``python -m exporter embed``: float embeddings of audio files with the paper's PyTorch model.

Each file is read (any rate, mixed to mono, resampled to 32 kHz) and embedded
on its own, streamed through in windows (memory does not grow with its length,
exporter/audio/files.py's AudioStream; a progress bar on a terminal beyond a minute):
scene mode gives one vector per file, timestamp mode one per 50 ms.
A file that cannot be read or embedded is reported by name and skipped; the
others are still written, and the exit code is 1.
"""

from __future__ import annotations

import argparse

from exporter.float_model.checkpoint import add_model_arguments
from exporter.float_model.features import DEFAULT_FEATURES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files (wav, flac, ogg, ...)")
    add_model_arguments(parser)
    parser.add_argument(
        "--features",
        default=DEFAULT_FEATURES,
        help="feature sets joined by '+': L, MB, MSE, Clf1, Clf2, Clf3 (default MB+L, the paper's M_B+L)",
    )
    parser.add_argument(
        "--mode",
        choices=["scene", "timestamp"],
        default="scene",
        help="scene (default): one vector per file, the mean over 10 s windows beyond 10 s; "
        "timestamp: one vector per 50 ms (160 ms windows), files shorter than the longest padded with NaN",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="OUT.npz",
        help="embeddings, files, features, model; timestamp mode adds timestamps_ms and n_timestamps",
    )


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from exporter import SAMPLE_RATE
    from exporter.audio.files import AudioStream, counted
    from exporter.float_model.checkpoint import resolve_model_args
    from exporter.float_model.embed import FloatEmbedder
    from exporter.float_model.features import parse_features
    from exporter.outputs import check_out_file
    from exporter.results import each_file, file_progress, pad_ragged, write_embeddings_npz
    from exporter.float_model.windows import timestamps_ms

    check_out_file(args.out)  # before the (slow) work
    parse_features(args.features)  # reject a bad --features before loading anything
    net, info = resolve_model_args(args)
    embedder = FloatEmbedder(net, args.features, info)

    def embed(path: str):
        stream = AudioStream(path)
        with file_progress(path, stream.seconds) as progress:
            blocks = counted(stream, progress)
            if args.mode == "scene":
                return embedder.scene_stream(blocks).numpy(), None
            emb = embedder.timestamp_stream(blocks, expected_samples=round(stream.seconds * SAMPLE_RATE))
            return emb, timestamps_ms(len(emb))

    files, results, failed = each_file(args.audio, embed)
    embeddings = [e for e, _ in results]
    extra = {"features": np.asarray(args.features), "model": np.asarray(info.name)}
    if args.mode == "scene":
        write_embeddings_npz(args.out, np.stack(embeddings), files, **extra)
    else:
        # Clips of different lengths have different numbers of timestamps: pad with NaN.
        emb, n_ts = pad_ragged(embeddings, np.nan, np.float32)
        ts, _ = pad_ragged([t for _, t in results], np.nan, np.float32)
        write_embeddings_npz(args.out, emb, files, timestamps_ms=ts, n_timestamps=n_ts, **extra)
    print(
        f"wrote {args.out}: {len(files)} file(s), {args.mode} embeddings of {embedder.embedding_size} "
        f"({args.features}) from {info.name}"
        + (f"; {len(failed)} file(s) failed" if failed else "")
    )
    return 1 if failed else 0
