"""Listen to a flashed board with a live microphone (``python -m exporter listen PORT``).

The embedder firmware (firmware/app/main.c on a real board, docs/boards.md) sends, without
being asked: a budget frame after reset (real boards), hello, then embeddings (every 50 ms in
timestamp mode; one per 10 s clip, each followed by an end frame, in scene mode), scores frames
after each embedding when the export has task heads, and error frames (a microphone overrun, a
fault). ``Listener`` decodes that stream from any byte port, prints one line per frame that
matters and collects the embeddings for an npz; it resynchronizes after garbage (the decoder
skips to the next sync word) and names each problem in one line: stray bytes or CRC errors
(the baud rate, the wiring), frames lost (sequence numbers that jump), malformed payloads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from exporter.boards import uart_protocol as up

GARBAGE_REPORT_EVERY = 1.0  # seconds: a wrong baud rate must not print a line per read
# Joining a stream mid-frame leaves at most one frame's bytes before the first sync word: not a problem.
JOIN_SLACK = up.HEADER_LEN + up.MAX_PAYLOAD + up.CRC_LEN


class SocketPort:
    """A TCP socket as a port (``socket://HOST:PORT``, e.g. QEMU's ``-serial tcp:...``). Not
    pyserial's socket:// handler: that one drops the bytes of a read that meets the end of the
    stream, which here is the last frame a board sends before it stops."""

    def __init__(self, host: str, port: int, timeout: float = 0.1):
        import socket

        self.sock = socket.create_connection((host, port), timeout=5.0)
        self.sock.settimeout(timeout)
        self.pending = b""
        self.closed = False

    @property
    def in_waiting(self) -> int:
        import select

        return 4096 if select.select([self.sock], [], [], 0)[0] else 0

    def read(self, n: int) -> bytes:
        import socket

        if n <= 0:
            return b""
        if self.closed:
            raise ConnectionError("the other end closed the connection")
        try:
            data = self.sock.recv(n)
        except socket.timeout:
            return b""
        if not data:
            self.closed = True  # reported by the next read: what came before is handled first
        return data

    def close(self) -> None:
        self.sock.close()


@dataclass
class Collected:
    embeddings_q: list[np.ndarray] = field(default_factory=list)
    timestamps_ms: list[int] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    received_s: list[float] = field(default_factory=list)  # host time since listening started
    top: list[list[int]] = field(default_factory=list)  # per embedding, per head: the top class
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Listener:
    """Frames of ``port`` (anything with ``read(n)`` that waits at most a short timeout and
    ``in_waiting``: pyserial's ``Serial``, or ``SocketPort``), printed with ``say`` and
    collected; ``problem`` is told each problem in one line."""

    def __init__(self, port, name: str, say=print, problem=print, clock=time.monotonic):
        self.port, self.name, self.say, self.problem_out, self.clock = port, name, say, problem, clock
        self.start = clock()
        self.buf = bytearray()
        self.hello: up.Hello | None = None
        self.budget: up.Budget | None = None
        self.last_seq: int | None = None
        self.last_type: int | None = None
        self.frames = 0
        self.garbage_bytes = self.crc_errors = 0
        self._garbage_said = (0, 0)
        self._garbage_at = -GARBAGE_REPORT_EVERY
        self.got = Collected()

    # ---- reading -------------------------------------------------------------------------

    def poll(self) -> int:
        """Read what the port has (waiting at most its timeout) and handle the frames it
        completes; the number of frames."""
        data = self.port.read(1)
        if data:
            data += self.port.read(self.port.in_waiting)
            self.buf += data
        return self._decode(final=False)

    def finish(self, interrupted: bool = False) -> None:
        """The stream is over: what is left in the buffer is decoded and counted. A frame cut
        short is a problem unless the listening was ``interrupted`` (Ctrl-C, --seconds)."""
        left = len(self.buf)
        truncated = self._decode(final=not interrupted) < 0
        self._report_garbage(force=True)
        if truncated:
            self.problem(f"the stream ended inside a frame ({left} bytes left undecoded)")

    def _decode(self, final: bool) -> int:
        """Frames handled; with ``final`` -1 if the stream ended inside a frame."""
        res = up.decode_stream(bytes(self.buf), final=final)
        if self.frames == 0 and res.frames:
            # up to a frame's bytes before the first frame: the rest of one sent before the port opened
            f = res.frames[0]
            first = bytes(self.buf).find(up.encode_frame(f.type, f.payload, f.seq, f.timestamp_ms))
            if 0 <= first and self.garbage_bytes + first <= JOIN_SLACK:
                del self.buf[:first]
                self.garbage_bytes = self.crc_errors = 0
                res = up.decode_stream(bytes(self.buf), final=final)
        del self.buf[: res.consumed]
        self.garbage_bytes += res.garbage_bytes
        self.crc_errors += res.crc_errors
        for f in res.frames:
            self._handle(f)
        self._report_garbage()
        return -1 if final and res.truncated else len(res.frames)

    def _report_garbage(self, force: bool = False) -> None:
        now = self.clock()
        said = (self.garbage_bytes, self.crc_errors)
        joining = self.frames == 0 and self.garbage_bytes <= JOIN_SLACK
        if (joining and not force) or said == self._garbage_said or (not force and now - self._garbage_at < GARBAGE_REPORT_EVERY):
            return
        g, c = said[0] - self._garbage_said[0], said[1] - self._garbage_said[1]
        self._garbage_said, self._garbage_at = said, now
        self.problem(f"garbage on the line: {g} stray bytes, {c} frames with a wrong CRC skipped "
                     f"(resynchronized at the next frame): check the baud rate and the wiring")

    def problem(self, msg: str) -> None:
        self.got.problems.append(msg)
        self.problem_out(f"{self.name}: {msg}")

    # ---- frames --------------------------------------------------------------------------

    def _handle(self, f: up.Frame) -> None:
        self.frames += 1
        if self.last_seq is not None and f.seq != (self.last_seq + 1) & 0xFFFF and f.type not in (up.BUDGET, up.HELLO):
            # budget and hello start a stream (after the muted start-up run, whose frames took numbers)
            lost = (f.seq - self.last_seq - 1) & 0xFFFF
            self.problem(f"{lost} frame(s) lost before frame {f.seq} (a {up.TYPE_NAMES.get(f.type, f.type)} frame): "
                         f"the line dropped bytes")
        self.last_seq, self.last_type = f.seq, f.type
        try:
            if f.type == up.BUDGET:
                self._on_budget(up.parse_budget(f.payload))
            elif f.type == up.HELLO:
                self._on_hello(up.parse_hello(f.payload))
            elif f.type == up.EMBEDDING:
                self._on_embedding(f, up.parse_embedding(f.payload))
            elif f.type == up.SCORES:
                self._on_scores(f, up.parse_scores(f.payload))
            elif f.type == up.ERROR:
                code, msg = up.parse_error(f.payload)
                self.got.errors.append(f"{code}: {msg}")
                self.problem(f"the board reported error {code}: {msg}")
            elif f.type == up.END:
                e = up.parse_end(f.payload)
                self.say(f"end: {e.n_samples} samples, {e.n_embeddings} embeddings")
            # profile, ready, selftest: not part of a live stream; ignored
        except up.ProtocolError as e:
            self.problem(f"frame {f.seq}: {e}")

    def _on_budget(self, b: up.Budget) -> None:
        self.budget = b
        verdict = "real time" if b.realtime else "NOT real time (cycles per window + microphone over 90 % of a hop)"
        self.say(f"budget: clock {b.clock_hz / 1e6:g} MHz, microphone {b.mic_rate_mhz / 1000:,.1f} Hz measured, "
                 f"{b.mode} mode: {b.cycles_per_window / 1e6:.2f} M cycles per window, microphone interrupt "
                 f"{b.mic_cycles_per_s / 1e6:.2f} M cycles/s, {100 * b.load:.0f} % of the CPU: {verdict}")

    def _on_hello(self, h: up.Hello) -> None:
        if self.hello is not None and self.hello.dim != h.dim:
            self.problem(f"a second hello with {h.dim} values instead of {self.hello.dim} (another firmware?)")
        self.hello = h
        taps = ", ".join(f"{t.name} {t.channels}" for t in h.taps)
        self.say(f"hello: board {h.board}, {h.mode} mode, {h.dim} values (L {h.l_dim}, {taps})")

    def _on_embedding(self, f: up.Frame, q: np.ndarray) -> None:
        g = self.got
        if g.embeddings_q and q.size != g.embeddings_q[0].size:
            self.problem(f"frame {f.seq}: an embedding of {q.size} values after ones of {g.embeddings_q[0].size}: skipped")
            return
        g.embeddings_q.append(q)
        g.timestamps_ms.append(f.timestamp_ms)
        g.seqs.append(f.seq)
        g.received_s.append(self.clock() - self.start)
        g.top.append([])
        if self.hello is not None:
            x = self.hello.dequantize(q)
            detail = f"L mean {x[: self.hello.l_dim].mean():+.2f}, taps |x| {np.abs(x[self.hello.l_dim:]).mean():.3f}"
        else:
            detail = "integers only (no hello seen: reset the board to get one)"
        self.say(f"{f.timestamp_ms:>9} ms  embedding {len(g.embeddings_q)}: {q.size} values, {detail}")

    def _on_scores(self, f: up.Frame, s: up.Scores) -> None:
        if self.got.top:
            self.got.top[-1].append(s.top)
        logit = s.scale * (int(s.logits_q[s.top]) - s.zero_point) if s.logits_q.size else float("nan")
        self.say(f"{f.timestamp_ms:>9} ms  head {s.name}: top class {s.top} of {s.logits_q.size} (logit {logit:+.2f})")

    # ---- result --------------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        """What the npz holds: the integers, and with a hello the floats; the budget's fields."""
        g = self.got
        dim = g.embeddings_q[0].size if g.embeddings_q else (self.hello.dim if self.hello else 0)
        q = np.stack(g.embeddings_q) if g.embeddings_q else np.zeros((0, dim), np.int16)
        out = {
            "embeddings_q": q,
            "timestamps_ms": np.array(g.timestamps_ms, dtype=np.int64),
            "seq": np.array(g.seqs, dtype=np.int64),
            "received_s": np.array(g.received_s, dtype=np.float64),
            "errors": np.array(g.errors, dtype=str),
            "problems": np.array(g.problems, dtype=str),
        }
        if self.hello is not None:
            out["embeddings"] = self.hello.dequantize(q)
            out["board"] = np.array(self.hello.board)
            out["mode"] = np.array(self.hello.mode)
        heads = max((len(t) for t in g.top), default=0)
        if heads:
            out["top_class"] = np.array([t + [-1] * (heads - len(t)) for t in g.top], dtype=np.int64)
        if self.budget is not None:
            b = self.budget
            out.update(budget_clock_hz=np.int64(b.clock_hz), budget_mic_rate_hz=np.float64(b.mic_rate_mhz / 1000),
                       budget_cycles_per_window=np.float64(b.cycles_per_window),
                       budget_mic_cycles_per_s=np.int64(b.mic_cycles_per_s), budget_load=np.float64(b.load),
                       budget_realtime=np.bool_(b.realtime))
        return out
