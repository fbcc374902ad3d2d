"""The UART protocol codec: round trip, garbage, truncated frames, CRC errors."""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.boards import uart_protocol as up


def _frames(n=3):
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        emb = rng.integers(-32768, 32768, 184, dtype=np.int64).astype("<i2")
        out.append(up.encode_frame(up.EMBEDDING, emb.tobytes(), seq=i, timestamp_ms=50 * i))
    return out


def test_round_trip_fields():
    raw = up.encode_frame(up.EMBEDDING, b"\x01\x02\x03\x04", seq=7, timestamp_ms=1234)
    assert raw[:4] == up.SYNC
    res = up.decode_stream(raw)
    assert (res.crc_errors, res.garbage_bytes, res.truncated) == (0, 0, False)
    (f,) = res.frames
    assert (f.type, f.seq, f.timestamp_ms, f.payload) == (up.EMBEDDING, 7, 1234, b"\x01\x02\x03\x04")
    # The CRC is zlib's CRC-32 over everything after the sync word.
    assert struct.unpack("<I", raw[-4:])[0] == zlib.crc32(raw[4:-4])


# A hello and an embedding frame written out byte by byte from docs/uart-protocol.md (not by the
# encoder): little-endian, CRC-32 of everything after the sync word.
LITERAL_HELLO = bytes([
    0xA5, 0x5A, 0xC3, 0x3C,  # sync
    0x01,  # version 1
    0x01,  # type 1: hello
    0x00, 0x00,  # seq 0
    0x00, 0x00, 0x00, 0x00,  # timestamp 0 ms
    0x33, 0x00,  # payload length 51
    # payload
    0x01,  # mode 1: timestamp
    0x0C,  # L fraction bits 12
    0x98, 0x00,  # D = 152 = 128 + 8 + 16
    0x80, 0x00,  # length of L 128
    0x10, 0x00,  # NET_MAX_FRAMES 16
    0x02,  # two taps
    0x00, 0x00, 0x08, 0x00,  # tap B5: offset 0, 8 channels,
    0x00, 0x00, 0x00, 0x3F,  # scale f32 0.5 (0x3F000000),
    0xFD, 0xFF, 0xFF, 0xFF,  # zero point i32 -3,
    0x02, 0x42, 0x35,  # name "B5"
    0x08, 0x00, 0x10, 0x00,  # tap B11: offset 8, 16 channels,
    0x00, 0x00, 0x80, 0x3E,  # scale 0.25 (0x3E800000),
    0x0A, 0x00, 0x00, 0x00,  # zero point 10,
    0x03, 0x42, 0x31, 0x31,  # name "B11"
    0x0A, *b"qemu-an386",  # board name (10 bytes)
    0x72, 0x97, 0x3B, 0x3A,  # CRC-32 0x3A3B9772 (zlib.crc32 of the 61 bytes after the sync word)
])
LITERAL_EMBEDDING = bytes([
    0xA5, 0x5A, 0xC3, 0x3C,  # sync
    0x01, 0x02,  # version 1, type 2: embedding
    0x07, 0x00,  # seq 7
    0xD2, 0x04, 0x00, 0x00,  # timestamp 1234 ms
    0x08, 0x00,  # payload length 8: four int16
    0x00, 0x10, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x80,  # 4096, -1, 32767, -32768
    0x9C, 0x81, 0x9A, 0x12,  # CRC-32 0x129A819C
])


