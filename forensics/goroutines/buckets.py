"""Goroutines grouped by stack, panicparse's view sorted for a hang: longest waits, largest groups.

Two goroutines share a bucket when they print the same frames (function, arguments, file:line)
and were created by the same ``go`` statement; the creating goroutine's id and the per-goroutine
``fp= sp= pc=`` words are not part of the identity.  ``ignore_args=True`` also forgets the
arguments, so handlers of different requests parked at the same line share a bucket.  A pprof
``debug=1`` group counts for its ``weight`` goroutines.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field
from operator import attrgetter

from forensics.model import Dump, Frame, Goroutine
from forensics.parse.stacks import Block, Stack, groups, in_order

FRAME_POINTERS = re.compile(r" fp=0x[0-9a-f]+ sp=0x[0-9a-f]+(?: pc=0x[0-9a-f]+)?")
ARGS = re.compile(
    r"\([^\n]*\)\n(?=\t)"
)  # the argument list of a function line (a file line follows)
# Frames that say how a goroutine waits or panics, not where it is: the runtime, sync, the standard
# library's internal/ packages, panic(), and net/http's recover around a handler (serve.func1).
NOT_TOP = ("runtime.", "sync.", "internal/", "panic", "net/http.(*conn).serve.func")
_HEAD_WEIGHT = attrgetter("head", "weight")


@dataclass(slots=True)
class Bucket:
    """Goroutines with one stack; read its figures once every member is in (count and waits are
    cached: a dump of goroutines that share no argument text has about one bucket per goroutine)."""

    stack: Stack  # the first member's stack (its arguments shown)
    created_by: str | None
    created_at: str | None  # "file:line" of the go statement
    goroutines: list[Goroutine] = field(default_factory=list)
    _count: int | None = field(default=None, init=False, repr=False, compare=False)
    _waits: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def heads(self) -> Counter:
        """How many members have each ((state, wait_minutes, locked_to_thread), weight), in order of
        appearance: every figure below from one pass over the members."""
        return Counter(map(_HEAD_WEIGHT, self.goroutines))

    def _tally(self) -> None:
        if (
            len(self.goroutines) == 1
        ):  # the usual bucket of a dump whose goroutines share no arguments
            g = self.goroutines[0]
            self._count, self._waits = (
                g.weight,
                (g.wait_minutes, g.wait_minutes) if g.wait_minutes is not None else (None, None),
            )
            return
        heads = self.heads
        self._count = sum(weight * n for (_, weight), n in heads.items())
        minutes = [m for (_, m, _), _ in heads if m is not None]
        self._waits = (min(minutes), max(minutes)) if minutes else (None, None)

    @property
    def count(self) -> int:
        if self._count is None:
            self._tally()
        return self._count

    @property
    def states(self) -> dict[str, int]:
        found: Counter = Counter()
        for ((state, _, _), _), n in self.heads.items():
            found[state] += n
        return dict(found.most_common())

    @property
    def waits(self) -> tuple[int | None, int | None]:
        """(shortest, longest) wait in minutes; None when no member prints one."""
        if self._waits is None:
            self._tally()
        return self._waits

    @property
    def locked(self) -> int:
        return sum(n for ((_, _, locked), _), n in self.heads.items() if locked)

    @property
    def top(self) -> str:
        return top_function(self.stack.functions)

    def header(self) -> str:
        """``3 [sync.Mutex.Lock, 5-9 minutes, locked]`` plus the creator, as the -m/-f filters see it."""
        low, high = self.waits
        parts = [", ".join(self.states)]
        if high is not None:
            parts.append(f"{low} minutes" if low == high else f"{low}-{high} minutes")
        if self.locked:
            parts.append("locked to thread")
        created = f" created by {self.created_by}" if self.created_by else ""
        return f"{self.count} [{', '.join(parts)}]{created}"


def top_function(functions) -> str:
    """Where a goroutine is: its first function outside :data:`NOT_TOP` (the first function when
    every one is; "" for no frame).  The one definition for buckets, dump diffs and the evidence."""
    return next(
        (f for f in functions if not f.startswith(NOT_TOP)), functions[0] if functions else ""
    )


def own_frames(frames: list[Frame]) -> list[Frame]:
    """Where a panic was raised, outermost last: the frames below the last ``panic(...)`` call that
    are not :data:`NOT_TOP` (a deferred function that runs while the goroutine panics, such as a
    tracing span's End or a recover that re-panics, sits above a second ``panic`` frame); every
    frame not :data:`NOT_TOP` when no such frame follows a panic."""
    start = 0
    for i, f in enumerate(frames):
        if f.func in ("panic", "runtime.gopanic"):
            start = i + 1
    own = [f for f in frames[start:] if not f.func.startswith(NOT_TOP)]
    return own or [f for f in frames if not f.func.startswith(NOT_TOP)]


def first_own_frame(frames: list[Frame]) -> Frame | None:
    """Where a panic was raised: the first of :func:`own_frames`."""
    return next(iter(own_frames(frames)), None)


def stack_key(stack: Stack, ignore_args: bool = False) -> tuple[str, str] | str:
    """What two goroutines must share to be in one bucket: the frame text without ``fp= sp=`` words
    (as its shape's text and the argument text), or without arguments either."""
    shape = stack.shape
    name = "loose" if ignore_args else "exact"
    key = shape.cache.get(name)
    if key is None:
        key = shape.text
        key = FRAME_POINTERS.sub("", key) if " fp=" in key else key
        if ignore_args:
            key = ARGS.sub("\n", key)
        shape.cache[name] = key
    return key if ignore_args else (key, stack.args)


def buckets(
    dump: Dump,
    ignore_args: bool = False,
    grouped: dict[Block, list[Goroutine]] | None = None,
    waiting: Container[int] = (),
) -> list[Bucket]:
    """The dump's goroutines by stack, longest wait first, then largest, then first seen; buckets
    whose first goroutine is in ``waiting`` (lock waiters' ids) before the others.  The one grouping
    of ``forensics dump``, the report and ``analyze --json`` (``grouped``: the dump's
    :func:`~forensics.parse.stacks.groups`, when already at hand)."""
    found: dict[tuple, list] = {}  # (shape text, creator) -> its group (below)
    order: list[Bucket] = []  # in order of first appearance
    merged: dict[int, Bucket] = {}
    places: dict[tuple, str] = {}
    seen: dict[tuple, list] = {}  # (Shape, creator) -> [file:line, args -> bucket, buckets]
    for block, members in (grouped if grouped is not None else groups(dump.goroutines)).items():
        stack = block.stack
        creator = (stack.shape, block.created_by, block.created_file, block.created_lineno)
        group = seen.get(creator)  # one lookup per block: a dump may have a bucket per goroutine
        if group is None:
            at = places.get((block.created_file, block.created_lineno))
            if at is None and block.created_file:  # one string per place
                at = places[block.created_file, block.created_lineno] = (
                    f"{block.created_file}:{block.created_lineno}"
                )
            shape = stack_key(stack, True) if ignore_args else stack_key(stack)[0]
            group = found.get((shape, block.created_by, at))
            if group is None:
                group = found[shape, block.created_by, at] = [at, {} if ignore_args else None, []]
            elif group[1] is None:  # a second (Shape, creator) prints alike: by arguments now
                group[1] = {b.stack.args: b for b in group[2]}
            seen[creator] = group
        same = group[1]
        if same is None:  # blocks of one Shape and creator differ by their arguments: no lookup
            bucket = Bucket(stack, block.created_by, group[0], members)
            order.append(bucket)
            group[2].append(bucket)
            continue
        args = None if ignore_args else stack.args  # no key tuple per bucket
        bucket = same.get(args)
        if bucket is None:  # the grouped list itself: copied only when another block joins it
            bucket = same[args] = Bucket(stack, block.created_by, group[0], members)
            order.append(bucket)
        else:
            if id(bucket) not in merged:
                bucket.goroutines = list(bucket.goroutines)
            bucket.goroutines += members
            merged[id(bucket)] = bucket
    for bucket in merged.values():  # gathered from several blocks: back in the dump's order
        bucket.goroutines = in_order(bucket.goroutines)
    order.sort(key=functools.partial(_rank, waiting))
    return order


def _rank(waiting: Container[int], b: Bucket) -> tuple[bool, int, int]:
    """The sort key of :func:`buckets`: lock waiters first, then longest wait, then largest; read
    off the slots, the figures tallied once (a dump may have a bucket per goroutine)."""
    if b._waits is None:
        b._tally()
    high = b._waits[1]
    return b.goroutines[0].id not in waiting, 1 if high is None else -high, -b._count


def select(
    found: list[Bucket],
    match: str | None = None,
    exclude: str | None = None,
    min_wait: int | None = None,
) -> list[Bucket]:
    """panicparse's ``-m`` / ``-f`` (regexes searched in the header and the function names)
    and a minimum wait in minutes."""
    keep = re.compile(match) if match else None
    drop = re.compile(exclude) if exclude else None
    if not keep and not drop and min_wait is None:  # no filter: a bucket per goroutine is common
        return list(found)
    out = []
    for b in found:
        text = b.header() + "\n" + "\n".join(b.stack.functions) if keep or drop else ""
        if keep and not keep.search(text) or drop and drop.search(text):
            continue
        if min_wait is not None and (b.waits[1] is None or b.waits[1] < min_wait):
            continue
        out.append(b)
    return out
