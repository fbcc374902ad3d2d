"""The serial board: a flashed validation firmware (firmware/app/validator.c) behind a UART.

``python -m exporter run --board serial:PORT [--baud N]`` streams each clip's PCM to the board
and compares the embeddings it sends back with the reference board's, byte for byte
(docs/firmware.md, "Validate on target"; the frames: docs/uart-protocol.md, "The validation
session"). Flow control is stop-and-wait: the host sends a frame, the board answers ``ready``
once it has handled it (embedding, error and end frames come before that answer), and only
then does the host send the next one. A frame the board received damaged is answered by
``ready(resend)`` and sent again; so is a frame that got no answer for ``RESEND_AFTER`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from exporter.boards import uart_protocol as up
from exporter.errors import UserError

PREFIX = "serial:"
DEFAULT_BAUD = 115200
HELLO_TIMEOUT = 5.0  # seconds for the board to answer connect with hello
CONNECT_EVERY = 0.5  # connect is repeated: a board may drop bytes until its UART is enabled
RESEND_AFTER = 5.0  # seconds without a byte from the board: send the frame again
MAX_RESENDS = 3  # per frame
FINISH_TIMEOUT = 300.0  # seconds for clip_end: the scene window runs then


class SerialError(UserError):
    """The board did not answer, answered garbage, or broke the protocol."""


class Link:
    """Frames over a byte port (pyserial's ``Serial``, or anything with ``read(n)`` that waits at
    most a short timeout, ``in_waiting``, ``write(b)`` and ``flush()``); the decoder
    resynchronizes after garbage."""

    def __init__(self, port, name: str):
        self.port, self.name = port, name
        self.buf = bytearray()
        self.seq = 0
        self.garbage_bytes = 0
        self.crc_errors = 0
        self.last_byte = time.monotonic()

    def send(self, ftype: int, payload: bytes = b"", seq: int | None = None) -> int:
        if seq is None:
            seq, self.seq = self.seq, (self.seq + 1) & 0xFFFF
        self.port.write(up.encode_frame(ftype, payload, seq=seq))
        self.port.flush()
        return seq

    def receive(self) -> list[up.Frame]:
        """The frames completed by what arrives within the port's read timeout."""
        data = self.port.read(1)  # waits (at most the port's timeout) for the first byte
        if data:
            data += self.port.read(self.port.in_waiting)
            self.last_byte = time.monotonic()
            self.buf += data
        res = up.decode_stream(bytes(self.buf), final=False)
        del self.buf[: res.consumed]
        self.garbage_bytes += res.garbage_bytes
        self.crc_errors += res.crc_errors
        return res.frames

    def corruption(self) -> str | None:
        if self.garbage_bytes or self.crc_errors:
            return (f"{self.name}: the board sent garbage ({self.garbage_bytes} stray bytes, {self.crc_errors} "
                    f"frames with a wrong CRC; the decoder resynchronized): check the baud rate and the wiring")
        return None