def _crc32_bitwise(data: bytes) -> int:
    """CRC-32 as the document defines it (IEEE 802.3, reflected polynomial 0xEDB88320, init and final
    XOR 0xFFFFFFFF), bit by bit: independent of zlib."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_literal_frames_from_the_document_decode():
    assert _crc32_bitwise(b"123456789") == 0xCBF43926  # the standard check value of CRC-32
    for frame, crc in ((LITERAL_HELLO, 0x3A3B9772), (LITERAL_EMBEDDING, 0x129A819C)):
        assert _crc32_bitwise(frame[4:-4]) == zlib.crc32(frame[4:-4]) == crc

    res = up.decode_stream(b"\x00\x55" + LITERAL_HELLO + LITERAL_EMBEDDING)  # two bytes of line noise first
    assert (res.crc_errors, res.garbage_bytes, res.truncated) == (0, 2, False)
    hello, emb = res.frames
    assert (hello.type, hello.seq, hello.timestamp_ms, len(hello.payload)) == (1, 0, 0, 51)
    assert (emb.type, emb.seq, emb.timestamp_ms, len(emb.payload)) == (2, 7, 1234, 8)

    h = up.parse_hello(hello.payload)
    assert (h.mode, h.l_frac_bits, h.dim, h.l_dim, h.max_frames, h.board) == ("timestamp", 12, 152, 128, 16, "qemu-an386")
    assert h.taps == [up.Tap("B5", 0, 8, 0.5, -3), up.Tap("B11", 8, 16, 0.25, 10)]
    assert up.parse_embedding(emb.payload).tolist() == [4096, -1, 32767, -32768]

    # the encoder writes exactly these bytes
    assert up.encode_frame(up.HELLO, up.encode_hello(h), seq=0) == LITERAL_HELLO
    assert up.encode_frame(up.EMBEDDING, emb.payload, seq=7, timestamp_ms=1234) == LITERAL_EMBEDDING


def test_embedding_payload_is_int16_le():
    q = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    f = up.decode_stream(up.encode_frame(up.EMBEDDING, q.astype("<i2").tobytes())).frames[0]
    assert np.array_equal(up.parse_embedding(f.payload), q)


def test_resync_after_garbage():
    frames = _frames()
    junk = bytes(range(256)) + up.SYNC[:2] + b"\x00" * 5 + up.SYNC + b"\xff" * 3
    res = up.decode_stream(junk + frames[0] + junk + frames[1] + frames[2])
    assert [f.seq for f in res.frames] == [0, 1, 2]
    assert res.garbage_bytes == 2 * len(junk) and not res.truncated  # every junk byte, no frame byte


def test_truncated_frame_in_the_middle_and_at_the_end():
    a, b, c = _frames()
    res = up.decode_stream(a + b[:100] + c)
    assert [f.seq for f in res.frames] == [0, 2]
    # the cut frame's length reaches into c: a CRC error at its sync word, then its other 99 bytes skipped
    assert (res.crc_errors, res.garbage_bytes, res.truncated) == (1, 99, False)
    res = up.decode_stream(a + b + c[:-1])
    assert [f.seq for f in res.frames] == [0, 1] and res.truncated
    res = up.decode_stream(a + up.SYNC[:3])
    assert [f.seq for f in res.frames] == [0] and res.truncated and res.garbage_bytes == 0


def test_crc_error_is_counted_and_frame_dropped():
    a, b, c = _frames()
    bad = bytearray(b)
    bad[40] ^= 0x10  # one payload bit
    res = up.decode_stream(a + bytes(bad) + c)
    assert [f.seq for f in res.frames] == [0, 2]
    assert res.crc_errors == 1


def test_corrupt_length_does_not_swallow_following_frames():
    a, b, c = _frames()
    bad = bytearray(b)
    bad[12:14] = struct.pack("<H", 4000)  # length beyond the stream end
    res = up.decode_stream(a + bytes(bad) + c)
    assert [f.seq for f in res.frames] == [0, 2]


def test_hello_round_trip_and_dequantize():
    taps = [up.Tap("B5", 0, 2, 0.5, -3), up.Tap("B11", 2, 1, 0.25, 10)]
    h = up.Hello("timestamp", 12, 131, 128, 16, taps, "qemu-an386")
    f = up.decode_stream(up.encode_frame(up.HELLO, up.encode_hello(h))).frames[0]
    h2 = up.parse_hello(f.payload)
    assert h2 == h
    q = np.zeros(131, dtype=np.int16)
    q[0], q[128], q[129], q[130] = 4096, -1, 5, 14
    e = h2.dequantize(q)
    assert e[0] == 1.0 and e[128] == 1.0 and e[129] == 4.0 and e[130] == 1.0


def test_end_and_error_payloads():
    e = up.End(96000, 61, 1234, 16384, 2**40 + 5)
    assert up.parse_end(up.encode_end(e)) == e
    code, msg = up.parse_error(struct.pack("<H", up.ERR_CLIP_TOO_SHORT) + b"too short")
    assert (code, msg) == (up.ERR_CLIP_TOO_SHORT, "too short")


# ---- malformed payloads: the protocol error, never struct.error / IndexError / UnicodeDecodeError

PARSERS = {up.HELLO: up.parse_hello, up.EMBEDDING: up.parse_embedding, up.ERROR: up.parse_error,
           up.END: up.parse_end, up.PROFILE: up.parse_profile}
HELLO = up.encode_hello(up.Hello("scene", 12, 131, 128, 1000, [up.Tap("B5", 0, 3, 0.5, -3)], "qemu-an386"))
END = up.encode_end(up.End(96000, 61, 1234, 16384, 5))
PROFILE = struct.pack("<IQQQH", 1, 2, 3, 5, 2) + struct.pack("<2Q", 7, 8)


MALFORMED = {
    "hello-empty": (up.HELLO, b"", "more needed"),
    "hello-board-name-cut": (up.HELLO, HELLO[:-1], "runs past the end"),
    "hello-cut-in-a-tap": (up.HELLO, HELLO[:12], "more needed"),
    "hello-trailing-byte": (up.HELLO, HELLO + b"\x00", "unexpected byte"),
    "hello-name-not-ascii": (up.HELLO, HELLO.replace(b"B5", b"B\xff"), "not ASCII"),
    "hello-9-taps-announced-1-sent": (up.HELLO, HELLO[:8] + b"\x09" + HELLO[9:], "more needed"),
    "embedding-odd-length": (up.EMBEDDING, b"\x01\x02\x03", "odd length"),
    "error-without-code": (up.ERROR, b"\x01", "more needed"),
    "end-cut": (up.END, END[:-1], "more needed"),
    "end-trailing-byte": (up.END, END + b"\x00", "unexpected byte"),
    "profile-op-missing": (up.PROFILE, PROFILE[:-8], "more needed"),
    "profile-op-too-many": (up.PROFILE, PROFILE + b"\x00" * 8, "unexpected byte"),
}


@pytest.mark.parametrize("ftype,payload,why", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_payloads_are_protocol_errors(ftype, payload, why):
    with pytest.raises(up.ProtocolError, match=f"malformed {up.TYPE_NAMES[ftype]} frame.*{why}"):
        PARSERS[ftype](payload)


def test_well_formed_payloads_still_parse():
    assert up.parse_hello(HELLO).board == "qemu-an386"
    assert up.parse_end(END).n_embeddings == 61
    assert up.parse_profile(PROFILE).per_op == [7, 8]
    assert up.parse_error(struct.pack("<H", 1) + b"\xff bytes shown") == (1, "\ufffd bytes shown")


def _mutated(payload: bytes):
    """Valid payloads cut, extended or with bytes changed: the inputs that get deep into a parser."""
    return st.tuples(st.integers(0, len(payload)), st.binary(max_size=8), st.integers(0, 2)).map(
        lambda t: payload[: t[0]] + t[1] + (payload[t[0] + len(t[1]):] if t[2] else b""))


PAYLOADS = st.one_of(st.binary(max_size=96), _mutated(HELLO), _mutated(END), _mutated(PROFILE))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(ftype=st.sampled_from(sorted(PARSERS)), payload=PAYLOADS, seq=st.integers(0, 0xFFFF))
def test_fuzz_parsers_on_frames_with_valid_crc(ftype, payload, seq):
    """Whatever the payload of a frame whose CRC is right: a parse or a ProtocolError."""
    (frame,) = up.decode_stream(up.encode_frame(ftype, payload, seq=seq)).frames
    assert frame.payload == payload
    try:
        PARSERS[ftype](frame.payload)
    except up.ProtocolError:
        pass


FRAMES = _frames(3)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(chunks=st.lists(st.one_of(st.binary(max_size=40), st.just(up.SYNC), st.sampled_from(FRAMES)), max_size=12))
def test_fuzz_decoder_on_random_streams(chunks):
    """Random bytes, stray sync words and real frames in any order: the decoder never raises,
    returns exactly the real frames in order (it resumes one byte after any false start, so
    garbage cannot hide a frame), and counts the rest."""
    data = b"".join(chunks)
    res = up.decode_stream(data)
    decoded = [up.encode_frame(f.type, f.payload, f.seq, f.timestamp_ms) for f in res.frames]
    assert decoded == [c for c in chunks if c in FRAMES]
    assert 0 <= res.garbage_bytes <= len(data) - sum(map(len, decoded))


def _in_pieces(data: bytes, cuts: list[int]) -> up.DecodeResult:
    """``data`` decoded as a reader of a pipe or a growing file sees it: in pieces (final=False),
    each time with what the last call left over, then the rest with final=True."""
    total, rest, prev = up.DecodeResult(), b"", 0
    for cut in sorted(c % (len(data) + 1) for c in cuts) + [None]:
        piece = data[prev:cut] if cut is not None else data[prev:]
        res = up.decode_stream(rest + piece, final=cut is None)
        total.frames += res.frames
        total.crc_errors += res.crc_errors
        total.garbage_bytes += res.garbage_bytes
        total.truncated |= res.truncated
        rest = (rest + piece)[res.consumed:]
        prev = cut if cut is not None else prev
    return total


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(chunks=st.lists(st.one_of(st.binary(max_size=40), st.just(up.SYNC), st.sampled_from(FRAMES),
                                 st.sampled_from(FRAMES).map(lambda f: f[: len(f) // 2]),  # cut frames
                                 st.sampled_from(FRAMES).map(lambda f: f[:-1] + bytes([f[-1] ^ 1]))),  # CRC errors
                       max_size=12),
       cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_decoding_in_pieces_equals_decoding_at_once(chunks, cuts):
    """The firmware runner decodes a long run's output piece by piece: the same frames, CRC
    errors, stray bytes and truncation as the whole stream decoded at once, wherever it is cut."""
    data = b"".join(chunks)
    whole, pieces = up.decode_stream(data), _in_pieces(data, cuts)
    assert pieces.frames == whole.frames
    assert (pieces.crc_errors, pieces.garbage_bytes, pieces.truncated) == \
        (whole.crc_errors, whole.garbage_bytes, whole.truncated)


def test_decoding_in_pieces_keeps_what_may_go_on():
    frame = up.encode_frame(up.EMBEDDING, b"\x01\x00" * 10, seq=7)
    for cut in range(len(frame) + 1):
        res = up.decode_stream(b"junk" + frame[:cut], final=False)
        if cut < len(frame):
            assert res.frames == [] and not res.truncated and res.consumed == 4
        else:
            assert len(res.frames) == 1 and res.consumed == 4 + len(frame)
        assert res.garbage_bytes == 4
