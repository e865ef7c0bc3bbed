"""Lock wait analysis on the real moby#49227 reproduction, the healthy daemons and domain.md forms."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.goroutines.locks import (
    HEAP_WORD,
    _carries,
    _marks,
    _scan,
    _words,
    analyze_locks,
    deadlock_cycles,
    lock_wait,
    other_waits,
)
from forensics.goroutines.lockwaits import WORD
from forensics.model import Dump
from forensics.parse.fastdump import parse_text
from forensics.parse.goroutines import parse_dumps

DUMPS = FIXTURES / "dumps"
REAL = DUMPS / "real-dockerd"
REPRO = DUMPS / "repro-49227" / "02-delay-build-panic-text-log"
CONTROL = DUMPS / "repro-49227" / "06-control-unmodified-no-panic"
INSPECT = "github.com/docker/docker/daemon.(*Daemon).ContainerInspectCurrent"
CLEANUP = "github.com/docker/docker/daemon.(*Daemon).cleanupContainer"


def dumps_of(path: Path) -> list[Dump]:
    return parse_dumps(path.read_text(encoding="utf-8"), path.name)


def stack_dump(path: Path) -> Dump:
    return next(d for d in dumps_of(path) if d.kind != "panic")


@pytest.mark.parametrize(
    "path",
    [
        REPRO / "goroutine-stacks-2026-11-29T122857Z.log",
        REPRO / "pprof-goroutine-debug2.txt",
        REPRO
        / "dockerd-stderr-after-sigquit.txt",  # runtime.gopark / semacquire1 above the sync frames
        REPRO / "dockerd.log",  # the same SIGQUIT dump inside the daemon log
    ],
)
def test_leaked_container_mutex_is_orphaned(path):
    [lock] = analyze_locks(stack_dump(path))
    assert (lock.key, lock.kind, lock.status, lock.holders) == (
        "0xc00026a180",
        "mutex",
        "orphaned",
        [],
    )
    waiters = sorted(
        (w.goroutine, w.site, w.site_file.rsplit("/", 2)[-2:], w.site_line) for w in lock.waiters
    )
    assert waiters == [
        (127, CLEANUP, ["daemon", "delete.go"], 166),
        (152, INSPECT, ["daemon", "inspect.go"], 58),
        (164, INSPECT, ["daemon", "inspect.go"], 58),
    ]
    assert (
        lock.functions == [INSPECT, CLEANUP]
        and lock.waiter_count == 3
        and lock.longest_wait is None
    )
    lines = [
        w.line for w in lock.waiters
    ]  # the waiters in the dump's order, each with its header line
    assert lines == sorted(lines) and all(lines)


def test_sigquit_waiter_skips_runtime_frames():
    d = stack_dump(REPRO / "dockerd-stderr-after-sigquit.txt")
    g = next(g for g in d.goroutines if g.id == 164)
    assert g.frames[0].func == "runtime.gopark"
    w = lock_wait(g)
    assert (w.kind, w.address, w.site, w.site_line, w.wait_minutes) == (
        "mutex",
        "0xc00026a180",
        INSPECT,
        58,
        None,
    )


def test_pprof_debug1_falls_back_to_site_keys_with_weights():
    locks = analyze_locks(stack_dump(REPRO / "pprof-goroutine-debug1.txt"))
    got = [
        (lock.key, lock.kind, lock.status, lock.waiter_count, [w.weight for w in lock.waiters])
        for lock in locks
    ]
    assert got == [
        (f"site:{INSPECT}", "mutex", "orphaned", 2, [2]),
        (f"site:{CLEANUP}", "mutex", "orphaned", 1, [1]),
    ]
    assert [w.address for lock in locks for w in lock.waiters] == [None, None]


@pytest.mark.parametrize(
    "path",
    [
        REAL / "goroutine-stacks-sigusr1.log",
        REAL / "goroutine-stacks-sigusr1-during-stop.log",
        REAL / "pprof-goroutine-debug2.txt",
        REAL / "pprof-goroutine-debug1.txt",
        REAL / "sigquit-stderr.log",
        REAL / "containerd-stacks-sigusr1-file.log",
        CONTROL / "goroutine-stacks-2026-11-29T123223Z.log",
    ],
)
def test_healthy_daemons_have_no_lock_waits(path):
    [d] = dumps_of(path)
    assert analyze_locks(d) == []


@pytest.mark.parametrize(
    "path, gid",
    [
        (
            REPRO / "goroutine-stacks-2026-11-29T122857Z.log",
            1,
        ),  # [semacquire, locked to thread] in WaitGroup.Wait
        (
            REAL / "containerd-stacks-sigusr1-file.log",
            27,
        ),  # [semacquire] in WaitGroup.Wait, trimpath frames
    ],
)
def test_waitgroup_semacquire_is_not_a_lock_wait(path, gid):
    g = next(g for g in dumps_of(path)[0].goroutines if g.id == gid)
    assert (g.state, g.frames[1].func) == ("semacquire", "sync.(*WaitGroup).Wait")
    assert lock_wait(g) is None


def test_holder_derived_from_the_panicking_goroutine():
    """Derived case: the repro's SIGUSR1 waiters plus goroutine 128 as dockerd.log shows it when it
    panicked inside ContainerInspectCurrent (inspect.go:60, past the Lock at :58, with the
    container 0xc0009c1188 that cleanupContainer receives).  Had it not vanished, it would hold."""
    d = stack_dump(REPRO / "goroutine-stacks-2026-11-29T122857Z.log")
    panicked = dumps_of(REPRO / "dockerd.log")[0].goroutines[0]
    assert panicked.id == 128
    d.goroutines.append(panicked)
    [lock] = analyze_locks(d)
    assert lock.status == "held" and len(lock.waiters) == 3
    [holder] = lock.holders
    assert (holder.goroutine, holder.confidence) == (128, "medium")
    assert holder.reason.startswith("goroutine 128 [running] passes 0xc0009c1188")
    assert (
        "runs daemon.(*Daemon).ContainerInspectCurrent past its Lock call (inspect.go:60 > waiters' :58)"
        in holder.reason
    )


DEADLOCK = """goroutine 10 [sync.Mutex.Lock, 3 minutes]:
sync.runtime_SemacquireMutex(0xc0000a6000?, 0x0?, 0x1?)
\t/usr/local/go/src/runtime/sema.go:77 +0x25
sync.(*Mutex).lockSlow(0xc000010020)
\t/usr/local/go/src/sync/mutex.go:171 +0x15d
sync.(*Mutex).Lock(...)
\t/usr/local/go/src/sync/mutex.go:90
main.transfer(0xc000010010, 0xc000010020)
\t/src/demo/main.go:20 +0x65