class Session:
    """A connected validation firmware: ``hello`` and ``embed(clip)``."""

    def __init__(self, link: Link, hello_timeout: float = HELLO_TIMEOUT):
        self.link = link
        self.hello = None
        self.max_samples = 0
        deadline = time.monotonic() + hello_timeout
        connects: set[int] = set()
        while time.monotonic() < deadline:
            connects.add(link.send(up.CONNECT))
            next_connect = time.monotonic() + CONNECT_EVERY
            while time.monotonic() < min(next_connect, deadline):
                for f in link.receive():
                    if f.type == up.HELLO:
                        self.hello = _parse(up.parse_hello, f, link.name)
                    elif f.type == up.READY and self.hello is not None:
                        ready = _parse(up.parse_ready, f, link.name)
                        if ready.seq in connects and ready.status == up.READY_OK:
                            self.max_samples = ready.max_samples
                            # garbage before the session (a frame cut when the port opened) is not the board's fault
                            link.garbage_bytes = link.crc_errors = 0
                            return
        raise SerialError(f"{link.name}: no answer within {hello_timeout:.0f} s: is the validation firmware "
                          f"(target validator) flashed, the board powered and the baud rate right?")

    def request(self, ftype: int, payload: bytes = b"", patience: float = RESEND_AFTER) -> list[up.Frame]:
        """Send one frame and wait for its ready; the frames the board sent meanwhile."""
        link = self.link
        seq = link.send(ftype, payload)
        frames, resends = [], 0
        while True:
            for f in link.receive():
                if f.type != up.READY:
                    frames.append(f)
                    continue
                ready = _parse(up.parse_ready, f, link.name)
                if ready.status == up.READY_RESEND:
                    resends += 1
                elif ready.seq != seq:
                    continue  # the answer to an earlier copy
                elif ready.status == up.READY_OK:
                    return frames
                else:
                    raise SerialError(f"{link.name}: the board does not accept {up.TYPE_NAMES[ftype]} frames "
                                      f"(is it the validation firmware of this tool version?)")
                if resends > MAX_RESENDS:
                    raise SerialError(f"{link.name}: a {up.TYPE_NAMES[ftype]} frame arrived damaged "
                                      f"{resends} times: check the baud rate and the wiring")
                link.send(ftype, payload, seq=seq)
            if time.monotonic() - link.last_byte > patience:
                resends += 1
                if resends > MAX_RESENDS:
                    raise SerialError(f"{link.name}: the board stopped answering (no byte for {patience:.0f} s "
                                      f"after a {up.TYPE_NAMES[ftype]} frame, {resends - 1} resends)")
                link.last_byte = time.monotonic()
                link.send(ftype, payload, seq=seq)

    def embed(self, clip: np.ndarray) -> tuple[list[np.ndarray], list[int], list[tuple[int, str]], up.End | None]:
        """Stream one int16 clip; (embeddings, timestamps, errors, end) as the board sent them. The
        scores frames of a firmware with task heads are kept in ``self.scores`` (in order)."""
        pcm = np.ascontiguousarray(clip, dtype="<i2")
        frames = []
        for i in range(0, pcm.size, self.max_samples):
            frames += self.request(up.PCM, pcm[i : i + self.max_samples].tobytes())
        frames += self.request(up.CLIP_END, patience=FINISH_TIMEOUT)
        embeddings, timestamps, errors, end = [], [], [], None
        self.scores: list[up.Scores] = []
        for f in frames:
            if f.type == up.EMBEDDING:
                embeddings.append(_parse(up.parse_embedding, f, self.link.name))
                timestamps.append(f.timestamp_ms)
            elif f.type == up.SCORES:
                self.scores.append(_parse(up.parse_scores, f, self.link.name))
            elif f.type == up.ERROR:
                errors.append(_parse(up.parse_error, f, self.link.name))
            elif f.type == up.END:
                end = _parse(up.parse_end, f, self.link.name)
        return embeddings, timestamps, errors, end


def _parse(parser, frame: up.Frame, name: str):
    try:
        return parser(frame.payload)
    except up.ProtocolError as e:
        raise SerialError(f"{name}: {e}") from None


def open_port(port: str, baud: int = DEFAULT_BAUD, timeout: float = 0.05, write_timeout: float | None = 5.0):
    """A pyserial port (also `listen`'s); a port that cannot be opened is a UserError naming it."""
    try:
        import serial
    except ImportError:
        raise UserError("serial ports need pyserial: pip install pyserial") from None
    try:
        return serial.Serial(port, baudrate=baud, timeout=timeout, write_timeout=write_timeout)
    except (serial.SerialException, ValueError) as e:
        raise UserError(f"cannot open serial port {port}: {e}") from None


def first_difference(got: np.ndarray, want: np.ndarray, hello: up.Hello) -> str:
    """Where the board's integers first differ from the reference's: window and section."""
    got, want = np.atleast_2d(got), np.atleast_2d(want)
    w, i = (int(k) for k in np.argwhere(got != want)[0])
    section = "L"
    for t in hello.taps:
        if hello.l_dim + t.offset <= i < hello.l_dim + t.offset + t.channels:
            section = t.name
    where = "the scene embedding" if hello.mode == "scene" else f"window {w}"
    return (f"{where}, section {section}, value {i}: board {got[w, i]}, reference {want[w, i]} "
            f"({int((got != want).sum())} of {got.size} values differ)")


