"""The firmware's UART protocol (docs/uart-protocol.md): frame encoder and a resynchronizing decoder.

Frame, little-endian::

    sync  A5 5A C3 3C
    u8    version (1)           -+
    u8    type                   |
    u16   sequence number        | covered by the CRC
    u32   timestamp (ms)         |
    u16   payload length (n)     |
    n     payload               -+
    u32   CRC-32 (zlib.crc32) of version .. payload

The decoder never trusts a frame it cannot check: after garbage, a truncated
frame or a CRC error it resumes at the next sync word.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from exporter.errors import UserError

SYNC = bytes([0xA5, 0x5A, 0xC3, 0x3C])
VERSION = 1
_HEAD = struct.Struct("<BBHIH")  # version, type, seq, timestamp, length
HEADER_LEN = len(SYNC) + _HEAD.size
CRC_LEN = 4
MAX_PAYLOAD = 4096  # longer lengths are taken as corruption

HELLO, EMBEDDING, ERROR, END, PROFILE = 1, 2, 3, 4, 5
BUDGET = 6  # real boards (docs/boards.md), once at start-up
READY = 7  # validation firmware: a host frame handled (or to be sent again)
SCORES = 8  # task heads (firmware exported with --head), after each embedding
SELFTEST = 0x7F
# host -> device, validation firmware (firmware/app/validator.c)
CONNECT, PCM, CLIP_END = 0x10, 0x11, 0x12
TYPE_NAMES = {HELLO: "hello", EMBEDDING: "embedding", ERROR: "error", END: "end", PROFILE: "profile",
              BUDGET: "budget", READY: "ready", SCORES: "scores", SELFTEST: "selftest", CONNECT: "connect",
              PCM: "pcm", CLIP_END: "clip_end"}
READY_OK, READY_RESEND, READY_UNKNOWN = 0, 1, 2

# Error codes of ERROR frames.
ERR_CLIP_TOO_SHORT, ERR_CLIP_TOO_LONG, ERR_NO_AUDIO, ERR_FAULT, ERR_INTERNAL = 1, 2, 3, 4, 5
ERR_MIC_OVERRUN = 6  # real boards: microphone blocks lost
MODES = {0: "scene", 1: "timestamp"}


@dataclass
class Frame:
    type: int
    seq: int
    timestamp_ms: int
    payload: bytes


@dataclass
class DecodeResult:
    frames: list[Frame] = field(default_factory=list)
    crc_errors: int = 0
    garbage_bytes: int = 0  # bytes skipped outside any valid frame
    truncated: bool = False  # the stream ended inside a frame
    consumed: int = 0  # bytes decoded; with final=False the rest is to be given again with more


def encode_frame(ftype: int, payload: bytes = b"", seq: int = 0, timestamp_ms: int = 0) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = _HEAD.pack(VERSION, ftype, seq & 0xFFFF, timestamp_ms & 0xFFFFFFFF, len(payload)) + payload
    return SYNC + body + struct.pack("<I", zlib.crc32(body))


def decode_stream(data: bytes, final: bool = True) -> DecodeResult:
    """All valid frames of ``data``, in order, with counts of what was skipped.

    ``final=False``: ``data`` is a piece of a longer stream (read as it comes). Decoding stops
    where a frame may go on in the next piece, and ``consumed`` says where: give
    ``data[consumed:] + next piece`` next, and the last rest with ``final=True``. Pieces decoded
    so give the frames and counts of the whole stream decoded at once."""
    out = DecodeResult()
    pos, n = 0, len(data)
    while pos < n:
        start = data.find(SYNC, pos)
        if start < 0:
            # A partial sync word at the very end is a truncated frame, not garbage.
            tail = _partial_sync_len(data[pos:])
            out.garbage_bytes += n - pos - tail
            if not final:
                pos = n - tail
                break
            out.truncated |= tail > 0
            pos = n - tail
            break
        out.garbage_bytes += start - pos
        if start + HEADER_LEN > n:
            if not final:
                pos = start
                break
            out.truncated = True
            pos = start
            break
        version, ftype, seq, ts, length = _HEAD.unpack_from(data, start + len(SYNC))
        if version != VERSION or length > MAX_PAYLOAD:
            out.garbage_bytes += 1
            pos = start + 1
            continue
        end = start + HEADER_LEN + length + CRC_LEN
        if end > n and not final:
            pos = start
            break
        if end > n:
            # Either the stream was cut inside this frame, or the length is corrupt and a
            # later frame follows: look for one before calling it truncated.
            if data.find(SYNC, start + 1) < 0:
                out.truncated = True
                pos = start
                break
            out.garbage_bytes += 1
            pos = start + 1
            continue
        body = data[start + len(SYNC) : end - CRC_LEN]
        (crc,) = struct.unpack_from("<I", data, end - CRC_LEN)
        if zlib.crc32(body) != crc:
            out.crc_errors += 1
            pos = start + 1
            continue
        out.frames.append(Frame(ftype, seq, ts, bytes(body[_HEAD.size :])))
        pos = end
    out.consumed = min(pos, n) if not final else n
    return out


def _partial_sync_len(tail: bytes) -> int:
    for k in range(min(len(SYNC) - 1, len(tail)), 0, -1):
        if tail[-k:] == SYNC[:k]:
            return k
    return 0


# ---- payloads -------------------------------------------------------------------------------


@dataclass
class Tap:
    name: str
    offset: int  # within the tap section (after L)
    channels: int
    scale: float
    zero_point: int


@dataclass
class Hello:
    mode: str
    l_frac_bits: int
    dim: int
    l_dim: int
    max_frames: int
    taps: list[Tap]
    board: str

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """Float embeddings from the integers (docs/int8-graph.md): L / 2**frac, taps (q - zp) * scale."""
        q = np.asarray(q, dtype=np.int64)
        out = np.empty(q.shape, dtype=np.float32)
        out[..., : self.l_dim] = q[..., : self.l_dim] / float(1 << self.l_frac_bits)
        for t in self.taps:
            sl = slice(self.l_dim + t.offset, self.l_dim + t.offset + t.channels)
            out[..., sl] = (q[..., sl] - t.zero_point) * np.float32(t.scale)
        return out


def encode_hello(h: Hello) -> bytes:
    mode = {v: k for k, v in MODES.items()}[h.mode]
    p = struct.pack("<BBHHHB", mode, h.l_frac_bits, h.dim, h.l_dim, h.max_frames, len(h.taps))
    for t in h.taps:
        name = t.name.encode()
        p += struct.pack("<HHfiB", t.offset, t.channels, t.scale, t.zero_point, len(name)) + name
    board = h.board.encode()
    return p + struct.pack("<B", len(board)) + board


class ProtocolError(UserError):
    """A frame whose CRC is right but whose payload does not follow the protocol
    (a mismatched or faulty firmware): the host cannot trust anything it says."""


class _Reader:
    """Reads a payload front to back; anything short, long or undecodable is a ProtocolError."""

    def __init__(self, payload: bytes, what: str):
        self.payload, self.what, self.pos = bytes(payload), what, 0

    def fail(self, why: str) -> ProtocolError:
        return ProtocolError(f"malformed {self.what} frame ({len(self.payload)} byte payload): {why}")

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.payload):
            raise self.fail(f"ends at byte {len(self.payload)}, {size} more needed at byte {self.pos}")
        values = struct.unpack_from(fmt, self.payload, self.pos)
        self.pos += size
        return values

    def text(self, n: int) -> str:
        raw = self.payload[self.pos : self.pos + n]
        if len(raw) != n:
            raise self.fail(f"a {n} byte name runs past the end")
        self.pos += n
        try:
            return raw.decode("ascii")  # names the firmware sends: tap and board names
        except UnicodeDecodeError:
            raise self.fail(f"name {raw!r} is not ASCII") from None

    def done(self) -> None:
        if self.pos != len(self.payload):
            raise self.fail(f"{len(self.payload) - self.pos} unexpected byte(s) after byte {self.pos}")


def parse_hello(payload: bytes) -> Hello:
    r = _Reader(payload, "hello")
    mode, frac, dim, l_dim, max_frames, n_taps = r.unpack("<BBHHHB")
    taps = []
    for _ in range(n_taps):
        off, ch, scale, zp, nlen = r.unpack("<HHfiB")
        taps.append(Tap(r.text(nlen), off, ch, scale, zp))
    (blen,) = r.unpack("<B")
    board = r.text(blen)
    r.done()
    return Hello(MODES.get(mode, f"mode {mode}"), frac, dim, l_dim, max_frames, taps, board)


def parse_embedding(payload: bytes) -> np.ndarray:
    if len(payload) % 2:
        raise _Reader(payload, "embedding").fail("odd length: not a whole number of int16 values")
    return np.frombuffer(payload, dtype="<i2").astype(np.int16)


def parse_error(payload: bytes) -> tuple[int, str]:
    r = _Reader(payload, "error")
    (code,) = r.unpack("<H")
    return code, payload[2:].decode(errors="replace")  # free text: shown, never interpreted


@dataclass
class End:
    n_samples: int
    n_embeddings: int
    stack_used: int  # peak, bytes (0 where the board cannot tell)
    stack_size: int
    instructions: int  # from the first sample read to the end (0 unless counted: QEMU -icount)


def encode_end(e: End) -> bytes:
    return struct.pack("<IIIIQ", e.n_samples, e.n_embeddings, e.stack_used, e.stack_size, e.instructions)


def parse_end(payload: bytes) -> End:
    r = _Reader(payload, "end")
    end = End(*r.unpack("<IIIIQ"))
    r.done()
    return end


@dataclass
class Profile:
    n_windows: int
    frontend: int  # instructions, all windows together
    network: int
    total: int  # from the first sample read to the end frame
    per_op: list[int]  # network instructions per op, all windows together


def parse_profile(payload: bytes) -> Profile:
    r = _Reader(payload, "profile")
    n_windows, frontend, network, total, n_ops = r.unpack("<IQQQH")
    per_op = list(r.unpack(f"<{n_ops}Q"))
    r.done()
    return Profile(n_windows, frontend, network, total, per_op)


@dataclass
class Scores:
    """One task head's output for one embedding (firmware built with heads)."""
    head_index: int
    name: str
    multi_label: bool
    top: int  # index of the first largest logit
    scale: float  # logit = scale * (q - zero_point)
    zero_point: int
    logits_q: np.ndarray  # int8 [n_classes]


