"""``analyze`` reads a plain dump file with the bulk parser (issue 19), with the same result as
the records route: the same dumps (goroutines, frames, lines, warnings, truncation), line count
and coverage; any file where a line could read otherwise takes the records route."""

from __future__ import annotations

import io

import pytest
from conftest import FIXTURES, HEALTHY, REPRO
from test_goversions import flat

from forensics.ingest import envelopes, sources
from forensics.parse import Parsed, parse_dump_file, parse_records
from forensics.parse.stacks import LazyGoroutine

GO = FIXTURES / "dumps" / "go-runtime"
DUMP_FILES = [
    REPRO / "goroutine-stacks-2026-11-29T122857Z.log",
    REPRO / "pprof-goroutine-debug1.txt",
    REPRO / "pprof-goroutine-debug2.txt",
    REPRO / "dockerd-stderr-after-sigquit.txt",
    HEALTHY / "goroutine-stacks-sigusr1-during-stop.log",
    *sorted((GO / "go1.22").glob("*.txt")),
    *sorted((GO / "go1.19").glob("*.log")),
]


def both(path, data: bytes | None = None) -> tuple[Parsed, Parsed, bool]:
    """(bulk route, records route, whether the bulk route took it) on ``path`` (or ``data`` named so)."""

    def run(parsed: Parsed, bulk: bool) -> bool:
        inputs = (
            sources.walk([str(path)], [])
            if data is None
            else [
                sources.Input(
                    str(path), str(path), len(data), io.BufferedReader(io.BytesIO(data)), None
                )
            ]
        )
        for inp in inputs:  # walk closes each input when the next is asked for
            took = bulk and parse_dump_file(inp, parsed)
            if not took:
                parse_records(envelopes.read(inp, []), into=parsed)
            return took

    fast, slow = Parsed(), Parsed()
    took = run(fast, True)
    run(slow, False)
    return fast, slow, took


def same(a: Parsed, b: Parsed) -> None:
    assert flat(a.dumps) == flat(b.dumps)
    assert [(d.time, d.program, d.proc, d.pid) for d in a.dumps] == [
        (d.time, d.program, d.proc, d.pid) for d in b.dumps
    ]
    assert (a.records, a.events) == (b.records, b.events)
    assert {k: (c.format, c.notes(), c.plain) for k, c in a.coverage.items()} == {
        k: (c.format, c.notes(), c.plain) for k, c in b.coverage.items()
    }


@pytest.mark.parametrize("path", DUMP_FILES, ids=lambda p: p.name)
def test_a_plain_dump_file_is_read_in_bulk_with_the_same_result(path):
    fast, slow, took = both(path)
    assert took
    assert any(isinstance(g, LazyGoroutine) for d in fast.dumps for g in d.goroutines) or all(
        d.kind == "pprof-debug1" for d in fast.dumps
    )
    same(fast, slow)


@pytest.mark.parametrize(
    "change, bulk",
    [
        (
            lambda t: t + b'time="2026-11-29T12:28:57Z" level=info msg="after the dump"\n',
            False,
        ),  # a log line
        (lambda t: t.replace(b"\n", b"\r\n"), False),  # CRLF line ends
        (lambda t: t.replace(b"\n\n", b"\n\n\x00", 1), False),  # a NUL byte
        (
            lambda t: t + b"\n" + b"a" * (sources.MAX_LINE + 10) + b"\n",
            False,
        ),  # a line longer than read_lines keeps
        (lambda t: t.rstrip(b"\n"), True),  # no final newline
        (
            lambda t: t.replace(b"\ngoroutine 127 ", b"\n\n\ngoroutine 127 "),
            True,
        ),  # two blank lines
    ],
    ids=["log-line", "crlf", "nul", "long-line", "no-final-newline", "blank-lines"],
)
def test_a_file_that_could_read_otherwise_takes_the_records_route(change, bulk):
    data = change((REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_bytes())
    fast, slow, took = both("goroutine-stacks-x.log", data)
    assert took == bulk
    same(fast, slow)


def test_logs_and_compressed_files_are_not_read_in_bulk():
    for path in (
        REPRO / "dockerd.log",
        HEALTHY / "dockerd-20.10.24-text-debug.log",
        HEALTHY.parent / "49227-control" / "dockerd.log.gz",
    ):
        fast, slow, took = both(path)
        assert not took
        same(fast, slow)


def test_a_pause_that_keeps_its_objects_leaves_them_to_no_later_collection():
    """``paused_gc(keep=True)`` (``forensics dump`` run as a process): the objects made inside are
    frozen, so the collections after it and at exit do not walk them; the collector runs again."""
    import gc

    from forensics.parse.fastdump import paused_gc

    before = gc.get_freeze_count()
    try:
        with paused_gc(keep=True):
            made = [[i] for i in range(1000)]
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() >= before + len(made)
    finally:
        gc.unfreeze()
    with paused_gc():
        made = [[i] for i in range(1000)]
    assert gc.get_freeze_count() == 0  # a plain pause freezes nothing