def check_clip(name: str, hello: up.Hello, result, n_samples: int, want: np.ndarray) -> np.ndarray:
    """The board's integers of one clip, if complete and equal to ``want``; else a clear error."""
    from exporter import SAMPLE_RATE
    from exporter.float_model.windows import TS_HOP

    embeddings, timestamps, errors, end = result
    for code, msg in errors:
        if code in (up.ERR_CLIP_TOO_SHORT, up.ERR_CLIP_TOO_LONG):
            raise UserError(f"{name}: {msg}")
    if errors:
        raise SerialError(f"{name}: the board reported: " + "; ".join(m for _, m in errors))
    if end is None or end.n_samples != n_samples:
        raise SerialError(f"{name}: the board's end frame is missing or counts "
                          f"{end.n_samples if end else 0} samples of {n_samples}")
    expected = n_samples // TS_HOP + 1 if hello.mode == "timestamp" else 1
    if len(embeddings) != expected or end.n_embeddings != expected:
        raise SerialError(f"{name}: {len(embeddings)} embeddings received, {end.n_embeddings} sent, "
                          f"{expected} windows expected (frames lost?)")
    if hello.mode == "timestamp" and timestamps != [TS_HOP * 1000 // SAMPLE_RATE * i for i in range(expected)]:
        raise SerialError(f"{name}: unexpected timestamps {timestamps[:5]}...")
    if any(e.size != hello.dim for e in embeddings):
        raise SerialError(f"{name}: an embedding of other than {hello.dim} values")
    got = embeddings[0] if hello.mode == "scene" else np.stack(embeddings)
    if got.shape != want.shape or not np.array_equal(got, want):
        if got.shape != want.shape:
            raise UserError(f"{name}: differs from the reference board: shape {got.shape}, reference {want.shape}")
        raise UserError(f"{name}: differs from the reference board: {first_difference(got, want, hello)}")
    return got


def check_scores(name: str, scores: list[up.Scores], n_embeddings: int, want: dict[str, np.ndarray],
                 mode: str) -> dict[str, np.ndarray]:
    """The board's head logits of one clip ({head name: int8 [C] (scene) or [n_ts, C]}), if there is
    one scores frame per head and embedding, in the export's head order, equal to ``want``."""
    names = list(want)
    if [s.name for s in scores] != names * n_embeddings:
        raise SerialError(f"{name}: {len(scores)} scores frames ({', '.join(sorted({s.name for s in scores})) or 'none'}) "
                          f"for {n_embeddings} embeddings and heads {', '.join(names)}: is the validation firmware "
                          "built from this export (with its heads)?")
    got = {}
    for i, head in enumerate(names):
        logits = np.stack([s.logits_q for s in scores[i :: len(names)]])
        got[head] = logits[0] if mode == "scene" else logits
        if got[head].shape != want[head].shape or not np.array_equal(got[head], want[head]):
            rows = np.argwhere(np.atleast_2d(got[head]) != np.atleast_2d(want[head]))
            where = "" if mode == "scene" or not len(rows) else f" (first at window {rows[0][0]})"
            raise UserError(f"{name}: head {head}'s scores differ from the reference board's{where}")
    return got


def embedder(mode: str, export_dir: Path, port: str, baud: int = DEFAULT_BAUD,
             hello_timeout: float = HELLO_TIMEOUT, with_scores: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """The board interface (exporter/boards/__init__.py) for a board on ``port``: each clip's
    integers, raising UserError unless they equal the reference board's. ``with_scores`` (an export
    with task heads): clip -> (integers, {head name: int8 logits}), the board's scores frames, which
    must equal the reference board's too."""
    from exporter.boards import reference

    name = f"{PREFIX}{port}"
    session = Session(Link(open_port(port, baud), name), hello_timeout)
    hello = session.hello
    ref = reference.scores_embedder(mode, export_dir) if with_scores else reference.embedder(mode, export_dir)
    if hello.mode != mode:
        raise UserError(f"{name}: the board's validation firmware is built for {hello.mode} mode: "
                        f"run with --mode {hello.mode}, or flash the {mode} build")

    def embed(clip: np.ndarray):
        clip = np.asarray(clip)
        if clip.dtype != np.int16 or clip.ndim != 1:
            raise UserError(f"expected int16 mono PCM, got {clip.dtype} of shape {clip.shape}")
        result = session.embed(clip)
        problem = session.link.corruption()
        if problem:
            raise SerialError(problem)
        if not with_scores:
            return check_clip(name, hello, result, clip.size, ref(clip))
        want_q, want_scores = ref(clip)
        q = check_clip(name, hello, result, clip.size, want_q)
        return q, check_scores(name, session.scores, len(result[0]), want_scores, mode)

    embed.hello = hello
    return embed
