"""Reading audio files (formats, channels, rates) and the int16 conversion."""

import numpy as np
import pytest
import soundfile as sf
import soxr

from exporter.audio.files import AudioStream, check_audio, counted, load_audio, to_pcm16
from exporter.errors import UserError


def test_float_wav_round_trips_exactly(tmp_path, test_audio):
    path = tmp_path / "a.wav"
    sf.write(path, test_audio, 32000, subtype="FLOAT")
    x = load_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1
    np.testing.assert_array_equal(x, test_audio)


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_24"), ("OGG", "VORBIS")])
def test_formats_and_int_samples(tmp_path, test_audio, fmt, subtype):
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(path, test_audio, 32000, format=fmt, subtype=subtype)
    x = load_audio(path)
    assert x.shape == test_audio.shape
    if subtype == "VORBIS":  # lossy: compare energies of the error and the signal
        assert np.sqrt(np.mean((x - test_audio) ** 2)) < 0.2 * np.sqrt(np.mean(test_audio**2))
    else:
        assert np.abs(x - test_audio).max() <= {"PCM_16": 1 / 32768, "PCM_24": 1e-6}[subtype]


def test_stereo_is_mixed_to_mono(tmp_path, test_audio):
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([test_audio, np.zeros_like(test_audio)], axis=1), 32000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), test_audio / 2, atol=1e-7)


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_other_rates_are_resampled_with_soxr(tmp_path, test_audio, rate):
    src = soxr.resample(test_audio, 32000, rate).astype(np.float32)
    path = tmp_path / f"r{rate}.wav"
    sf.write(path, src, rate, subtype="FLOAT")
    x = load_audio(path)
    np.testing.assert_array_equal(x, soxr.resample(src, rate, 32000, quality="HQ").astype(np.float32))
    assert abs(len(x) - len(test_audio)) <= 1


def test_unreadable_files_are_named(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(UserError, match=r"corrupt\.wav: cannot read audio"):
        load_audio(corrupt)
    with pytest.raises(UserError, match=r"missing\.wav: no such audio file"):
        load_audio(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 32000)
    with pytest.raises(UserError, match=r"empty\.wav: the file contains no audio samples"):
        load_audio(empty)


def test_nan_in_float_file_is_rejected(tmp_path, test_audio):
    x = test_audio.copy()
    x[5] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, 32000, subtype="FLOAT")
    with pytest.raises(UserError, match=r"nan\.wav: 1 sample\(s\) are NaN or infinite"):
        load_audio(path)
    with pytest.raises(UserError, match="NaN or infinite"):
        check_audio(np.array([0.0, np.inf]))


def test_to_pcm16_rounds_and_clips():
    x = np.array([0.0, 0.5, -1.0, 1.0, 2.0, -2.0, 1.5 / 32768, -0.5 / 32768, 2.5 / 32768], dtype=np.float32)
    np.testing.assert_array_equal(to_pcm16(x), np.array([0, 16384, -32768, 32767, 32767, -32768, 2, 0, 2], np.int16))
    assert to_pcm16(x).dtype == np.int16
    with pytest.raises(UserError):
        to_pcm16(np.array([np.nan], np.float32))


def test_a_folder_given_as_audio_says_so(tmp_path):
    with pytest.raises(UserError, match=rf"^{tmp_path}: is a folder, not an audio file$"):
        load_audio(tmp_path)


# (rate, channels, format, subtype): resampled or not, mixed or not, float and integer files,
# lossless and lossy codecs.
STREAM_CASES = [(32000, 1, "WAV", "FLOAT"), (44100, 2, "WAV", "PCM_16"), (48000, 3, "FLAC", "PCM_24"),
                (16000, 1, "WAV", "PCM_16"), (22050, 2, "OGG", "VORBIS")]


@pytest.mark.parametrize("rate,channels,fmt,subtype", STREAM_CASES)
@pytest.mark.parametrize("seconds", [0.05, 2.0, 11.3])
def test_stream_equals_whole_file(tmp_path, rate, channels, fmt, subtype, seconds):
    """AudioStream's blocks, joined, are load_audio's samples exactly, whatever the block size
    (the last block short, or one sample)."""
    n = int(seconds * rate) + 1
    x = (0.3 * np.random.default_rng(n).standard_normal((n, channels))).astype(np.float32)
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(path, x, rate, format=fmt, subtype=subtype)
    whole = load_audio(path)
    for block_frames in (65536, 4099, 1000):
        blocks = list(AudioStream(path, block_frames=block_frames))
        assert all(b.dtype == np.float32 and b.ndim == 1 and b.size for b in blocks)
        joined = np.concatenate(blocks)
        assert joined.tobytes() == whole.tobytes(), block_frames
    stream = AudioStream(path)
    assert abs(stream.seconds - n / rate) < 1e-9
    assert np.concatenate(list(stream.pcm16())).tobytes() == to_pcm16(whole).tobytes()


def test_stream_reads_in_blocks(tmp_path):
    """Bounded memory: no block is larger than the file's blocks resampled (never the whole file)."""
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(48000 * 30, np.float32), 48000, subtype="PCM_16")
    sizes = [b.size for b in AudioStream(path, block_frames=48000)]
    assert len(sizes) >= 30 and max(sizes) <= 32000 + 1000
    seen = []
    assert sum(b.size for b in counted(AudioStream(path), seen.append)) == seen[-1] == 32000 * 30
    assert seen == sorted(seen) and len(seen) > 1


def test_stream_errors_name_the_file(tmp_path, test_audio):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(UserError, match=r"corrupt\.wav: cannot read audio"):
        AudioStream(corrupt)
    with pytest.raises(UserError, match=r"missing\.wav: no such audio file"):
        AudioStream(tmp_path / "missing.wav")
    with pytest.raises(UserError, match=rf"^{tmp_path}: is a folder, not an audio file$"):
        AudioStream(tmp_path)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 32000)
    with pytest.raises(UserError, match=r"empty\.wav: the file contains no audio samples"):
        list(AudioStream(empty))
    x = np.tile(test_audio, 2)
    x[5] = np.nan
    x[150_000] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, x, 32000, subtype="FLOAT")
    with pytest.raises(UserError, match=r"nan\.wav: 1 sample\(s\) are NaN or infinite"):
        list(AudioStream(path))
    x[5] = 0
    sf.write(path, x, 32000, subtype="FLOAT")
    with pytest.raises(UserError, match=r"nan\.wav \(from 4\.1 s\): 1 sample\(s\) are NaN"):
        list(AudioStream(path))


def test_synthetic_pieces_cover_every_kind_and_the_length():
    """The long varied audio of the soak test and the benchmark: every kind in turn, exactly the
    length asked for, each piece a deterministic clip of its seed."""
    from exporter.audio import synthetic as synthetic_audio

    pieces = list(synthetic_audio.pieces(13 * 0.5 + 0.1, piece_seconds=0.5))
    assert sum(len(x) for _, x in pieces) == round((13 * 0.5 + 0.1) * 32000) and len(pieces[-1][1]) == 3200
    assert {name.split("-")[-2] for name, _ in pieces} == set(synthetic_audio.KINDS)
    kind, x = synthetic_audio.clip(3, 0.5, pieces[3][0].split("-")[-2], "held-out")
    assert pieces[3][1].tobytes() == x.tobytes()