def encode_scores(s: Scores) -> bytes:
    name = s.name.encode()
    return (struct.pack("<BBBBfiB", s.head_index, len(s.logits_q), int(s.multi_label), s.top, s.scale, s.zero_point,
                        len(name)) + name + np.asarray(s.logits_q, dtype=np.int8).tobytes())


def parse_scores(payload: bytes) -> Scores:
    r = _Reader(payload, "scores")
    index, n, multi, top, scale, zp, nlen = r.unpack("<BBBBfiB")
    name = r.text(nlen)
    logits = np.array(r.unpack(f"<{n}b"), dtype=np.int8)
    r.done()
    if multi > 1 or (n and top >= n):
        raise r.fail(f"top class {top} of {n}, multi-label flag {multi}")
    return Scores(index, name, bool(multi), top, scale, zp, logits)


@dataclass
class Ready:
    """The validation firmware's answer to a host frame: handled (or damaged: send it again)."""

    seq: int  # of the host frame
    status: int  # READY_OK, READY_RESEND, READY_UNKNOWN
    max_samples: int  # int16 samples a pcm frame may hold


def encode_ready(r: Ready) -> bytes:
    return struct.pack("<HBH", r.seq, r.status, r.max_samples)


def parse_ready(payload: bytes) -> Ready:
    r = _Reader(payload, "ready")
    ready = Ready(*r.unpack("<HBH"))
    r.done()
    if ready.status > READY_UNKNOWN or ready.max_samples == 0:
        raise r.fail(f"status {ready.status}, {ready.max_samples} samples per frame")
    return ready


