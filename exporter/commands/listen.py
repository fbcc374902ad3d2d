"""``python -m exporter listen PORT``: decode what a flashed board with a live microphone sends.

The embedder firmware on a real board (docs/boards.md) streams frames over its UART without
being asked: the start-up budget frame, hello, embeddings (and task-head scores), end and error
frames. This prints a line for each, names problems (garbage, lost frames, board errors) in one
line each, and on Ctrl-C, after ``--seconds`` or when the stream ends writes the embeddings
received to ``--out``. PORT is a serial device (/dev/ttyUSB0, /dev/ttyACM0, COM3) or
socket://HOST:PORT (a TCP socket, e.g. a QEMU board's UART: ``-serial tcp:HOST:PORT,server=on``).
"""

from __future__ import annotations

import argparse
import time

from exporter.errors import Terminated, UserError

DEFAULT_BAUD = 460800  # the STM32F4-Discovery's; the nRF52840-DK sends at 1,000,000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("port", metavar="PORT", help="serial device (/dev/ttyUSB0, /dev/ttyACM0, COM3), or socket://HOST:PORT")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                        help="baud rate: 460800 (stm32f4-discovery, the default) or 1000000 (nrf52840-dk)")
    parser.add_argument("--out", metavar="E.npz", default=None,
                        help="write embeddings_q (int16), embeddings (float, with a hello frame), timestamps_ms, "
                             "seq, received_s, top_class (task heads), errors, problems and the budget's fields")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")


def open_port(port: str, baud: int):
    if port.startswith("socket://"):
        from exporter.boards.listener import SocketPort

        host, _, number = port[len("socket://"):].rpartition(":")
        try:
            return SocketPort(host or "localhost", int(number))
        except ValueError:
            raise UserError(f"cannot open {port}: expected socket://HOST:PORT") from None
        except OSError as e:
            raise UserError(f"cannot open {port}: {e.strerror or e}") from None
    from exporter.boards.serial import open_port as open_serial

    return open_serial(port, baud, timeout=0.1, write_timeout=None)  # listen only reads


def run(args: argparse.Namespace) -> int:
    import sys

    from exporter.boards import uart_protocol as up
    from exporter.boards.listener import Listener
    from exporter.outputs import check_out_file, write_npz

    if args.seconds is not None and args.seconds <= 0:
        raise UserError(f"--seconds must be positive, got {args.seconds}")
    if args.baud <= 0:
        raise UserError(f"--baud must be positive, got {args.baud}")
    out = check_out_file(args.out) if args.out else None  # before listening
    port = open_port(args.port, args.baud)
    lst = Listener(port, args.port, say=lambda s: print(s, flush=True),
                   problem=lambda s: print(s, file=sys.stderr, flush=True))
    rc = 0
    stopped, interrupted = "stopped", True  # interrupted: by the user, not by the stream's end
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                lst.poll()
            except OSError as e:  # pyserial's SerialException is an OSError
                # the board's stream ended: QEMU exited, a USB adapter was unplugged, ...
                interrupted = False
                if lst.last_type == up.END:  # a finished stream (a scene clip, or the clip of a QEMU board)
                    stopped = "the board's stream ended"
                else:
                    lst.problem(f"the port closed ({e}): board unplugged or reset?")
                    rc = 1
                break
        else:
            stopped = f"{args.seconds:g} s"
    except Terminated as e:
        rc, stopped = 128 + e.signum, "terminated"
    except KeyboardInterrupt:
        stopped = "Ctrl-C"
    finally:
        port.close()
    lst.finish(interrupted)
    n = len(lst.got.embeddings_q)
    print(f"{args.port}: {stopped}; {lst.frames} frames, {n} embeddings"
          + (f" -> {out}" if out else ""), file=sys.stderr)
    if out:
        write_npz(out, **lst.arrays())
    return rc