goroutine 11 [sync.Mutex.Lock, 2 minutes]:
sync.runtime_SemacquireMutex(0xc0000a6100?, 0x0?, 0x1?)
\t/usr/local/go/src/runtime/sema.go:77 +0x25
sync.(*Mutex).lockSlow(0xc000010010)
\t/usr/local/go/src/sync/mutex.go:171 +0x15d
sync.(*Mutex).Lock(...)
\t/usr/local/go/src/sync/mutex.go:90
main.transfer(0xc000010020, 0xc000010010)
\t/src/demo/main.go:20 +0x65
"""


def test_lock_order_inversion_is_a_deadlock():
    locks = {lock.key: lock for lock in analyze_locks(parse_dumps(DEADLOCK)[0])}
    assert set(locks) == {"0xc000010010", "0xc000010020"}
    a, b = locks["0xc000010010"], locks["0xc000010020"]
    assert (a.status, b.status) == ("deadlock", "deadlock")
    assert [(w.goroutine, w.wait_minutes) for w in a.waiters] == [(11, 2)] and a.longest_wait == 2
    assert [(h.goroutine, h.confidence) for h in a.holders] == [(10, "high")]
    assert [(h.goroutine, h.confidence) for h in b.holders] == [(11, "high")]
    assert a.holders[0].reason == (
        "goroutine 10 [sync.Mutex.Lock] passes the lock address 0xc000010010 to "
        "main.transfer (main.go:20) (itself waiting on 0xc000010020)"
    )


def test_holder_blocked_elsewhere_without_cycle_is_held():
    text = (
        DEADLOCK.split("\n\n")[1]
        + "\ngoroutine 10 [syscall]:\nsyscall.Syscall(0x0, 0x1, 0x2, 0x3)\n"
        "\t/usr/local/go/src/syscall/syscall_linux.go:69 +0x1\nmain.transfer(0xc000010010, 0xc000010020)\n"
        "\t/src/demo/main.go:23 +0x85\n"
    )
    [lock] = analyze_locks(parse_dumps(text)[0])
    assert (lock.key, lock.status, [h.goroutine for h in lock.holders]) == (
        "0xc000010010",
        "held",
        [10],
    )
    assert "main.go:23 > waiters' :20" in lock.holders[0].reason


def test_go18_rwmutex_rlock_semacquire():
    text = (
        "goroutine 490 [semacquire, 5611 minutes]:\nsync.runtime_Semacquire(0xc4201d2f1c)\n"
        "\t/usr/local/go/src/runtime/sema.go:47 +0x34\nsync.(*RWMutex).RLock(0xc4201d2f10)\n"
        "\t/usr/local/go/src/sync/rwmutex.go:43 +0x95\n"
        "github.com/docker/docker/daemon.(*Daemon).Containers(0xc42007e000, 0xc420b1a000, 0x0, 0x0)\n"
        "\t/go/src/github.com/docker/docker/daemon/list.go:97 +0x3a\n"
    )
    [lock] = analyze_locks(parse_dumps(text)[0])
    assert (lock.key, lock.kind, lock.status, lock.longest_wait) == (
        "0xc4201d2f10",
        "rwmutex-read",
        "holder-unseen",
        5611,
    )
    assert lock.functions == ["github.com/docker/docker/daemon.(*Daemon).Containers"]


def test_cond_wait_from_syslog_is_not_a_lock_wait():
    text = (
        "goroutine 490 [semacquire, 20664 minutes]:\nsync.runtime_notifyListWait(0xc420c588d0, 0x6)\n"
        "#011/usr/local/go/src/runtime/sema.go:298 +0x10b\nsync.(*Cond).Wait(0xc420c588c0)\n"
        "#011/usr/local/go/src/sync/cond.go:57 +0x89\n"
    )
    d = parse_dumps(text)[0]
    assert lock_wait(d.goroutines[0]) is None and analyze_locks(d) == []


def test_runtime_deadlock_report_of_go119():
    text = (
        "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [semacquire]:\n"
        "sync.runtime_SemacquireMutex(0x60?, 0x0?, 0xc000066000?)\n\t/usr/local/go/src/runtime/sema.go:77 +0x25\n"
        "sync.(*Mutex).lockSlow(0xc000018098)\n\t/usr/local/go/src/sync/mutex.go:171 +0x165\n"
        "sync.(*Mutex).Lock(...)\n\t/usr/local/go/src/sync/mutex.go:90\nmain.main()\n"
        "\t/src/demo/d1/main.go:8 +0x6c\nexit status 2\n"
    )
    [lock] = analyze_locks(parse_dumps(text)[0])
    assert (lock.key, lock.status, lock.waiters[0].site, lock.waiters[0].site_line) == (
        "0xc000018098",
        "orphaned",
        "main.main",
        8,
    )


def test_container_lock_holder_function_is_a_low_confidence_holder():
    """pprof debug=1 has no arguments: a goroutine inside containerStart (which holds its
    container's lock for the whole call) is the only hint, hence "low"."""
    group = (
        "1 @ 0x1 0x2\n#\t0x560bad9f0000\tsyscall.Syscall+0x10\t/usr/lib/go-1.22/src/syscall/syscall_linux.go:69\n"
        "#\t0x560bad9f1111\tgithub.com/docker/docker/daemon.(*Daemon).containerStart+0x111\t"
        "/go/src/github.com/docker/docker/daemon/start.go:150\n"
    )
    text = (REPRO / "pprof-goroutine-debug1.txt").read_text() + group
    d = parse_dumps(text)[0]
    assert d.goroutines[-1].frames[1].func.endswith("containerStart")
    locks = analyze_locks(d)
    assert [
        (lock.status, [(h.goroutine, h.confidence) for h in lock.holders]) for lock in locks
    ] == [("held", [(-32, "low")]), ("held", [(-32, "low")])]
    assert "is inside daemon.(*Daemon).containerStart (start.go:150)" in locks[0].holders[0].reason


# --- real Go programs of four releases (tests/fixtures/dumps/go-runtime, see its README) -----------

GO = DUMPS / "go-runtime"
LIVE = FIXTURES / "captured" / "live-holder-20.10"


@pytest.mark.parametrize("version", ["1.19", "1.21", "1.22", "1.23"])
def test_real_two_goroutine_deadlock_is_reported_with_both_locks(version):
    d = dumps_of(GO / f"go{version}" / "asleep-stderr.txt")[0]
    locks = analyze_locks(d)
    assert [(lock.status, lock.confidence, lock.waiter_count) for lock in locks] == [
        ("deadlock", "high", 1)
    ] * 2
    [cycle] = deadlock_cycles(locks)
    assert (
        sorted(gid for gid, _, _ in cycle)
        == {"1.19": [5, 6], "1.21": [3, 4], "1.22": [17, 18], "1.23": [5, 6]}[version]
    )
    assert (
        {held for _, held, _ in cycle}
        == {lock.key for lock in locks}
        == {wants for _, _, wants in cycle}
    )
    assert other_waits(d) == {"waitgroup": [1]}  # main in WaitGroup.Wait: kept apart, not a lock


@pytest.mark.parametrize("version", ["1.19", "1.21", "1.22", "1.23"])
def test_lockzoo_locks(version):
    d = dumps_of(GO / f"go{version}" / "goroutine-stacks-2.log")[0]
    found = analyze_locks(d)
    assert sorted(lock.status + ":" + lock.kind for lock in found) == [
        "deadlock:mutex",
        "deadlock:mutex",
        "held:rwmutex",
        "orphaned:mutex",
    ]
    locks = {lock.status + ":" + lock.kind: lock for lock in found}
    rw = locks[
        "held:rwmutex"
    ]  # 3 readers (RLock inlined: address from the receiver) + the writer, one lock
    assert (
        rw.waiter_count == 4 and sum(w.inferred for w in rw.waiters) == 3 and rw.longest_wait == 2
    )
    [holder] = rw.holders
    assert (
        holder.confidence == "high"
        and "passes the lock address" in holder.reason
        and "rebuild" in holder.reason
    )
    leaked = locks["orphaned:mutex"]  # (*config).leak locked it and returned
    assert (leaked.waiter_count, leaked.holders, leaked.confidence) == (2, [], "high")
    assert leaked.functions == ["main.(*config).read"]
    assert other_waits(d) == {
        "waitgroup": [g.id for g in d.goroutines if "sync.(*WaitGroup).Wait" in g.functions],
        "cond": [g.id for g in d.goroutines if g.state == "sync.Cond.Wait"],
    }


def test_pprof_debug1_lock_is_known_by_site_with_medium_confidence():
    locks = analyze_locks(stack_dump(REPRO / "pprof-goroutine-debug1.txt"))
    assert {(lock.status, lock.confidence) for lock in locks} == {("orphaned", "medium")}
    assert "prints no lock address" in locks[0].evidence[1]


def test_49227_conclusion_and_evidence():
    [lock] = analyze_locks(stack_dump(REPRO / "goroutine-stacks-2026-11-29T122857Z.log"))
    assert lock.confidence == "high"
    assert lock.evidence[0].startswith(
        "3 goroutines wait on mutex 0xc00026a180 in daemon.(*Daemon).ContainerInspectCurrent, "
        "daemon.(*Daemon).cleanupContainer"
    )
    assert "panicked" in lock.evidence[-1]


@pytest.mark.parametrize(
    "name", ["goroutine-stacks-2026-11-29T125823Z.log", "goroutine-stacks-2026-11-29T125915Z.log"]
)
def test_live_holder_stays_held(name):
    [lock] = analyze_locks(dumps_of(LIVE / name)[0])
    assert (lock.key, lock.status, lock.confidence, [h.goroutine for h in lock.holders]) == (
        "0xc00013c600",
        "held",
        "low",
        [245],
    )
    assert sorted(w.goroutine for w in lock.waiters) == [237, 240, 246, 249, 252]
    assert "ContainerChanges" in lock.evidence[1]


def test_each_copy_of_a_large_dump_has_its_own_orphaned_lock():
    """300 copies of the 49227 dump, fresh goroutine ids and heap addresses (0xc000… -> 0xc<k>…):
    one orphaned lock per copy, never joined across copies (the time it takes is bench/bench.py's)."""
    import re

    text = (REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_text()
    copies = "\n".join(
        re.sub(
            r"^goroutine (\d+)",
            lambda m: f"goroutine {int(m[1]) + 1000 * k}",
            re.sub(r"0xc000([0-9a-f]{6})", lambda m: f"0xc{k + 1:03x}{m[1]}", text),
            flags=re.M,
        )
        for k in range(300)
    )
    d = parse_dumps(copies)[0]
    locks = analyze_locks(d)
    assert len(locks) == 300 and {(lock.status, lock.waiter_count) for lock in locks} == {
        ("orphaned", 3)
    }


def _own_mutex_text(count: int) -> str:
    """bench/make_dump.py --own-mutex: the real waiter goroutine 127 once per mutex, every other one with its holder."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_dump", ROOT / "bench" / "make_dump.py")
    make_dump = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_dump)
    return make_dump.own_mutex_text(
        (REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_text(), count
    )


@pytest.mark.parametrize("parse", ["fastdump", "line reader"])
def test_each_goroutine_on_its_own_mutex_gets_its_own_holder(parse):
    """300 goroutines each blocked on its own mutex (no argument text shared between them); the
    holder of mutex i, when there is one, passes container i and no other: one waiter and at most
    one holder per lock, never the holder of another lock."""
    from forensics.parse.fastdump import parse_text

    text = _own_mutex_text(300)
    [d] = parse_text(text) if parse == "fastdump" else parse_dumps(text)
    locks = analyze_locks(d)
    assert len([g for g in d.goroutines if g.id >= 1000]) == 450 and len(locks) == 300
    got = {
        lock.key: (
            [w.goroutine for w in lock.waiters],
            [h.goroutine for h in lock.holders],
            lock.status,
        )
        for lock in locks
    }
    want = {
        f"0xc{i + 1:05x}a180": (
            [1000 + 2 * i],
            [1001 + 2 * i] if i % 2 == 0 else [],
            "held" if i % 2 == 0 else "orphaned",
        )
        for i in range(300)
    }
    assert got == want
    holder = next(lock for lock in locks if lock.key == "0xc00001a180").holders[0]
    assert (holder.confidence, holder.reason.split(" (an object")[0]) == (
        "medium",
        "goroutine 1001 [chan receive] passes 0xc000011188",
    )


def test_a_lock_address_kept_in_a_shape_s_own_text_finds_its_holder():
    """An argument list holding parentheses stays in the stack's shape (not cut out as argument
    text): the holder passing the lock address there is still found through the word index."""
    text = (
        "goroutine 1 [sync.Mutex.Lock, 5 minutes]:\n"
        "sync.runtime_SemacquireMutex(0xc000123458?, 0x0?, 0x1?)\n"
        "\t/usr/local/go/src/runtime/sema.go:77 +0x25\n"
        "sync.(*Mutex).lockSlow(0xc000123456)\n"
        "\t/usr/local/go/src/sync/mutex.go:171 +0x15d\n"
        "sync.(*Mutex).Lock(...)\n"
        "\t/usr/local/go/src/sync/mutex.go:90\n"
        "main.wait(0xc000123456)\n"
        "\t/app/main.go:10 +0x2b\n"
        "created by main.main in goroutine 3\n"
        "\t/app/main.go:20 +0x3f\n"
        "\n"
        "goroutine 2 [select]:\n"
        "main.hold({0xc000123456, (0x1)})\n"
        "\t/app/main.go:30 +0x2b\n"
        "created by main.main in goroutine 3\n"
        "\t/app/main.go:21 +0x3f\n"
    )
    [dump] = parse_text(text)
    assert "0xc000123456" in dump.goroutines[1].block.stack.shape.text  # kept in the shape
    [lock] = analyze_locks(dump)
    assert (lock.key, lock.status) == ("0xc000123456", "held")
    assert [(h.goroutine, h.confidence) for h in lock.holders] == [(2, "high")]


def test_a_lock_address_in_a_shape_s_text_is_found_beside_another_in_its_arguments():
    """The holder's stack keeps lock A's address in its shape's text and passes lock B's address
    in its cut-out argument text: the word index finds it for both locks (its argument words
    do not replace its shape's)."""
    waiter = (
        "goroutine {gid} [sync.Mutex.Lock, 5 minutes]:\n"
        "sync.runtime_SemacquireMutex(0xc000123458?, 0x0?, 0x1?)\n"
        "\t/usr/local/go/src/runtime/sema.go:77 +0x25\n"
        "sync.(*Mutex).lockSlow({lock})\n"
        "\t/usr/local/go/src/sync/mutex.go:171 +0x15d\n"
        "sync.(*Mutex).Lock(...)\n"
        "\t/usr/local/go/src/sync/mutex.go:90\n"
        "main.{site}({lock})\n"
        "\t/app/main.go:10 +0x2b\n"
        "created by main.main in goroutine 9\n"
        "\t/app/main.go:20 +0x3f\n"
        "\n"
    )
    text = (
        waiter.format(gid=1, lock="0xc000123456", site="wait")
        + waiter.format(gid=3, lock="0xc000777770", site="other")
        + "goroutine 2 [select]:\n"
        "main.use(0xc000777770)\n"
        "\t/app/main.go:40 +0x2b\n"
        "main.hold({0xc000123456, (0x1)})\n"
        "\t/app/main.go:30 +0x2b\n"
        "created by main.main in goroutine 9\n"
        "\t/app/main.go:21 +0x3f\n"
    )
    [dump] = parse_text(text)
    stack = dump.goroutines[2].block.stack
    assert "0xc000123456" in stack.shape.text and stack.args == "0xc000777770"
    locks = {lock.key: lock for lock in analyze_locks(dump)}
    for key in ("0xc000123456", "0xc000777770"):
        assert locks[key].status == "held"
        assert [(h.goroutine, h.confidence) for h in locks[key].holders] == [(2, "high")]


FORK = DUMPS / "go-runtime" / "go1.19"


def test_a_waiter_woken_by_unlock_means_the_lock_is_not_orphaned():
    """A healthy program's goroutines queue on syscall.ForkLock; the one Unlock just woke is
    ``[runnable]`` on the semaphore stack and nothing else holds the lock: it was handed on, and
    its holder is not gone."""
    text = (FORK / "forkexec-woken.log").read_text()
    [lock] = analyze_locks(stack_dump(FORK / "forkexec-woken.log"))
    assert (lock.key, lock.kind, lock.status, lock.confidence) == (
        "0x58f530",
        "rwmutex-write",
        "held",
        "medium",
    )
    assert [(h.goroutine, h.confidence) for h in lock.holders] == [(7, "medium")]
    assert "woken from the lock's semaphore" in lock.holders[0].reason
    assert sorted(w.goroutine for w in lock.waiters) == [8, 9, 10, 11, 12, 13]
    # the same goroutine still parked on the semaphore: nobody holds the lock, it is orphaned
    parked = text.replace("goroutine 7 [runnable]:", "goroutine 7 [semacquire]:")
    [lock] = analyze_locks(next(d for d in parse_dumps(parked, "x") if d.kind != "panic"))
    assert (lock.status, lock.waiter_count) == ("orphaned", 7)


def test_a_woken_waiter_beside_holders_is_one_more_holder():
    [lock] = analyze_locks(stack_dump(FORK / "forkexec-woken-and-held.log"))
    assert lock.status == "held"
    assert [h.goroutine for h in lock.holders] == [7, 8, 9]
    assert "woken" in lock.holders[2].reason and "woken" not in lock.holders[0].reason
    assert sorted(w.goroutine for w in lock.waiters) == [10, 11, 12, 13]


@pytest.mark.parametrize(
    "printed, carried",
    [
        ("0xc00033a700", True),
        ("0xc00033a700?", True),
        ("10xc00033a700", True),  # WORD still matches 0xc00033a700 after the 1
        ("0xc00033a700ff", False),  # a longer word
        ("0x10xc00033a700", False),  # WORD matches 0x10, then no word starts at the x
        ("{0xc00033a700, 0x0}", True),
    ],
)
def test_a_stack_carries_an_object_only_as_a_whole_word(printed, carried):
    """``_carries`` (which stacks count towards an object being shared) answers as the words of
    the frames' arguments do, on the real daemon's main goroutine with its second argument changed."""
    path = REPRO / "goroutine-stacks-2026-11-29T122857Z.log"
    text = path.read_text(encoding="utf-8").replace(
        "start(0xc0000b2e00, 0xc00033a700)", f"start(0xc0000b2e00, {printed})"
    )
    [g] = [g for g in parse_text(text, path.name)[-1].goroutines if g.id == 1]
    assert not g.stack.has_frames and printed in g.stack.args
    assert _carries(g.stack, "0xc00033a700") is carried
    assert ("0xc00033a700" in _words(g.stack)) is carried


@pytest.mark.parametrize(
    "path",
    [REPRO / "goroutine-stacks-2026-11-29T122857Z.log", REAL / "goroutine-stacks-sigusr1.log"],
)
def test_carries_agrees_with_the_words_of_every_stack(path: Path):
    d = parse_text(path.read_text(encoding="utf-8"), path.name)[-1]
    stacks = {g.stack for g in d.goroutines}
    words = {w.rstrip("?") for s in stacks for w in WORD.findall(s.text)}
    assert len(stacks) > 20 and len(words) > 100
    for stack in stacks:
        found = [w for w in sorted(words) if _carries(stack, w)]
        assert found == sorted(_words(stack))


HEXISH = st.text(alphabet="0123456789abcdefABx, {}?.", max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(HEXISH, st.sampled_from(["0xc", "0xc00012345", "0xc000123456", "0xc0001234567"])),
        max_size=8,
    ),
    st.data(),
)
def test_heap_words_scanned_in_c_are_the_wanted_ones_findall_finds(pieces, data):
    """The compiled build's heap word scan (:func:`locks._scan`, run here as Python) finds what
    ``HEAP_WORD.findall`` finds, in order, of the wanted words: nine hex digits exactly after
    ``0xc``, lowercase, the next "0xc" tried after a near miss."""
    text = "".join(pieces)
    words = HEAP_WORD.findall(text)
    wanted = set(data.draw(st.lists(st.sampled_from(words))) if words else []) | {"0xc000000001"}
    assert _scan(text, wanted, _marks(wanted)) == [w for w in words if w in wanted]


def test_the_heap_word_scan_skips_a_0xc_on_a_found_word_s_last_digit_as_findall_does():
    """A "0xc" that starts on the last digit of a heap word (``0xc000000000xc…``) is inside that
    word: findall goes on after the word and skips it, and so does the scan, which looks for the
    next "0xc" from the one after each; the one after a skipped one is a word again."""
    text = "0xc000000000xc000000000xc000000001 0xc00000000g0xc000000002"
    wanted = {"0xc000000000", "0xc000000001", "0xc000000002"}
    expected = ["0xc000000000", "0xc000000001", "0xc000000002"]
    assert HEAP_WORD.findall(text) == expected
    assert _scan(text, wanted, _marks(wanted)) == expected
    assert _scan(text, {"0xc000000001"}, _marks({"0xc000000001"})) == ["0xc000000001"]


def test_the_compiled_build_s_scan_finds_the_holders_findall_finds(monkeypatch):
    """The word index built with :func:`locks._scan` (the compiled build's way) gives the same
    locks, holders and evidence as the one built with ``findall`` (the pure Python build's)."""
    from forensics.goroutines import locks

    [d] = parse_text(_own_mutex_text(120))
    monkeypatch.setattr(locks, "SCAN", False)
    found = [lock.to_dict(0, "x", 1) for lock in analyze_locks(d)]
    monkeypatch.setattr(locks, "SCAN", True)
    assert [lock.to_dict(0, "x", 1) for lock in analyze_locks(d)] == found
    assert sum(bool(lock["holder_gids"]) for lock in found) == 60
