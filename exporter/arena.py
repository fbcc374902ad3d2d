"""Static memory plan of the network's activations: one arena, greedy offsets.

Every int8 tensor of the graph (the int16 log-mel excepted: frames are
quantized straight into the first int8 tensor) is live from the op that
writes it to the last op that reads it; the tap tensors live to the end.
Tensors joined into one *buffer* share memory: an elementwise op (lut, add,
mul_channel) may write over an input that dies there, and a fused activation
writes its conv's output buffer directly. Buffers whose lifetimes overlap get
disjoint byte ranges; offsets are aligned to 4 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALIGN = 4


@dataclass
class Buffer:
    tensors: list[str]
    size: int  # bytes
    first: int  # op index writing the first tensor
    last: int  # last op index reading any tensor
    offset: int = -1

    def overlaps(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class Plan:
    buffers: list[Buffer]
    peak: int  # arena bytes
    offsets: dict[str, int] = field(default_factory=dict)  # tensor -> byte offset


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def lifetimes(
    producers: dict[str, int], readers: dict[str, list[int]], keep_to: int, keep: set[str]
) -> dict[str, tuple[int, int]]:
    """(first, last) op index of each tensor; tensors in ``keep`` live until op ``keep_to``."""
    out = {}
    for name, p in producers.items():
        last = max([p, *readers.get(name, [])])
        out[name] = (p, keep_to if name in keep else last)
    return out


def plan(sizes: dict[str, int], life: dict[str, tuple[int, int]], groups: list[list[str]]) -> Plan:
    """Place buffers (``groups`` of tensors sharing memory; the rest alone) greedily.

    Largest buffer first (ties: earliest first use, then name), each at the lowest
    aligned offset where it overlaps no placed buffer whose lifetime meets its own.
    """
    grouped = {t for g in groups for t in g}
    buffers = [Buffer(list(g), 0, 0, 0) for g in groups] + [Buffer([t], 0, 0, 0) for t in sizes if t not in grouped]
    for b in buffers:
        b.size = _align(max(sizes[t] for t in b.tensors))
        b.first = min(life[t][0] for t in b.tensors)
        b.last = max(life[t][1] for t in b.tensors)
    placed: list[Buffer] = []
    for b in sorted(buffers, key=lambda b: (-b.size, b.first, b.tensors[0])):
        busy = sorted((o.offset, o.offset + o.size) for o in placed if o.overlaps(b))
        offset = 0
        for start, end in busy:
            if offset + b.size <= start:
                break
            offset = max(offset, end)
        b.offset = offset
        placed.append(b)
    peak = max((b.offset + b.size for b in buffers), default=0)
    offsets = {t: b.offset for b in buffers for t in b.tensors}
    return Plan(buffers, peak, offsets)


def check(plan_: Plan) -> None:
    """Raise AssertionError if two buffers with overlapping lifetimes share bytes."""
    bs = plan_.buffers
    for i, a in enumerate(bs):
        assert a.offset % ALIGN == 0, f"{a.tensors} misaligned"
        for b in bs[i + 1 :]:
            if a.overlaps(b):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, f"{a.tensors} and {b.tensors} collide"
