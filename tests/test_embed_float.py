"""Scene and timestamp embeddings against the HEAR wrapper's golden outputs; feature sets."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from exporter.float_model.embed import FloatEmbedder
from exporter.errors import UserError
from exporter.float_model.features import (
    ALL_FEATURES,
    assemble,
    component_offsets,
    embedding_size,
    parse_features,
)
from exporter.float_model.checkpoint import random_model

# Measured against the HEAR wrapper's golden embeddings: scene 1.1e-4 (in B15; L within 1e-6),
# timestamp 2.8e-5. The README's 2e-3 is what any independent float32 implementation meets.
TOL = 3e-4


@pytest.fixture(scope="module")
def embedder(mn01_seed0_net):
    return FloatEmbedder(mn01_seed0_net, "MB+L")


@pytest.fixture(scope="module")
def embedder_all(mn01_seed0_net):
    return FloatEmbedder(mn01_seed0_net, ALL_FEATURES)


def test_scene_mb_l_matches_golden(embedder, test_audio, mn01_golden):
    emb = embedder.scene(test_audio[None])
    assert emb.dtype == torch.float32 and emb.shape == (1, 184)
    np.testing.assert_allclose(emb.numpy(), mn01_golden["hear_scene_MB_L"], atol=TOL, rtol=0)


def test_timestamp_mb_l_matches_golden(embedder, test_audio, mn01_golden):
    emb, ts = embedder.timestamp(test_audio[None])
    assert emb.shape == (1, 61, 184) and ts.shape == (1, 61) and ts.dtype == torch.float32
    np.testing.assert_array_equal(ts.numpy(), mn01_golden["hear_ts_timestamps_ms"])
    np.testing.assert_allclose(emb.numpy(), mn01_golden["hear_ts_MB_L"], atol=TOL, rtol=0)


def test_all_feature_sets_match_golden(embedder_all, test_audio, mn01_golden):
    assert embedder_all.embedding_size == 999
    np.testing.assert_allclose(
        embedder_all.scene(test_audio[None]).numpy(), mn01_golden["hear_scene_allmode"], atol=TOL, rtol=0
    )
    emb, _ = embedder_all.timestamp(test_audio[None])
    np.testing.assert_allclose(emb.numpy(), mn01_golden["hear_ts_allmode"], atol=TOL, rtol=0)


def test_timestamp_window_logmels_match_golden(embedder, test_audio, mn01_golden):
    from exporter.float_model.windows import timestamp_windows

    windows, _ = timestamp_windows(test_audio)
    for which in ("first", "mid", "last"):
        i = int(mn01_golden[f"ts_seg_{which}_index"][0])
        lm = embedder.mel(torch.from_numpy(windows[i][None]))
        # measured 7.2e-5 (last window)
        np.testing.assert_allclose(lm.numpy(), mn01_golden[f"ts_seg_{which}_logmel"], atol=2e-4, rtol=0)


def test_offsets_of_all_mode_match_reference():
    starts = [start for _, start, _ in component_offsets(0.1, ALL_FEATURES)]
    assert starts == [0, 128, 224, 352, 879, 887, 903, 919, 943, 951, 967, 983]
    assert component_offsets(0.1, ALL_FEATURES)[-1][2] == 999


@pytest.mark.parametrize(
    "width,mb,mbl,mse,clf1,clf2",
    [
        (0.1, 56, 184, 64, 96, 128),
        (0.2, 96, 224, 112, 192, 256),
        (0.4, 192, 320, 232, 384, 512),
        (0.5, 240, 368, 288, 480, 640),
        (1.0, 472, 600, 560, 960, 1280),
        (2.0, 944, 1072, 1120, 1920, 2560),
        (3.0, 1416, 1544, 1672, 2880, 3840),
        (4.0, 1888, 2016, 2232, 3840, 5120),
    ],
)
def test_embedding_sizes_match_reference_table(width, mb, mbl, mse, clf1, clf2):
    assert embedding_size(width, "MB") == mb
    assert embedding_size(width) == embedding_size(width, "MB+L") == mbl
    assert embedding_size(width, "MSE") == mse
    assert embedding_size(width, "Clf1") == clf1
    assert embedding_size(width, "Clf2") == clf2
    assert embedding_size(width, "Clf3") == 527


def test_feature_order_is_fixed_whatever_is_written():
    assert parse_features("MB+L") == parse_features("l + mb") == ("L", "b5", "b11", "b13", "b15")
    assert parse_features("Clf3+MSE+Clf1") == ("clf1", "logits", "se5", "se11", "se13", "se15")
    with pytest.raises(UserError, match="unknown feature set 'MX'"):
        parse_features("MB+MX")
    with pytest.raises(UserError, match="appears twice"):
        parse_features("MB+mb")


def test_assemble_places_each_component(embedder_all, test_audio):
    """Each slice of the all-mode embedding is the tap it names."""
    lm = embedder_all.mel(torch.from_numpy(test_audio[None]))
    with torch.no_grad():
        logits, feats = embedder_all.net(lm.unsqueeze(1))
    emb = assemble(embedder_all.components, lm.mean(2), logits, feats)
    cuts = {c: (s, e) for c, s, e in component_offsets(0.1, ALL_FEATURES)}
    torch.testing.assert_close(emb[:, slice(*cuts["L"])], lm.mean(2))
    torch.testing.assert_close(emb[:, slice(*cuts["b13"])], feats["pooled"][13])
    torch.testing.assert_close(emb[:, slice(*cuts["se11"])], feats["se11"])
    torch.testing.assert_close(emb[:, slice(*cuts["logits"])], logits)


def test_long_clip_scene_is_mean_over_reflect_padded_windows():
    """> 10 s: the wrapper's definition, written independently with torch (reflect pad 5 s, 10 s every 2.5 s)."""
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((2, 11 * 32000)) * 0.1).astype(np.float32)
    emb = FloatEmbedder(random_model(0.1, 0)).scene(audio)
    padded = F.pad(torch.from_numpy(audio)[:, None], (160000, 160000), mode="reflect")[:, 0]
    windows = padded.unfold(1, 320000, 80000)  # (2, n_windows, 320000)
    assert windows.shape[1] == 11 * 32000 // 80000 + 1
    embedder = FloatEmbedder(random_model(0.1, 0))
    expected = torch.stack([embedder(windows[i]).mean(0) for i in range(2)])
    torch.testing.assert_close(emb, expected, atol=1e-5, rtol=0)


