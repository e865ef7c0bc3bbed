"""Buckets on real dumps: the 49227 reproduction, pprof debug=1 and real Go programs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import FIXTURES, forensics

from forensics.goroutines.buckets import buckets, select
from forensics.goroutines.locks import analyze_locks
from forensics.parse.fastdump import parse_text
from forensics.parse.stacks import groups

DUMPS = FIXTURES / "dumps"
REPRO = DUMPS / "repro-49227" / "02-delay-build-panic-text-log"
GO = DUMPS / "go-runtime"
INSPECT = "github.com/docker/docker/daemon.(*Daemon).ContainerInspectCurrent"


def dump(path: Path):
    return parse_text(path.read_text(encoding="utf-8"), path.name)[-1]


def test_identical_stacks_share_a_bucket_and_arguments_split_them():
    d = dump(REPRO / "goroutine-stacks-2026-11-29T122857Z.log")
    exact = buckets(d)
    assert sum(b.count for b in exact) == len(d.goroutines) == 42
    inspect = [b for b in exact if b.top == INSPECT]
    assert sorted([g.id for g in b.goroutines] for b in inspect) == [
        [152],
        [164],
    ]  # different request contexts
    [loose] = [b for b in buckets(d, ignore_args=True) if b.top == INSPECT]
    assert sorted(g.id for g in loose.goroutines) == [152, 164] and loose.states == {
        "sync.Mutex.Lock": 2
    }
    assert (loose.created_by, loose.created_at.rsplit("/", 1)[-1]) == (
        "net/http.(*Server).Serve",
        "server.go:3290",
    )
    assert loose.header() == "2 [sync.Mutex.Lock] created by net/http.(*Server).Serve"
    for b in exact + buckets(
        d, ignore_args=True
    ):  # members gathered from several stacks stay in the dump's order
        assert [g.line for g in b.goroutines] == sorted(g.line for g in b.goroutines)


def test_pprof_debug1_groups_count_their_weight():
    d = dump(REPRO / "pprof-goroutine-debug1.txt")
    found = buckets(d)
    assert sum(b.count for b in found) == 44 and len(found) == 31
    [inspect] = [b for b in found if b.top == INSPECT]
    assert inspect.count == 2 and len(inspect.goroutines) == 1


def test_sorted_longest_wait_first_then_largest():
    d = dump(GO / "go1.22" / "goroutine-stacks-2.log")
    found = buckets(d, ignore_args=True)
    waits = [b.waits[1] if b.waits[1] is not None else -1 for b in found]
    assert waits == sorted(waits, reverse=True) and waits[0] == 2 and waits[-1] == -1
    twos = [b.count for b in found if b.waits[1] == 2]
    assert twos == sorted(twos, reverse=True) and twos[0] == 3  # the three RLock readers
    assert found[0].header() == "3 [sync.RWMutex.RLock, 2 minutes] created by main.main"


@pytest.mark.parametrize("ignore_args", [False, True])
@pytest.mark.parametrize(
    "path", [GO / "go1.22" / "sigquit-stderr.txt", REPRO / "pprof-goroutine-debug2.txt"]
)
def test_lock_waiters_first_then_longest_wait_then_largest_then_first_seen(path, ignore_args):
    """The order of ``forensics dump``: buckets of lock waiters first, then the longest wait (no
    wait printed last), then the most goroutines, ties in order of first appearance."""
    d = dump(path)
    grouped = groups(d.goroutines)
    waiting = {w.goroutine: lock.key for lock in analyze_locks(d, grouped) for w in lock.waiters}
    found = buckets(d, ignore_args, grouped, waiting)
    first_seen = sorted(found, key=lambda b: b.goroutines[0].line)
    expected = sorted(
        first_seen,
        key=lambda b: (
            b.goroutines[0].id not in waiting,
            1 if b.waits[1] is None else -b.waits[1],
            -len(b.goroutines),
        ),
    )
    assert [b.goroutines[0].id for b in found] == [b.goroutines[0].id for b in expected]
    assert found[0].goroutines[0].id in waiting and found[-1].waits[1] is None
    assert any(b.goroutines[0].id not in waiting and b.waits[1] for b in found)


def test_one_shape_with_several_creators_is_bucketed_per_creator():
    """Buckets are found once per (shape, creator): a shape met again under another ``go`` statement
    gets that creator's buckets, under its creator's parent id alone it gets the same ones."""
    text = (REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_text(encoding="utf-8")
    [block] = [b for b in text.split("\n\n") if "ContainerInspectCurrent(" in b][:1]
    copies = [block.replace(block.split()[1], str(9000 + i), 1) for i in range(4)]
    copies[1] = re.sub(r" in goroutine \d+", " in goroutine 77", copies[1])  # same go statement
    copies[2] = re.sub(r"(server\.go:)\d+", r"\g<1>1", copies[2])  # another go statement
    copies[3] = copies[3].replace("created by net/http.(*Server).Serve", "created by main.other")
    d = parse_text("\n\n".join(copies) + "\n")[-1]
    found = {
        (b.created_by, b.created_at.rsplit("/", 1)[-1]): [g.id for g in b.goroutines]
        for b in buckets(d)
    }
    assert found == {
        ("net/http.(*Server).Serve", "server.go:3290"): [9000, 9001],
        ("net/http.(*Server).Serve", "server.go:1"): [9002],
        ("main.other", "server.go:3290"): [9003],
    }


def test_frame_pointers_do_not_split_buckets():
    """GOTRACEBACK=system prints fp= sp= pc= per goroutine; the three readers are still one stack."""
    d = dump(GO / "go1.22" / "sigquit-stderr-gotraceback-system.txt")
    readers = [b for b in buckets(d, ignore_args=True) if b.top == "main.(*store).get"]
    assert [b.count for b in readers] == [3]
    text = (GO / "go1.22" / "sigquit-stderr-gotraceback-system.txt").read_text()
    assert (
        len(set(re.findall(r"main\.go:47 \+0x\w+ fp=(0x\w+)", text))) == 3
    )  # they do differ in the text


def test_locked_and_minutes_in_header():
    found = buckets(dump(GO / "go1.19" / "goroutine-stacks-2.log"))
    [locked] = [b for b in found if b.locked]
    assert (
        locked.header() == "1 [select (no cases), 2 minutes, locked to thread] created by main.main"
    )


def test_filters_like_panicparse():
    found = buckets(dump(REPRO / "goroutine-stacks-2026-11-29T122857Z.log"), ignore_args=True)
    locked = select(found, match=r"sync\.Mutex\.Lock")
    assert sorted(b.top.rsplit(".", 1)[-1] for b in locked) == [
        "ContainerInspectCurrent",
        "cleanupContainer",
    ]
    by_function = select(found, match=r"cleanupContainer")
    assert [b.count for b in by_function] == [1]
    assert len(select(found, exclude=r"IO wait|select|chan receive")) == len(
        [b for b in found if not {"IO wait", "select", "chan receive"} & set(b.states)]
    )
    go = buckets(dump(GO / "go1.21" / "goroutine-stacks-2.log"))
    assert sum(b.count for b in select(go, min_wait=2)) == 16 and select(go, min_wait=3) == []


@pytest.mark.parametrize(
    "path",
    [
        DUMPS / "real-dockerd" / "goroutine-stacks-sigusr1.log",  # SIGUSR1 file of a real dockerd
        REPRO / "pprof-goroutine-debug2.txt",
        REPRO / "dockerd-stderr-after-sigquit.txt",  # SIGQUIT output among log lines
    ],
)
def test_dump_and_analyze_make_the_same_buckets(path: Path):
    """One grouping: `forensics dump --json` and the report of `forensics analyze --json` list the
    same buckets (count, top function, first goroutine) for the same dump."""

    def run(*args):
        proc = forensics(*args, path, "--json", "-")
        assert proc.returncode in (0, 1), proc.stderr
        return json.loads(proc.stdout)

    [dumped] = [d for d in run("dump", "--top", "0")["dumps"] if d["kind"] != "panic"]
    [reported] = run("analyze")["goroutines"]
    assert len(dumped["buckets"]) == dumped["buckets_total"] > 10
    assert len(reported["buckets"]) + reported["omitted"] == dumped["buckets_total"]
    assert reported["goroutines"] == dumped["goroutines"]
    shown = len(reported["buckets"])
    assert [(b["count"], b["top"], b["gids"][0]) for b in reported["buckets"]] == [
        (b["count"], b["top"], b["ids"][0]) for b in dumped["buckets"][:shown]
    ]


def test_frame_pointers_do_not_split_exact_buckets_and_arguments_still_do():
    """Goroutines whose frames differ only in fp= sp= pc= words have shapes of their own that print
    alike: one bucket for the same arguments, wherever in the dump they come, another for others."""
    one = (
        "goroutine {} [select]:\nmain.f({})\n\t/x/m.go:1 +0x1 fp=0xc00001{} sp=0xc00001{} pc=0x1\n"
        "created by main.main in goroutine 3\n\t/x/m.go:9 +0x2\n"
    )
    text = "\n".join(
        one.format(gid, args, fp, fp)
        for gid, args, fp in [
            (1, "0x1", "000"),
            (2, "0x2", "100"),
            (3, "0x1", "200"),
            (4, "0x1", "000"),
        ]
    )
    [d] = parse_text(text)
    assert len({id(g.stack.shape) for g in d.goroutines}) == 3  # three fp= words, three shapes
    assert [([g.id for g in b.goroutines], b.stack.args) for b in buckets(d)] == [
        ([1, 3, 4], "0x1"),
        ([2], "0x2"),
    ]