@dataclass
class Budget:
    """The real boards' start-up real-time check (firmware/boards/common/board_live.c)."""

    clock_hz: int
    mic_rate_mhz: int  # the microphone's sample rate measured against the core clock, milli-Hz
    mode: str
    samples: int  # of the synthetic clip the application ran on (UART muted)
    windows: int  # windows of that clip
    cycles: int  # DWT cycles of that run
    mic_cycles_per_s: int  # the microphone interrupt's cycles per second (decimation on the STM32)
    hop_cycles: int  # cycles available per hop (50 ms timestamp, 10 s scene)
    realtime: bool  # cycles per window + the interrupt's share of a hop <= 90 % of hop_cycles

    @property
    def cycles_per_window(self) -> float:
        return self.cycles / self.windows

    @property
    def load(self) -> float:
        """Fraction of the CPU that the steady state takes."""
        hop_s = self.hop_cycles / self.clock_hz
        return (self.cycles_per_window + self.mic_cycles_per_s * hop_s) / self.hop_cycles


def encode_budget(b: Budget) -> bytes:
    return struct.pack("<IIBIIQIIB", b.clock_hz, b.mic_rate_mhz, 1 if b.mode == "timestamp" else 0, b.samples,
                       b.windows, b.cycles, b.mic_cycles_per_s, b.hop_cycles, int(b.realtime))


def parse_budget(payload: bytes) -> Budget:
    r = _Reader(payload, "budget")
    clock, rate, mode, samples, windows, cycles, mic, hop, ok = r.unpack("<IIBIIQIIB")
    r.done()
    if mode not in MODES or ok > 1 or windows == 0:
        raise r.fail(f"mode {mode}, verdict {ok}, windows {windows}")
    return Budget(clock, rate, MODES[mode], samples, windows, cycles, mic, hop, bool(ok))
