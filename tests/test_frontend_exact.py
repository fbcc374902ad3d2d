"""C frontend (host build) vs its numpy twin: identical bytes at every stage, for many
signal classes, levels, clip lengths and push block sizes."""

import numpy as np
import pytest

from exporter.audio.files import to_pcm16
from exporter.errors import UserError
from exporter.frontend import fixed, host, signals
from exporter.frontend import tables as tb


@pytest.fixture(scope="module")
def cli():
    return host.build_cli()


def assert_same(pcm, block=320, stages=True):
    want = fixed.stages(pcm)
    if stages:
        frames, mean, got = host.logmel_q12_c(pcm, block=block, with_stages=True)
        assert list(got) == ["fft", "power", "mel", "log"]  # every stage the C code dumps is compared
        for name, arr in got.items():
            exp = want[name].reshape(arr.shape[0], -1).astype(arr.dtype)
            assert np.array_equal(arr, exp), f"stage {name} differs (block {block})"
    else:
        frames, mean = host.logmel_q12_c(pcm, block=block)
    assert frames.shape == (fixed.n_frames(pcm.size), tb.N_MELS)
    assert frames.tobytes() == want["frames"].tobytes()
    assert mean.tobytes() == fixed.mel_mean_q12(want["frames"]).tobytes()
    return want


@pytest.mark.parametrize("block", [1, 320, 1000, 96000])
def test_golden_audio_every_stage(cli, test_audio, block):
    assert_same(to_pcm16(test_audio), block=block)


@pytest.mark.parametrize("name", sorted(signals.CLASSES))
@pytest.mark.parametrize("level", [-60.0, -20.0, 0.0])
def test_signal_classes(cli, name, level):
    assert_same(signals.make(name, 9000, level, seed=1), block=1000)


@pytest.mark.parametrize(
    "name,pcm",
    [
        # the largest pre-emphasised magnitude at the Nyquist frequency: the FFT's overflow bound
        ("nyquist_extreme", np.tile(np.array([-32768, 32767], np.int16), 3000)),
        ("dc_min", np.full(4000, -32768, np.int16)),
        ("dc_max", np.full(4000, 32767, np.int16)),
        ("square_full", np.repeat(np.tile(np.array([-32768, 32767], np.int16), 100), 16)),
    ],
)
def test_extreme_inputs(cli, name, pcm):
    want = assert_same(pcm, block=333)
    assert np.abs(want["spectrum"]).max() < 2**31


@pytest.mark.parametrize("n", [514, 515, 640, 641, 720, 721, 961, 1040, 1041, 1361, 3201, 5120, 5121])
@pytest.mark.parametrize("block", [1, 320, 7, 100000])
def test_clip_lengths_and_blocks(cli, n, block):
    """Frames near both ends use the reflect padding; any block size gives the same frames."""
    assert_same(signals.make("white", n, -6.0, seed=n), block=block, stages=False)


def test_block_sizes_identical(cli):
    pcm = signals.make("speech_like", 12345, -12.0)
    ref = host.logmel_q12_c(pcm, block=12345)[0]
    for block in (1, 2, 319, 320, 321, 999, 4096):
        assert host.logmel_q12_c(pcm, block=block)[0].tobytes() == ref.tobytes(), block


def test_too_short_clip(cli):
    pcm = signals.make("white", tb.MIN_CLIP_SAMPLES - 1, -6.0)
    with pytest.raises(UserError, match="too short"):
        host.logmel_q12_c(pcm)
    with pytest.raises(UserError, match="too short"):
        fixed.logmel_q12(pcm)


def test_final_rounding_saturates(cli):
    """The last stage clamps to int16; Q24 values this large never come from audio
    (|G| < 5 * 2^24), so the clamp is exercised directly (C and twin)."""
    g = np.array([-(2**31), -(2**28), -(2**27) - 1, -1, 0, 2047, 2048, 2**27, 2**28, 2**31 - 1], np.int64)
    unclamped = (g + 2048) >> 12
    assert unclamped.min() < -32768 and unclamped.max() > 32767  # both clamps are reached
    want = fixed.round_q12(g)
    assert host.map_c("round", g).tobytes() == want.tobytes()
    assert want.min() == -32768 and want.max() == 32767
    inside = (unclamped >= -32768) & (unclamped <= 32767)
    assert np.array_equal(want[inside], unclamped[inside])


def test_log_matches_and_is_accurate(cli):
    rng = np.random.default_rng(3)
    v = np.concatenate(
        [
            np.array([1, 2, 3, 255, 256, 257, 2**32 - 1, 2**32, 2**63, 2**64 - 1], dtype=np.uint64),
            (rng.integers(1, 2**62, 3000, dtype=np.uint64) >> rng.integers(0, 62, 3000).astype(np.uint64))
            + np.uint64(1),
        ]
    )
    want = fixed.log_q24_raw(v)
    assert host.map_c("log", v).tobytes() == want.astype(np.int32).tobytes()
    exact = (np.log(v.astype(np.float64)) - tb.MEL_EXP * np.log(2.0) + 4.5) / 5.0
    err = np.abs(want / 2.0**24 - exact)
    assert err.max() < 1e-4  # the table's bound (tables.py): 0.4 of a Q12 step
    assert err.max() > 5e-5  # the 10-bit table is what is being tested, not a finer one


def test_rounding_ties(cli):
    """Isolated -32768 samples give y = -2^30, whose window products sit exactly halfway
    between two integers: SMMULR's round-half-up must match the twin."""
    pcm = np.zeros(20000, np.int16)
    pcm[5::97] = -32768
    y = fixed.preemphasis(pcm.astype(np.int64))
    seg = fixed.frame_segments(y)
    prod = seg * tb.tables().window[None, :]
    assert np.count_nonzero((prod & 0xFFFFFFFF) == 2**31) > 10
    assert_same(pcm, block=500)


def test_mean_rounding(cli):
    """logmel_mean_q12 vs the twin on ties (half away from zero), negatives and large sums."""
    from exporter.quantization.int8_math import round_div

    for n in (1, 2, 3, 16, 300, 1000):
        base = np.arange(-64, 64, dtype=np.int64) * n
        sums = base + np.where(np.arange(128) % 2 == 0, n // 2, -(n // 2))
        sums[:4] = [n * 32767, -n * 32768, (n * 5) // 2, -(n * 5) // 2]
        got = host.mean_c(sums, n)
        assert got.tolist() == round_div(sums, n).astype(np.int16).tolist(), n
    assert host.mean_c(np.ones(128, np.int32), 0).tolist() == [0] * 128
