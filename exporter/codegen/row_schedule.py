"""Row-streaming schedule of the integer graph: how the device runs it in little memory.

The device does not run the network layer by layer over whole tensors (a 10 s
window would need ~768 KB). Every op instead produces its output one time-row
at a time, as soon as the rows it needs exist; each tensor lives in a ring
buffer of a few rows. Only where the graph has a barrier (an SE gate needs the
mean over the whole window before ``mul_channel`` can use its input) must a
tensor hold all its rows.

This module is the one definition of that schedule. It simulates exactly what
the generated C scheduler does, and from the simulation derives each tensor's
ring capacity (rows) and live interval, from which the arena is planned.

The scheduler (C and here): after each pushed frame, and at the end of the
window, repeat passes over the ops in graph order, each op producing at most
one output row per pass, until a pass makes no progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.quantization.graph import INPUT, Graph, op_inputs

ROW_OPS = ("quantize", "conv2d", "depthwise_conv2d", "lut", "mul_channel", "add")


@dataclass
class TensorPlan:
    name: str
    row_bytes: int  # bytes of one time-row ([F][C] int8, or [128] int16 for the input); pooled: C
    pooled: bool
    capacity: int = 1  # rows held (ring size); pooled tensors: 1
    first_step: int = 0  # scheduler step of the first write
    last_step: int = 0  # scheduler step of the last read

    @property
    def bytes(self) -> int:
        return self.capacity * self.row_bytes


@dataclass
class Schedule:
    tensors: dict[str, TensorPlan]
    steps: int = 0
    order: list[tuple[int, int]] = field(default_factory=list)  # (op index, row) in execution order
    push_ends: list[int] = field(default_factory=list)  # len(order) after each pushed frame's pump


class _Sim:
    """State of one window's execution for ``n_frames`` frames."""

    def __init__(self, graph: Graph, n_frames: int):
        self.g = graph
        self.ops = graph.ops
        self.shapes = graph.shapes(n_frames)
        self.n_frames = n_frames
        self.rows = {name: (s[0] if len(s) == 3 else 1) for name, s in self.shapes.items()}
        self.produced = dict.fromkeys(self.rows, 0)
        self.ended = False  # the end of the window is known (net_end)
        self.next_row = [0] * len(self.ops)  # next output row (pooled ops: 0 or 1)
        self.consumed = [0] * len(self.ops)  # global_avgpool: input rows accumulated
        self.consumers: dict[str, list[int]] = {name: [] for name in self.rows}
        for i, op in enumerate(self.ops):
            for t in op_inputs(op):
                self.consumers[t].append(i)

    def known_rows(self, tensor: str) -> int | None:
        """The tensor's row count, once the end of the window is known."""
        return self.rows[tensor] if self.ended else None

    def complete(self, tensor: str) -> bool:
        return self.ended and self.produced[tensor] == self.rows[tensor]

    def lowest_needed(self, tensor: str, i: int) -> int:
        """Lowest row of ``tensor`` that op ``i`` may still read."""
        op = self.ops[i]
        kind = op["op"]
        if kind == "global_avgpool":
            return self.consumed[i]
        if kind == "mul_channel" and tensor == op["gate"]:
            return 1 if self._op_done(i) else 0
        if kind in ("conv2d", "depthwise_conv2d") and not self._op_done(i):
            return max(0, op["stride"] * self.next_row[i] - op["padding"])
        if kind in ("conv2d", "depthwise_conv2d"):
            return self.rows[tensor]
        return self.next_row[i]  # row-by-row readers; fully_connected: 0 before it runs, 1 after

    def _op_done(self, i: int) -> bool:
        out = self.ops[i]["output"]
        return self.ended and self.next_row[i] >= self.rows[out]

    def can_run(self, i: int) -> bool:
        op = self.ops[i]
        kind = op["op"]
        out = op["output"]
        r = self.next_row[i]
        if kind == "global_avgpool":
            x = op["input"]
            if self.consumed[i] < self.produced[x]:
                return True  # accumulate one more row
            return r == 0 and self.complete(x)
        if kind == "fully_connected":
            return r == 0 and self.produced[op["input"]] == 1
        if self.ended and r >= self.rows[out]:
            return False
        if kind in ("conv2d", "depthwise_conv2d"):
            x = op["input"]
            last = op["stride"] * r - op["padding"] + op["kernel"] - 1
            return self.produced[x] > last or self.complete(x)
        if kind == "mul_channel":
            return self.produced[op["gate"]] == 1 and self.produced[op["input"]] > r
        return all(self.produced[t] > r for t in op_inputs(op))

    def run(self, i: int) -> None:
        op = self.ops[i]
        if op["op"] == "global_avgpool" and self.consumed[i] < self.produced[op["input"]]:
            self.consumed[i] += 1
            return
        self.next_row[i] += 1
        self.produced[op["output"]] += 1

    def low_row(self, tensor: str) -> int:
        """Rows below this one are written and no longer needed by anyone."""
        cons = self.consumers[tensor]
        low = min((self.lowest_needed(tensor, i) for i in cons), default=self.produced[tensor])
        return min(low, self.produced[tensor])

    def live_rows(self, tensor: str) -> int:
        return self.produced[tensor] - self.low_row(tensor)


