"""The UART protocol codec: round trip, garbage, truncated frames, CRC errors."""

import struct
import zlib

import numpy as np

from exporter import uart_protocol as up


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


def test_embedding_payload_is_int16_le():
    q = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    f = up.decode_stream(up.encode_frame(up.EMBEDDING, q.astype("<i2").tobytes())).frames[0]
    assert np.array_equal(up.parse_embedding(f.payload), q)


def test_resync_after_garbage():
    frames = _frames()
    junk = bytes(range(256)) + up.SYNC[:2] + b"\x00" * 5 + up.SYNC + b"\xff" * 3
    res = up.decode_stream(junk + frames[0] + junk + frames[1] + frames[2])
    assert [f.seq for f in res.frames] == [0, 1, 2]
    assert res.garbage_bytes > 0 and not res.truncated


def test_truncated_frame_in_the_middle_and_at_the_end():
    a, b, c = _frames()
    res = up.decode_stream(a + b[:100] + c)
    assert [f.seq for f in res.frames] == [0, 2]
    assert res.crc_errors + res.garbage_bytes > 0
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
