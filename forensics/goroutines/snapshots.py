"""Dumps that show one moment of one process: the SIGQUIT output, the same dump inside the
daemon log, a SIGUSR1 file and pprof ``debug=2``/``debug=1`` taken within seconds of each other.

Two dumps are views of one snapshot when
  * their times, where both are known, are at most :data:`SECONDS_APART` apart, and
  * with goroutine ids on both sides: most goroutines of the smaller dump are in the other
    (:data:`SHARED`), and the shared goroutines show the same state and the same wait minutes
    (a minute may tick over between two views); dumps minutes apart differ in the wait minutes
    of every long waiter, and are what proves that a wait persists, so they stay apart;
  * with a pprof ``debug=1`` profile (groups, no ids, no states): most of its goroutines have a
    stack (first and last function of the program's own code) with as many goroutines in the other
    dump.  A profile never bridges two dumps with ids.
Panic traces are not snapshots.  Each dump joins the first snapshot one of whose dumps it matches.
"""

from __future__ import annotations

from collections import Counter

from forensics.model import Dump

SECONDS_APART = 15
SHARED = 0.8  # share of the smaller dump's goroutines (or stacks) found in the other
SAME = 0.9  # share of the shared goroutines whose state and wait agree


def _heads(d: Dump) -> dict[int, tuple[str, int | None]]:
    return {g.id: (g.state, g.wait_minutes) for g in d.goroutines if g.id >= 0}


def _stacks(d: Dump) -> Counter:
    """Distinct stacks by the functions of their own code: the first and last frames outside the runtime
    and Go's ``gowrap`` shims (SIGQUIT output, pprof debug=2 and debug=1 print those differently)."""
    out: Counter = Counter()
    for g in d.goroutines:
        own = [
            f
            for f in g.functions
            if not f.startswith(("runtime.", "internal/", "sync.")) and ".gowrap" not in f
        ]
        out[(own[0], own[-1]) if own else ()] += g.weight
    return out


def _apart(a: Dump, b: Dump) -> bool:
    return (
        a.time is not None
        and b.time is not None
        and abs((a.time - b.time).total_seconds()) > SECONDS_APART
    )


def _waits_agree(x: int | None, y: int | None) -> bool:
    """Wait minutes of one goroutine in two views: equal, a minute ticked over, or one side not yet
    counted (the runtime stamps waits in bulk at a GC, so 'none' next to '1' is seconds apart too)."""
    if x is None or y is None:
        return (x or 0) <= 1 and (y or 0) <= 1
    return abs(x - y) <= 1


def likeness(a: Dump, b: Dump) -> float:
    """0 (not one moment) .. 1 (every shared goroutine alike): how alike two views are."""
    if _apart(a, b):
        return 0.0
    if "pprof-debug1" in (a.kind, b.kind):
        sa, sb = _stacks(a), _stacks(b)  # goroutines per stack: the profile's counts
        least = min(sa.total(), sb.total())
        shared = (sa & sb).total()
        return shared / least if least and shared >= SHARED * least else 0.0
    ha, hb = _heads(a), _heads(b)
    shared = ha.keys() & hb.keys()
    if not shared or len(shared) < SHARED * min(len(ha), len(hb)):
        return 0.0
    agree = sum(ha[g][0] == hb[g][0] and _waits_agree(ha[g][1], hb[g][1]) for g in shared) / len(
        shared
    )
    exact = sum(ha[g] == hb[g] for g in shared) / len(
        shared
    )  # prefers the view with the same wait stamps
    return 0.0 if agree < SAME else (agree + exact) / 2


def same_moment(a: Dump, b: Dump) -> bool:
    """True when ``a`` and ``b`` are two views of one moment of one process."""
    return likeness(a, b) > 0


def _compared(snapshot: list[int], dumps: list[Dump], d: Dump) -> list[int]:
    """The members ``d`` is compared with: a dump with goroutine ids is compared with the members with ids,
    when there are any (a profile's stacks match any moment of an idle daemon: no bridge through them)."""
    if d.kind == "pprof-debug1":
        return snapshot
    with_ids = [j for j in snapshot if dumps[j].kind != "pprof-debug1"]
    return with_ids or snapshot


def group(dumps: list[Dump]) -> list[list[int]]:
    """Set ``Dump.snapshot`` on every dump of goroutines (not single-goroutine panic traces); returns
    the snapshots as lists of dump indexes.  A dump joins the snapshot it is most like, and only one
    none of whose dumps is known to be more than :data:`SECONDS_APART` away."""
    snapshots: list[list[int]] = []
    for i, d in enumerate(dumps):
        if d.kind == "panic" and len(d.goroutines) < 2:
            continue
        scores = [
            (max(likeness(dumps[j], d) for j in _compared(s, dumps, d)), n)
            for n, s in enumerate(snapshots)
            if not any(_apart(dumps[j], d) for j in s)
        ]
        best = max(
            scores, key=lambda s: (s[0], -s[1]), default=(0.0, None)
        )  # a tie: the earlier snapshot
        if best[0] > 0:
            snapshots[best[1]].append(i)
        else:
            snapshots.append([i])
        d.snapshot = best[1] if best[0] > 0 else len(snapshots) - 1
    return snapshots