def simulate(graph: Graph, n_frames: int, plans: dict[str, TensorPlan] | None = None, record: bool = False,
             on_write=None, watch: tuple[str, ...] = ()) -> Schedule:
    """Run the scheduler for one window of ``n_frames`` frames; grow ``plans`` capacities to fit.

    ``on_write(tensor, row, low_before)``, if given, is called after each row an op
    writes, with the lowest still-needed row of each ``watch`` tensor as it was
    before the op ran."""
    sim = _Sim(graph, n_frames)
    if plans is None:
        plans = {}
    for name, shape in sim.shapes.items():
        if name not in plans:
            t = graph.tensors[name]
            pooled = len(shape) == 1
            row = shape[0] if pooled else shape[1] * shape[2] * (2 if t.get("dtype") == "int16" else 1)
            plans[name] = TensorPlan(name, row, pooled, first_step=-1)
    sched = Schedule(plans)
    step = 0

    def touch(name: str) -> None:
        p = plans[name]
        if p.first_step < 0:
            p.first_step = step
        p.last_step = max(p.last_step, step)

    def pump() -> None:
        nonlocal step
        progress = True
        while progress:
            progress = False
            for i, op in enumerate(sim.ops):
                if sim.can_run(i):
                    row = sim.next_row[i]
                    low_before = {t: sim.low_row(t) for t in watch}
                    wrote = sim.produced[op["output"]]
                    sim.run(i)
                    if on_write and sim.produced[op["output"]] > wrote:
                        on_write(op["output"], wrote, low_before)
                    step += 1
                    if record:
                        sched.order.append((i, row))
                    for t in op_inputs(op):
                        touch(t)
                    touch(op["output"])
                    out = op["output"]
                    plans[out].capacity = max(plans[out].capacity, sim.live_rows(out))
                    progress = True

    for _ in range(n_frames):
        sim.produced[INPUT] += 1
        plans[INPUT].capacity = max(plans[INPUT].capacity, sim.live_rows(INPUT))
        touch(INPUT)
        pump()
        if record:
            sched.push_ends.append(len(sched.order))
    sim.ended = True
    pump()
    unfinished = [op["name"] for i, op in enumerate(sim.ops) if not sim._op_done(i) and op["op"] in ROW_OPS]
    if unfinished:
        raise RuntimeError(f"row schedule stalled for T={n_frames}: {unfinished[:3]}")
    sched.steps = step
    return sched


