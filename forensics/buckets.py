"""Goroutines grouped by stack, panicparse's view sorted for a hang: longest waits, largest groups.

Two goroutines share a bucket when they print the same frames (function, arguments, file:line)
and were created by the same ``go`` statement; the creating goroutine's id and the per-goroutine
``fp= sp= pc=`` words are not part of the identity.  ``ignore_args=True`` also forgets the
arguments, so handlers of different requests parked at the same line share a bucket.  A pprof
``debug=1`` group counts for its ``weight`` goroutines.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from .model import Dump, Goroutine
from .parsers.fastdump import Stack, stack_of

FRAME_POINTERS = re.compile(r" fp=0x[0-9a-f]+ sp=0x[0-9a-f]+(?: pc=0x[0-9a-f]+)?")
ARGS = re.compile(r"\([^\n]*\)\n(?=\t)")  # the argument list of a function line (a file line follows)
NOT_TOP = ("runtime.", "sync.", "internal/", "panic")


@dataclass
class Bucket:
    """Goroutines with one stack; read its figures once every member is in (they are cached)."""

    stack: Stack  # the first member's stack (its arguments shown)
    created_by: str | None
    created_at: str | None  # "file:line" of the go statement
    goroutines: list[Goroutine] = field(default_factory=list)

    @cached_property
    def count(self) -> int:
        return sum(g.weight for g in self.goroutines)

    @cached_property
    def states(self) -> dict[str, int]:
        return dict(Counter(g.state for g in self.goroutines).most_common())

    @cached_property
    def waits(self) -> tuple[int | None, int | None]:
        """(shortest, longest) wait in minutes; None when no member prints one."""
        minutes = [g.wait_minutes for g in self.goroutines if g.wait_minutes is not None]
        return (min(minutes), max(minutes)) if minutes else (None, None)

    @cached_property
    def locked(self) -> int:
        return sum(g.locked_to_thread for g in self.goroutines)

    @property
    def top(self) -> str:
        """The first function that is not the runtime's or sync's: where the goroutines are."""
        functions = self.stack.functions
        return next((f for f in functions if not f.startswith(NOT_TOP)), functions[0] if functions else "")

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


def stack_key(stack: Stack, ignore_args: bool = False) -> str:
    """The text two goroutines must share to be in one bucket."""
    name = "loose" if ignore_args else "exact"
    key = stack.cache.get(name)
    if key is None:
        key = stack.frame_text
        key = FRAME_POINTERS.sub("", key) if " fp=" in key else key
        if ignore_args:
            key = ARGS.sub("\n", key)
        stack.cache[name] = key
    return key


def buckets(dump: Dump, ignore_args: bool = False) -> list[Bucket]:
    """The dump's goroutines by stack, longest wait first, then largest, then first seen."""
    found: dict[tuple, Bucket] = {}
    shared: dict[str, Stack] = {}
    for g in dump.goroutines:
        stack = stack_of(g, shared)
        at = f"{g.created_file}:{g.created_lineno}" if g.created_file else None
        key = (stack_key(stack, ignore_args), g.created_by, at)
        bucket = found.get(key)
        if bucket is None:
            bucket = found[key] = Bucket(stack, g.created_by, at)
        bucket.goroutines.append(g)
    order = list(found.values())
    order.sort(key=lambda b: (-(b.waits[1] if b.waits[1] is not None else -1), -b.count))
    return order


def select(found: list[Bucket], match: str | None = None, exclude: str | None = None,
           min_wait: int | None = None) -> list[Bucket]:
    """panicparse's ``-m`` / ``-f`` (regexes searched in the header and the function names)
    and a minimum wait in minutes."""
    keep = re.compile(match) if match else None
    drop = re.compile(exclude) if exclude else None
    out = []
    for b in found:
        text = b.header() + "\n" + "\n".join(b.stack.functions)
        if keep and not keep.search(text) or drop and drop.search(text):
            continue
        if min_wait is not None and (b.waits[1] is None or b.waits[1] < min_wait):
            continue
        out.append(b)
    return out