def test_batch_of_sounds_equals_one_by_one(embedder, test_audio):
    two = np.stack([test_audio, test_audio[::-1] * 0.5])
    emb, ts = embedder.timestamp(two)
    alone, _ = embedder.timestamp(two[1:])
    assert ts.shape == (2, 61)
    torch.testing.assert_close(emb[1:], alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(embedder.scene(two)[1:], embedder.scene(two[1:]), atol=1e-5, rtol=0)


def test_bad_audio_is_rejected(embedder, test_audio):
    with pytest.raises(UserError, match="too short for timestamp embeddings"):
        embedder.timestamp(test_audio[None, :2560])
    assert embedder.timestamp(test_audio[None, :2561])[0].shape == (1, 2, 184)
    with pytest.raises(UserError, match="too short for a log-mel"):
        embedder.scene(test_audio[None, :513])
    bad = test_audio[None].copy()
    bad[0, 100] = np.nan
    with pytest.raises(UserError, match="NaN or infinite"):
        embedder.scene(bad)
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
        embedder.scene(test_audio)


def _varied(seconds: float, rate: int = 32000, channels: int = 1) -> np.ndarray:
    """Speech, music and noise in turn (the synthetic generators), ``seconds`` long."""
    from exporter.audio import synthetic as synthetic_audio

    kinds = ["speech", "music", "noise", "environment"]
    parts = [synthetic_audio.clip(i, 4.0, kind=kinds[i % 4])[1] for i in range(int(seconds // 4) + 1)]
    x = np.concatenate(parts)[: int(seconds * 32000)].astype(np.float32)
    if rate != 32000:
        import soxr

        x = soxr.resample(x, 32000, rate).astype(np.float32)
    return np.stack([x] * channels, axis=1) * np.linspace(0.5, 1.0, channels, dtype=np.float32) if channels > 1 else x


@pytest.mark.parametrize("seconds,rate,channels", [(3.0, 32000, 1), (10.0, 32000, 1), (10.0 + 1 / 32000, 32000, 1),
                                                   (23.4, 44100, 2)])
def test_streamed_scene_equals_whole_file(embedder, tmp_path, seconds, rate, channels):
    """A file streamed in blocks (AudioStream, as `embed` reads every file) gives the bytes of
    the whole-file path, on each side of 10 s (one window / reflect-padded windows, averaged)."""
    import soundfile as sf

    from exporter.audio.files import AudioStream, load_audio

    path = tmp_path / "clip.wav"
    sf.write(path, _varied(seconds, rate, channels), rate, subtype="FLOAT")
    whole = embedder.scene(load_audio(path)[None])[0]
    streamed = embedder.scene_stream(AudioStream(path, block_frames=30011))
    assert streamed.dtype == torch.float32 and streamed.numpy().tobytes() == whole.numpy().tobytes()


@pytest.mark.parametrize("seconds", [0.5, 30.1])  # 30.1 s: 603 windows, over one batch of 500
def test_streamed_timestamps_equal_whole_file(embedder, tmp_path, seconds):
    import soundfile as sf

    from exporter.audio.files import AudioStream, load_audio

    path = tmp_path / "clip.flac"
    sf.write(path, _varied(seconds, 48000), 48000, subtype="PCM_24")
    emb, ts = embedder.timestamp(load_audio(path)[None])
    n = len(load_audio(path))
    for expected in (0, n - 5000, n, n + 5000):  # no length, the header's length wrong or right
        streamed = embedder.timestamp_stream(AudioStream(path), expected_samples=expected)
        assert streamed.shape == emb.shape[1:] and streamed.tobytes() == emb[0].numpy().tobytes()


def test_logmel_in_pieces_is_the_batch_logmel(embedder):
    """FloatEmbedder computes the log-mel of a batch two 10 s windows (or 125 timestamp windows)
    at a time to bound memory: it must be the log-mel of the whole batch, byte for byte."""
    rng = np.random.default_rng(0)
    for shape in [(5, 320_000), (6, 123_457), (260, 5120)]:
        x = torch.from_numpy((0.1 * rng.standard_normal(shape)).astype(np.float32))
        assert embedder.logmel(x).numpy().tobytes() == embedder.mel(x).numpy().tobytes(), shape
