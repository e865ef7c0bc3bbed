"""DumpReader on real captured dumps (tests/fixtures/dumps) and on forms quoted in domain.md §3-§4.

Expected counts were taken independently with grep (``grep -c '^goroutine [0-9]'``,
``grep -c '^[0-9]* @'``, ``wc -l``) on the fixture files."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.model import Problem, Record
from forensics.parse.goroutines import DumpReader, looks_like_dump, parse_dumps

DUMPS = FIXTURES / "dumps"
REAL = DUMPS / "real-dockerd"
REPRO = DUMPS / "repro-49227" / "02-delay-build-panic-text-log"
CONTROL = DUMPS / "repro-49227" / "06-control-unmodified-no-panic"
NIL_DEREF = "runtime error: invalid memory address or nil pointer dereference"


def feed_lines(lines: list[str], source: str = "t") -> tuple[list[bool], list]:
    reader = DumpReader(source)
    taken = [reader.feed(Record(source, n, line)) for n, line in enumerate(lines, 1)]
    return taken, reader.close()


def feed_file(path: Path):
    return feed_lines(path.read_text(encoding="utf-8").split("\n"), path.name)


def by_id(dump, gid):
    return next(g for g in dump.goroutines if g.id == gid)


@pytest.mark.parametrize(
    "path, kind, count, end_line",
    [
        (REAL / "goroutine-stacks-sigusr1.log", "stacks", 46, 611),
        (REAL / "goroutine-stacks-sigusr1-during-stop.log", "stacks", 48, 655),
        (REAL / "pprof-goroutine-debug2.txt", "stacks", 48, 659),
        (REAL / "containerd-stacks-sigusr1-file.log", "stacks", 37, 495),
        (REPRO / "goroutine-stacks-2026-11-29T122857Z.log", "stacks", 42, 543),
        (REPRO / "pprof-goroutine-debug2.txt", "stacks", 44, 597),
        (REPRO / "dockerd-stderr-after-sigquit.txt", "sigquit", 48, 962),
        (CONTROL / "goroutine-stacks-2026-11-29T123223Z.log", "stacks", 38, 417),
    ],
)
def test_whole_dump_files(path, kind, count, end_line):
    text = path.read_text(encoding="utf-8")
    taken, dumps = feed_file(path)
    assert all(taken[:end_line]), f"line {taken.index(False) + 1} rejected"
    assert len(dumps) == 1
    d = dumps[0]
    assert (d.kind, d.line, d.end_line, d.truncated, d.warnings) == (kind, 1, end_line, False, [])
    assert [g.id for g in d.goroutines] == [
        int(i) for i in re.findall(r"^goroutine (\d+) ", text, re.M)
    ]
    assert len(d.goroutines) == count
    # every frame and every "created by" got its file line
    assert sum(len(g.frames) + (g.created_by is not None) for g in d.goroutines) == len(
        re.findall(r"^\t\S", text, re.M)
    )
    assert all(f.file and f.lineno for g in d.goroutines for f in g.frames)


def test_wait_minutes_and_arguments_during_stop():
    d = parse_dumps((REAL / "goroutine-stacks-sigusr1-during-stop.log").read_text())[0]
    assert sum(g.wait_minutes == 1 for g in d.goroutines) == 35
    assert sum((g.state, g.wait_minutes) == ("select", 1) for g in d.goroutines) == 13
    g1 = by_id(d, 1)
    assert (g1.state, g1.wait_minutes, g1.line) == ("chan receive", 1, 9)
    stop = by_id(d, 721).frames[0]
    assert stop.func == "github.com/docker/docker/daemon.(*Daemon).containerStop"
    assert (stop.args, stop.lineno, stop.offset, stop.line) == (
        "0xc0004e21e0, 0xc000d3ca00, 0x14",
        71,
        "0x15d",
        416,
    )
    assert stop.file.endswith("/github.com/docker/docker/daemon/stop.go")
    assert by_id(d, 721).created_in is None  # go1.19: no "in goroutine N"


def test_go122_created_in_inlined_frames_and_register_args():
    d = parse_dumps((REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_text())[0]
    g1 = by_id(d, 1)
    assert (g1.state, g1.locked_to_thread, g1.wait_minutes) == ("semacquire", True, None)
    g164 = by_id(d, 164)
    assert (g164.state, g164.line, g164.created_by, g164.created_in) == (
        "sync.Mutex.Lock",
        411,
        "net/http.(*Server).Serve",
        100,
    )
    assert g164.created_file.endswith("net/http/server.go") and g164.created_lineno == 3290
    assert sum(g.created_in is not None for g in d.goroutines) == 41
    sema, slow, lock = g164.frames[:3]
    assert (sema.args, sema.first_arg, slow.args) == ("0x1?, 0x50?, 0x36?", "0x1", "0xc00026a180")
    assert (lock.func, lock.args, lock.inlined, lock.lineno, lock.offset) == (
        "sync.(*Mutex).Lock",
        "...",
        True,
        90,
        None,
    )
    assert sum(f.inlined for g in d.goroutines for f in g.frames) == 14


def test_std_log_panic_then_sigquit_in_daemon_log():
    taken, dumps = feed_file(REPRO / "dockerd.log")
    assert (
        taken[169] is False and all(taken[170:214]) and taken[214] is False
    )  # lines 170 / 171-214 / 215
    assert all(taken[224:1186]) and not any(taken[:170])
    panic, quit_ = dumps
    assert (panic.kind, panic.line, panic.end_line, panic.truncated) == ("panic", 171, 214, False)
    assert panic.panic_message == f"http: panic serving @: {NIL_DEREF}"
    assert panic.time == datetime(2026, 11, 29, 12, 28, 12) and panic.time.tzinfo is None
    [g] = panic.goroutines
    assert (g.id, g.state, g.created_in) == (128, "running", 100)
    assert g.frames[1].func == "panic" and g.frames[1].args == "{0x560bae3f83c0?, 0x560bafda46c0?}"
    meta = g.frames[2]
    assert (meta.func, meta.file, meta.lineno, meta.offset) == (
        "github.com/docker/docker/layer.(*referencedRWLayer).Metadata",
        "<autogenerated>",
        1,
        "0x17",
    )
    assert (g.frames[3].func.rsplit(".", 1)[-1], g.frames[3].lineno) == ("getInspectData", 202)
    assert (quit_.kind, quit_.line, quit_.end_line, len(quit_.goroutines)) == (
        "sigquit",
        225,
        1186,
        48,
    )


def test_sigquit_preamble_headers_and_register_block():
    text = (REPRO / "dockerd-stderr-after-sigquit.txt").read_text()
    assert text.split("\n")[941:944] == ["rax    0xca", "rbx    0x0", "rcx    0x560babe51ec3"]
    d = parse_dumps(text)[0]
    assert (
        d.preamble == ["SIGQUIT: quit", "PC=0x560babe51ec1 m=0 sigcode=0"]
        and d.panic_message is None
    )
    g0, g1 = d.goroutines[:2]
    assert (g0.id, g0.state, g0.line) == (0, "idle", 4)
    assert (g0.frames[0].file.rsplit("/", 1)[-1], g0.frames[0].lineno, g0.frames[0].offset) == (
        "sys_linux_amd64.s",
        557,
        "0x21",
    )
    assert (g1.id, g1.state, g1.wait_minutes, g1.locked_to_thread) == (1, "semacquire", 1, True)
    assert by_id(d, 42).state == "syscall"  # "goroutine 42 gp=0x… m=7 mp=0x… [syscall]:"
    funcs = [f for g in d.goroutines for f in g.frames]
    assert any(f.func == "runtime.goexit" and f.args == "{}" for f in funcs)
    fm = next(f for f in funcs if f.func.endswith("getContainersByName-fm"))
    assert (fm.file, fm.lineno) == ("<autogenerated>", 1)
    # the register block ends the dump: a header after it is the next process's dump
    taken, dumps = feed_lines(
        text.rstrip("\n").split("\n") + ["goroutine 1 [running]:", "main.main()", "\t/m.go:1"]
    )
    assert all(taken) and [(d.kind, d.end_line, len(d.goroutines)) for d in dumps] == [
        ("sigquit", 962, 48),
        ("stacks", 965, 1),
    ]


def test_dump_between_log_lines_of_dockerd_2010():
    taken, dumps = feed_file(REAL / "sigquit-stderr.log")
    assert not any(taken[:197]) and all(taken[197:688]) and taken[688] is False
    [d] = dumps
    assert (d.kind, d.line, d.end_line, len(d.goroutines)) == ("stacks", 198, 688, 40)
    assert (d.goroutines[0].id, d.goroutines[0].state) == (134, "running")


@pytest.mark.parametrize(
    "path, total, groups",
    [
        (REAL / "pprof-goroutine-debug1.txt", 48, 38),
        (REPRO / "pprof-goroutine-debug1.txt", 44, 31),
    ],
)
def test_pprof_debug1_groups(path, total, groups):
    taken, [d] = feed_file(path)
    assert all(taken)
    assert (d.kind, d.truncated, d.warnings) == ("pprof-debug1", False, [])
    assert len(d.goroutines) == groups and sum(g.weight for g in d.goroutines) == total
    assert [g.id for g in d.goroutines] == list(range(-1, -groups - 1, -1))
    assert {g.state for g in d.goroutines} == {"unknown"}
    assert sum(len(g.frames) for g in d.goroutines) == len(
        re.findall(r"^#\t0x", path.read_text(), re.M)
    )


def test_pprof_debug1_frame_fields():
    d = parse_dumps((REAL / "pprof-goroutine-debug1.txt").read_text())[0]
    first = d.goroutines[0]
    assert (first.weight, first.line) == (3, 2)
    f = first.frames[0]
    assert (f.func, f.offset, f.lineno, f.args, f.line) == (
        "internal/poll.runtime_pollWait",
        "0x88",
        305,
        None,
        3,
    )
    assert f.file == "/usr/lib/go-1.19/src/runtime/netpoll.go"


# --- forms quoted in domain.md that the corpus does not contain -----------------------------

RE_PANIC = """panic: runtime error: invalid memory address or nil pointer dereference [recovered]
\tpanic: re-panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47fcd8]

