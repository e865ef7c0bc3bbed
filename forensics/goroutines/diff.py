"""Several dumps of one daemon, taken minutes apart: who stayed, who moved, who is proven stuck.

Goroutines are matched by id (ids are never reused while a process lives) and compared by stack
(:func:`.buckets.stack_key`, arguments included, ``fp=``/``sp=`` left out).  A goroutine present in
every dump with the same stack, waiting on the same lock, whose wait grew from the first dump to
the last (``[semacquire]`` then ``[semacquire, 1 minutes]``) is **proven stuck** on that lock; the
same without a lock is *parked*.  A goroutine whose stack changed made progress (a live holder
walking a directory does).  Buckets (arguments ignored) whose size changed are listed as grown or
shrunk.  pprof ``debug=1`` profiles have no goroutine ids: only their buckets are compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from forensics.goroutines.buckets import Bucket, buckets, stack_key, top_function
from forensics.goroutines.locks import analyze_locks
from forensics.model import Dump, Goroutine
from forensics.parse.stacks import stack_of


@dataclass
class Track:
    """One goroutine id followed through the dumps."""

    gid: int
    states: list[str]
    waits: list[int | None]
    top: str
    lock: str | None = None  # the lock it waits on in every dump (stuck) or None


@dataclass
class Growth:
    top: str
    created_by: str | None
    counts: list[int]  # goroutines in the bucket, per dump (0 when absent)


@dataclass
class DumpDiff:
    names: list[str]  # "source:line" of each dump, in the order compared
    matched: int = 0  # ids present in every dump
    stuck: list[Track] = field(default_factory=list)  # same stack, same lock, wait grew
    parked: list[Track] = field(default_factory=list)  # same stack, not a lock, wait grew
    moved: list[Track] = field(default_factory=list)  # same id, stack changed between dumps
    appeared: list[int] = field(default_factory=list)  # ids only in the last dump
    vanished: list[int] = field(default_factory=list)  # ids of the first dump gone from the last
    grew: list[Growth] = field(default_factory=list)
    shrank: list[Growth] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _by_id(dump: Dump) -> dict[int, Goroutine]:
    return {g.id: g for g in dump.goroutines if g.id >= 0 and dump.kind != "pprof-debug1"}


def _grew(waits: list[int | None]) -> bool:
    """The wait never shrank and the last is longer than the first (no minutes = under one)."""
    minutes = [w or 0 for w in waits]
    return all(a <= b for a, b in zip(minutes, minutes[1:])) and minutes[-1] > minutes[0]


def diff(dumps: list[Dump]) -> DumpDiff:
    """Compare dumps of one process, oldest first (sorted by time when every dump has one)."""
    if all(d.time is not None for d in dumps):
        dumps = sorted(dumps, key=lambda d: d.time)
    out = DumpDiff([f"{d.source}:{d.line}" for d in dumps])
    if len(dumps) < 2:
        out.notes.append("one dump: nothing to compare")
        return out
    ids = [_by_id(d) for d in dumps]
    if not ids[0] or not ids[-1]:
        out.notes.append("a pprof debug=1 profile has no goroutine ids: only buckets are compared")
    waits = [
        {w.goroutine: lock.key for lock in analyze_locks(d) for w in lock.waiters} for d in dumps
    ]
    common = set(ids[0]).intersection(*ids[1:]) if ids[0] else set()
    out.matched = len(common)
    for gid in sorted(common):
        seen = [i[gid] for i in ids]
        track = Track(
            gid,
            [g.state for g in seen],
            [g.wait_minutes for g in seen],
            top_function(stack_of(seen[-1]).functions),
        )
        if len({stack_key(stack_of(g)) for g in seen}) > 1:
            out.moved.append(track)
            continue
        locks = {w.get(gid) for w in waits}
        if not _grew(track.waits):
            continue
        if len(locks) == 1 and None not in locks:
            track.lock = locks.pop()
            out.stuck.append(track)
        else:
            out.parked.append(track)
    if ids[0] and ids[-1]:
        out.appeared = sorted(set(ids[-1]) - set(ids[0]))
        out.vanished = sorted(set(ids[0]) - set(ids[-1]))
    _compare_buckets(out, [buckets(d, ignore_args=True) for d in dumps])
    return out


def _compare_buckets(out: DumpDiff, per_dump: list[list[Bucket]]) -> None:
    counts: dict[tuple, list[int]] = {}
    first: dict[tuple, Bucket] = {}
    for i, found in enumerate(per_dump):
        for b in found:
            key = (stack_key(b.stack, ignore_args=True), b.created_by, b.created_at)
            counts.setdefault(key, [0] * len(per_dump))[i] += b.count
            first.setdefault(key, b)
    for key, seen in counts.items():
        if seen[-1] != seen[0]:
            growth = Growth(first[key].top, first[key].created_by, seen)
            (out.grew if seen[-1] > seen[0] else out.shrank).append(growth)
    out.grew.sort(key=lambda g: g.counts[0] - g.counts[-1])
    out.shrank.sort(key=lambda g: g.counts[-1] - g.counts[0])
