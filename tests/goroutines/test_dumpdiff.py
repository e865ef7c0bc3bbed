"""Several dumps of one process: the live-holder daemon (two SIGUSR1 files 52 s apart) and a Go
program dumped at 1 s, 65 s and 130 s (tests/fixtures/dumps/go-runtime/go1.22)."""

from __future__ import annotations

from pathlib import Path

from conftest import FIXTURES

from forensics.goroutines.diff import diff
from forensics.parse.fastdump import parse_text

LIVE = FIXTURES / "captured" / "live-holder-20.10"
GO = FIXTURES / "dumps" / "go-runtime" / "go1.22"


def dumps(*paths: Path):
    return [parse_text(p.read_text(encoding="utf-8"), p.name)[0] for p in paths]


def test_live_holder_waiters_are_proven_stuck_and_the_holder_moved():
    dd = diff(
        dumps(
            LIVE / "goroutine-stacks-2026-11-29T125823Z.log",
            LIVE / "goroutine-stacks-2026-11-29T125915Z.log",
        )
    )
    assert dd.matched == 47 and dd.appeared == [] and dd.vanished == []
    assert [(t.gid, t.lock, t.waits, t.states) for t in dd.stuck] == [
        (gid, "0xc00013c600", [None, 1], ["semacquire", "semacquire"])
        for gid in (237, 240, 246, 249, 252)
    ]
    assert [(t.gid, t.states) for t in dd.moved] == [
        (245, ["syscall", "runnable"])
    ]  # the walk progresses
    assert all(t.lock is None for t in dd.parked) and {t.gid for t in dd.parked} >= {236, 239, 51}


def test_three_snapshots_of_a_go_program():
    dd = diff(
        dumps(
            GO / "goroutine-stacks-0.log",
            GO / "goroutine-stacks-1.log",
            GO / "goroutine-stacks-2.log",
        )
    )
    stuck = {t.gid: t for t in dd.stuck}
    assert sorted(stuck) == [
        2,
        3,
        4,
        5,
        6,
        7,
        21,
        22,
    ]  # readers, writer, the leaked lock's two waiters, the deadlock
    assert {tuple(t.waits) for t in stuck.values()} == {(None, 1, 2)}
    assert stuck[21].lock == "0xc00009c020" and stuck[22].lock == "0xc00009c010"
    assert len({t.lock for t in stuck.values()}) == 4
    assert dd.vanished == [15] and dd.appeared == [
        35
    ]  # a select that ends at 30 s / a goroutine started at 40 s
    moved = {t.gid: t.states for t in dd.moved}
    assert moved == {
        1: ["running", "running", "running"],
        16: ["sleep", "select (no cases)", "select (no cases)"],
    }
    assert [g.counts for g in dd.grew if g.top == "main.waitOn[...]"] == [[0, 1, 1]]
    assert [g.counts for g in dd.shrank if g.top == "main.main.func5"] == [[1, 0, 0]]


def test_order_by_time_and_single_dump():
    late, early = dumps(
        LIVE / "goroutine-stacks-2026-11-29T125915Z.log",
        LIVE / "goroutine-stacks-2026-11-29T125823Z.log",
    )
    from datetime import datetime, timezone

    late.time, early.time = (
        datetime(2026, 11, 29, 12, 59, 15, tzinfo=timezone.utc),
        datetime(2026, 11, 29, 12, 58, 23, tzinfo=timezone.utc),
    )
    dd = diff([late, early])
    assert dd.names[0].startswith("goroutine-stacks-2026-11-29T125823Z.log") and len(dd.stuck) == 5
    assert diff([early]).notes == ["one dump: nothing to compare"]


def test_pprof_debug1_profiles_compare_buckets_only():
    dd = diff(dumps(LIVE / "pprof-goroutine-debug1.txt", LIVE / "pprof-goroutine-debug1.txt"))
    assert (
        dd.matched == 0 and dd.stuck == [] and dd.grew == [] and "no goroutine ids" in dd.notes[0]
    )