def plan_capacities(graph: Graph, max_frames: int) -> dict[str, TensorPlan]:
    """Ring capacities that hold for every window of 1 .. ``max_frames`` frames.

    Capacities only grow with T until the pipeline reaches its steady state, so
    small windows, the largest one and a few in between cover every case; the C
    scheduler also checks at run time that no ring overflows.
    """
    plans: dict[str, TensorPlan] = {}
    sizes = sorted(set(list(range(1, min(max_frames, 64) + 1)) + [max_frames, max(1, max_frames - 1), max_frames // 2]))
    for t in sizes:
        simulate(graph, t, plans)
    for p in plans.values():
        if not p.pooled:
            full = graph.shapes(max_frames)[p.name][0]
            p.capacity = min(p.capacity, full)
    # lifetimes of the largest window decide the arena
    largest = {k: TensorPlan(v.name, v.row_bytes, v.pooled, first_step=-1) for k, v in plans.items()}
    simulate(graph, max_frames, largest)
    for name, p in plans.items():
        p.first_step, p.last_step = largest[name].first_step, largest[name].last_step
    return plans


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def peak_bytes(plans: dict[str, TensorPlan]) -> int:
    """Sum of the tensors live at the busiest step (a lower bound of the arena)."""
    events = sorted({p.first_step for p in plans.values()})
    return max(sum(p.bytes for p in plans.values() if p.first_step <= s <= p.last_step) for s in events)





def _lifetimes(graph: Graph, n_frames: int) -> dict[str, tuple[int, int]]:
    plans: dict[str, TensorPlan] = {}
    simulate(graph, n_frames, plans)
    return {k: (p.first_step, p.last_step) for k, p in plans.items()}


def _overlay_safe(graph: Graph, sizes: list[int], below: str, above: str, plans: dict[str, TensorPlan]) -> bool:
    """May ``above`` start at the same address as ``below``?

    Both hold whole windows (row r at row offset r, no wrap). It is safe when, in
    every simulated window length, each row ``above`` writes only covers rows of
    ``below`` that were written and released before the writing op ran. Then
    ``below`` never writes there again and nobody reads its old rows: the two
    share memory while one drains and the other fills (SE blocks: B5.dw, B6.dw).
    """
    rb_below, rb_above = plans[below].row_bytes, plans[above].row_bytes
    ok = True

    def check(tensor, row, low_before):
        nonlocal ok
        if tensor != above or not ok:
            return
        last = ((row + 1) * rb_above - 1) // rb_below  # highest row of `below` the write touches
        if last >= low_before[below]:
            ok = False

    for t in sizes:
        simulate(graph, t, on_write=check, watch=(below,))
        if not ok:
            return False
    return True


def plan_arena(graph: Graph, max_frames: int, align: int = 4) -> tuple[dict[str, TensorPlan], dict[str, int], int]:
    """(tensor plans, byte offset of each tensor in the arena, arena size).

    Two tensors may share memory only if their live intervals are disjoint in
    every simulated window length, not just the largest one, or if one may be
    laid over the other row for row (:func:`_overlay_safe`).
    """
    plans = plan_capacities(graph, max_frames)
    names = list(plans)
    check_sizes = sorted({max_frames, max(1, max_frames // 2), 1, 2, 3, min(16, max_frames), min(40, max_frames)})
    spans = [_lifetimes(graph, t) for t in check_sizes]
    conflict = {n: set() for n in names}
    for life in spans:
        for a in names:
            for b in names:
                if a < b and life[a][0] <= life[b][1] and life[b][0] <= life[a][1]:
                    conflict[a].add(b)
                    conflict[b].add(a)

    # Overlay groups: whole-window tensors that fill while an earlier one drains.
    # Largest first, so the biggest savings are taken before smaller tensors use the slots.
    full_rows = graph.shapes(max_frames)
    whole = [n for n in names if not plans[n].pooled and plans[n].capacity == full_rows[n][0] > 1]
    group_of = {n: [n] for n in names}
    for y in sorted(whole, key=lambda n: (-plans[n].bytes, plans[n].first_step)):
        if len(group_of[y]) > 1:
            continue
        for x in sorted(whole, key=lambda n: -plans[n].bytes):
            members = group_of[x]
            if x == y or y in members or plans[y].bytes > max(plans[m].bytes for m in members):
                continue
            clashing = [m for m in members if m in conflict[y]]
            if not clashing or any(plans[m].first_step >= plans[y].first_step
                                   or plans[y].row_bytes > plans[m].row_bytes for m in clashing):
                continue
            if all(_overlay_safe(graph, check_sizes, m, y, plans) for m in clashing):
                members.append(y)
                group_of[y] = members
                break
    groups = {id(g): g for g in group_of.values()}.values()

    def padded(n: str) -> int:
        return ceil_div(plans[n].bytes, align) * align

    units = [(max(padded(n) for n in g), g) for g in groups]
    unit_of = {n: k for k, (_, g) in enumerate(units) for n in g}
    unit_conflict = [{unit_of[c] for n in g for c in conflict[n]} - {k} for k, (_, g) in enumerate(units)]
    unit_off: dict[int, int] = {}
    for k in sorted(range(len(units)), key=lambda k: (-units[k][0], units[k][1][0])):
        size = units[k][0]
        taken = sorted((unit_off[o], unit_off[o] + units[o][0]) for o in unit_conflict[k] if o in unit_off)
        at = 0
        for lo, hi in taken:
            if at + size <= lo:
                break
            at = max(at, hi)
        unit_off[k] = at
    offsets = {n: unit_off[unit_of[n]] for n in names}
    total = max((unit_off[k] + units[k][0] for k in unit_off), default=0)
    return plans, offsets, total