goroutine 1 [running]:
main.main.func1()
\t/src/demo/d3/main.go:8 +0x74
panic({0x489ae0, 0x51ef40})
\t/usr/local/go/src/runtime/panic.go:884 +0x212
main.main()
\t/src/demo/d3/main.go:11 +0x38
exit status 2"""


def test_repanic_trace():
    taken, [d] = feed_lines(RE_PANIC.split("\n"))
    assert taken == [True] * 11 + [False]
    assert d.kind == "panic" and d.panic_message.endswith("[recovered]")
    assert d.preamble[1:] == [
        "panic: re-panic: runtime error: invalid memory address or nil pointer dereference",
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47fcd8]",
    ]
    assert [f.func for f in d.goroutines[0].frames] == ["main.main.func1", "panic", "main.main"]


def test_go15_numeric_signal_and_go14_closure():
    text = (
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal 0xb code=0x1 addr=0x20 pc=0x815856]\n\ngoroutine 77 [running]:\n"
        "github.com/docker/docker/api/server.func·006(0xc2088b4600)\n\t/go/src/server.go:1 +0x5\n"
        "github.com/docker/docker/daemon.*Daemon.ContainerStatsÂ·fm(0xc208fa0000)\n\t/go/src/stats.go:2 +0x6\n"
    )
    [d] = parse_dumps(text)
    assert d.preamble[-1] == "[signal 0xb code=0x1 addr=0x20 pc=0x815856]"
    assert [f.func for f in d.goroutines[0].frames] == [
        "github.com/docker/docker/api/server.func·006",
        "github.com/docker/docker/daemon.*Daemon.ContainerStatsÂ·fm",
    ]


def test_header_forms():
    text = "\n".join(
        [
            "goroutine 14 [select, 2 minutes, locked to thread]:",
            "runtime.gopark(0x274e378, 0xc820027f28, 0x22bfd48, 0x6, 0x18, 0x2)",
            "\t/go/src/runtime/proc.go:1 +0x1",
            "",
            "goroutine 490 [semacquire, 5611 minutes]:",
            "sync.runtime_Semacquire(0xc4201d2f1c)",
            "\t/sema.go:47 +0x34",
            "",
            "goroutine 8 gp=0xc000007340 m=3 mp=0xc000080008 [running (scan)]:",
            "\tgoroutine running on other thread; stack unavailable",
            "",
            "goroutine 9 gp=0xc0000071e0 m=nil [chan receive (nil chan)]:",
            "main.f[...](...)",
            "\t/s/f.go:3",
        ]
    )
    d = parse_dumps(text)[0]
    got = [(g.id, g.state, g.wait_minutes, g.locked_to_thread, g.truncated) for g in d.goroutines]
    assert got == [
        (14, "select", 2, True, False),
        (490, "semacquire", 5611, False, False),
        (8, "running", None, False, False),
        (9, "chan receive (nil chan)", None, False, False),
    ]
    assert d.goroutines[3].frames[0].func == "main.f[...]" and d.goroutines[3].frames[0].inlined


def test_elision_markers_and_unknown_files():
    text = "\n".join(
        [
            "goroutine 5 [running]:",
            "main.a(...)",
            "\t?:0",
            "...12 frames elided...",
            "main.b.func1-fm()",
            "\t<autogenerated>:1 +0x2",
            "...additional frames elided...",
            "created by main.c in goroutine 1",
            "\t/s/c.go:9 +0x3",
        ]
    )
    g = parse_dumps(text)[0].goroutines[0]
    assert g.elided and (g.created_by, g.created_in, g.created_lineno) == ("main.c", 1, 9)
    assert [(f.func, f.file, f.lineno) for f in g.frames] == [
        ("main.a", "?", 0),
        ("main.b.func1-fm", "<autogenerated>", 1),
    ]


@pytest.mark.parametrize("indent", ["\t", "        ", "    ", "  ", "#011", ""])
def test_file_line_indentation(indent):
    lines = [
        "goroutine 490 [semacquire, 20664 minutes]:",
        "sync.runtime_notifyListWait(0xc420c588d0, 0x6)",
        f"{indent}/usr/local/go/src/runtime/sema.go:298 +0x10b",
    ]
    taken, [d] = feed_lines(lines)
    f = d.goroutines[0].frames[0]
    assert all(taken) and (f.file, f.lineno, f.offset) == (
        "/usr/local/go/src/runtime/sema.go",
        298,
        "0x10b",
    )


def test_syslog_stripped_tail_is_truncated_with_warning():
    lines = [
        "goroutine 73 [IO wait]:",
        "net/http.Serve(0x263dc60, 0xc420260ab0, 0x26278a0, 0xc420260ae0, 0x437978, 0x1a9a1a0)",
        "/usr/local/go/src/net/http/server.go:2307 +0x78",
        "created by github.com/docker/docker/daemon.(*Daemon).listenMetricsSock",
    ]
    taken, [d] = feed_lines(lines, "messages")
    assert all(taken) and d.truncated and d.goroutines[0].truncated
    assert d.warnings == [Problem("messages", 4, "goroutine dump ends mid-frame (goroutine 73)")]
    assert d.goroutines[0].frames[0].lineno == 2307


def test_journal_short_tabs_as_spaces_then_log_line():
    lines = [
        f"2025/01/07 15:25:42 http: panic serving @: {NIL_DEREF}",
        "goroutine 1234 [running]:",
        "net/http.(*conn).serve.func1()",
        "        /usr/local/go/src/net/http/server.go:1947 +0xbe",
        'time="2025-01-07T15:25:43.000000001Z" level=error msg="Handler for DELETE /v1.47/containers/test"',
    ]
    taken, [d] = feed_lines(lines)
    assert taken == [True, True, True, True, False]
    assert (d.goroutines[0].id, d.goroutines[0].frames[0].lineno, d.truncated) == (
        1234,
        1947,
        False,
    )


def test_header_without_frames_before_log_line():
    taken, [d] = feed_lines(["goroutine 5 [running]:", 'time="x" level=info msg="y"'], "d.log")
    assert taken == [True, False]
    assert d.truncated and d.warnings == [
        Problem("d.log", 1, "goroutine dump ends mid-frame (goroutine 5)")
    ]


def test_blank_lines_inside_and_after_dump():
    lines = [
        "goroutine 1 [running]:",
        "main.main()",
        "\t/m.go:1 +0x1",
        "",
        "",
        "goroutine 2 [select]:",
        "main.g()",
        "\t/m.go:2 +0x2",
        "",
        "Processing done",
        "",
    ]
    taken, [d] = feed_lines(lines)
    assert taken == [True] * 9 + [False, False]
    assert [g.id for g in d.goroutines] == [1, 2] and d.end_line == 8


def test_second_stdlog_goroutine_starts_new_dump():
    lines = [
        "2025/01/07 15:25:42 http: panic serving @: boom",
        "goroutine 6 [running]:",
        "main.f()",
        "\t/f.go:1 +0x1",
        "goroutine 7 [select]:",
        "main.g()",
        "\t/g.go:1 +0x1",
    ]
    taken, dumps = feed_lines(lines)
    assert all(taken) and [(d.kind, len(d.goroutines)) for d in dumps] == [
        ("panic", 1),
        ("stacks", 1),
    ]


def head(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:20]


def test_looks_like_dump():
    assert looks_like_dump(head(REAL / "goroutine-stacks-sigusr1.log"))
    assert looks_like_dump(head(REPRO / "pprof-goroutine-debug1.txt"))
    assert looks_like_dump(head(REPRO / "dockerd-stderr-after-sigquit.txt"))
    assert looks_like_dump(RE_PANIC.split("\n")[:5])
    assert not looks_like_dump(head(REAL / "sigquit-stderr.log"))
    assert not looks_like_dump(head(REPRO / "dockerd.log"))
    assert not looks_like_dump(["goroutine 1 [running]:", "this is prose, not a frame"])
    assert not looks_like_dump(
        ["2025/01/07 15:25:42 http: panic serving @: x", "goroutine 1 [running]:"]
    )
    assert not looks_like_dump([])


@pytest.mark.parametrize(
    "line",
    [
        "a" * 1_000_000,
        "a.b(" + "0x1, " * 200_000,
        ":1" * 500_000,
        "(*a)" * 250_000,
        "#011" * 250_000 + "x",
        "goroutine 1" + " x" * 500_000,
        "\x00" * 1_000_000,
        "a.b" + "(" * 1_000_000,
        "/x.go:" + "1" * 1_000_000 + "x",
    ],
)
def test_huge_lines_are_linear_and_never_raise(line):
    for prefix in ([], ["goroutine 1 [running]:"], ["goroutine 1 [running]:", "main.main()"]):
        reader = DumpReader("big")
        for n, text in enumerate(prefix, 1):
            reader.feed(Record("big", n, text))
        start = time.process_time()  # CPU time: other processes on the machine do not count
        assert reader.feed(Record("big", 9, line)) is False
        assert time.process_time() - start < 0.5
        reader.close()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80) | st.sampled_from(RE_PANIC.split("\n")), max_size=30))
def test_never_raises_on_arbitrary_lines(lines):
    taken, dumps = feed_lines(lines)
    assert all(isinstance(t, bool) for t in taken)
    assert all(d.end_line >= d.line for d in dumps)
