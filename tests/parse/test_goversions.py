"""The traceback grammar on real output of Go 1.19, 1.21, 1.22 and 1.23 (tests/fixtures/dumps/go-runtime),
and the bulk parser (parsers/fastdump.py) against the line reader on every real dump of the repo.

Expected values were read off the files with grep (``grep -c '^goroutine '``, ``grep -o '\\[[^]]*\\]:$'``,
``grep -n 'elided'``), not computed by the code under test."""

from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.model import Goroutine, Problem
from forensics.parse.fastdump import cuts, parse_slabs, parse_text
from forensics.parse.goroutines import parse_dumps
from forensics.parse.stacks import LazyGoroutine

GO = FIXTURES / "dumps" / "go-runtime"
VERSIONS = ["1.19", "1.21", "1.22", "1.23"]
REAL_FILES = sorted(
    p for p in FIXTURES.rglob("*") if p.suffix in (".log", ".txt") and p.stat().st_size < 2_000_000
)
HEADER = re.compile(r"^goroutine \d+(?: [^\[\n]*)? \[[^\]\n]*\]:$", re.M)


def flat(dumps) -> list[tuple]:
    """Every field of every dump, goroutine and frame (LazyGoroutine compared as a Goroutine)."""
    out = []
    for d in dumps:
        out.append(
            (
                d.kind,
                d.source,
                d.line,
                d.end_line,
                d.truncated,
                d.panic_message,
                d.warnings,
                d.preamble,
            )
        )
        for g in d.goroutines:
            out.append(
                tuple(
                    tuple(map(dataclasses.astuple, g.frames))
                    if f.name == "frames"
                    else getattr(g, f.name)
                    for f in dataclasses.fields(Goroutine)
                )
            )
    return out


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def in_slabs(text: str, slab: int, source: str = "<text>"):
    """The bulk parser given the text in slabs of about ``slab`` characters."""
    return parse_slabs((text[start:stop] for start, stop in cuts(text, slab)), source)


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_bulk_parser_equals_line_reader_on_real_files(path):
    text = read(path)
    expected = flat(parse_dumps(text, path.name))
    assert flat(parse_text(text, path.name)) == expected
    assert flat(in_slabs(text, 500, path.name)) == expected


def test_bulk_parser_takes_the_canonical_blocks_in_bulk():
    dumps = parse_text(read(GO / "go1.23" / "sigquit-stderr-gotraceback-system.txt"))
    assert (
        all(isinstance(g, LazyGoroutine) for g in dumps[0].goroutines)
        and len(dumps[0].goroutines) == 27
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_header_states_and_minutes(version):
    [d] = parse_dumps(read(GO / f"go{version}" / "goroutine-stacks-2.log"))
    got = Counter((g.state, g.wait_minutes) for g in d.goroutines)
    mutex = {"1.19": {("semacquire", 2): 9}}.get(
        version, {("semacquire", 2): 1, ("sync.Mutex.Lock", 2): 5, ("sync.RWMutex.RLock", 2): 3}
    )
    assert got == Counter(
        {
            ("chan receive (nil chan)", 2): 1,
            ("chan receive", 1): 1,
            ("chan receive", 2): 4,
            ("running", None): 1,
            ("select (no cases)", 1): 1,
            ("select (no cases)", 2): 1,
            ("sleep", None): 1,
            ("sync.Cond.Wait", 2): 1,
            **mutex,
        }
    )
    [locked] = [g for g in d.goroutines if g.locked_to_thread]
    assert (locked.state, locked.wait_minutes, locked.line) == ("select (no cases)", 2, 105)
    assert sum(g.created_in is not None for g in d.goroutines) == (0 if version == "1.19" else 19)


@pytest.mark.parametrize(
    "version, name, count",
    [
        (v, n, c)
        for v in VERSIONS
        for n, c in [
            ("goroutine-stacks-0.log", 20),
            ("goroutine-stacks-2.log", 20),
            ("sigquit-stderr.txt", 27),
            ("asleep-stderr.txt", 3),
            ("repanic-stderr.txt", 1),
            ("sigquit-stderr-gotraceback-system.txt", 26 if v == "1.22" else 27),
        ]
    ],
)
def test_goroutine_count_equals_well_formed_headers(version, name, count):
    text = read(GO / f"go{version}" / name)
    dumps = parse_text(text, name)
    assert len(HEADER.findall(text)) == count
    assert [len(d.goroutines) for d in dumps] == [count] and dumps[0].warnings == []
    assert all(f.file and f.lineno is not None for g in dumps[0].goroutines for f in g.frames)


@pytest.mark.parametrize("version", VERSIONS)
def test_first_dump_has_no_minutes_yet(version):
    [d] = parse_dumps(read(GO / f"go{version}" / "goroutine-stacks-0.log"))
    assert {g.wait_minutes for g in d.goroutines} == {None}


@pytest.mark.parametrize(
    "version, name, frames, elided",
    [
        (
            "1.19",
            "goroutine-stacks-2.log",
            97,
            False,
        ),  # runtime.Stack cuts the stack short without a marker
        ("1.19", "sigquit-stderr.txt", 100, True),  # ...additional frames elided...
        ("1.21", "goroutine-stacks-2.log", 100, True),  # 50 + ...21 frames elided... + 50
        ("1.23", "sigquit-stderr.txt", 100, True),  # 50 + ...26 frames elided... + 50
    ],
)
def test_deep_stack_elision(version, name, frames, elided):
    [d] = parse_dumps(read(GO / f"go{version}" / name))
    [g] = [g for g in d.goroutines if any(f.func == "main.deep" for f in g.frames)]
    assert (len(g.frames), g.elided, g.created_by) == (frames, elided, "main.main")


@pytest.mark.parametrize("version", VERSIONS)
def test_sigquit_preamble_gp_headers_and_register_block(version):
    path = GO / f"go{version}" / "sigquit-stderr.txt"
    lines = read(path).split("\n")
    [d] = parse_dumps(read(path))
    assert (
        d.kind == "sigquit"
        and d.preamble[0] == "SIGQUIT: quit"
        and d.preamble[1].startswith("PC=0x")
    )
    assert (
        lines[d.end_line - 1].startswith("gs ") and d.end_line == len(lines) - 1
    )  # the register block is the dump's
    g0 = d.goroutines[0]
    assert (g0.id, g0.state) == (0, "idle")
    gp_headers = sum(" gp=0x" in line for line in lines)
    assert (gp_headers > 0) == (version in ("1.22", "1.23"))  # seen from go1.22 on
    first = g0.frames[0]
    assert (
        first.file.endswith(".s") and first.offset and first.lineno
    )  # "fp= sp= pc=" dropped, fields kept


def test_gotraceback_system_frames_and_system_goroutines():
    [d] = parse_dumps(read(GO / "go1.22" / "sigquit-stderr-gotraceback-system.txt"))
    states = Counter(g.state for g in d.goroutines)
    assert states["force gc (idle)"] == 1 and states["GC sweep wait"] == 1
    g1 = d.goroutines[0]
    assert (g1.id, g1.state) == (1, "running")
    assert all(
        g.frames[-1].func == "runtime.goexit"
        for g in d.goroutines
        if g.id not in (0, 1) and not g.elided
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_runtime_deadlock_report(version):
    [d] = parse_dumps(read(GO / f"go{version}" / "asleep-stderr.txt"))
    assert (d.kind, d.panic_message) == (
        "panic",
        "fatal error: all goroutines are asleep - deadlock!",
    )
    mutex = "semacquire" if version == "1.19" else "sync.Mutex.Lock"
    assert [(g.id, g.state) for g in d.goroutines][0] == (1, "semacquire")
    assert [g.state for g in d.goroutines[1:]] == [mutex, mutex]
    assert [f.func for f in d.goroutines[1].frames] == [
        "sync.runtime_SemacquireMutex",
        "sync.(*Mutex).lockSlow",
        "sync.(*Mutex).Lock",
        "main.transfer",
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_recovered_repanic(version):
    [d] = parse_dumps(read(GO / f"go{version}" / "repanic-stderr.txt"))
    assert (
        d.panic_message
        == "panic: runtime error: invalid memory address or nil pointer dereference [recovered]"
    )
    assert (
        d.preamble[1]
        == "panic: re-panic: runtime error: invalid memory address or nil pointer dereference"
    )
    assert d.preamble[2].startswith(
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x"
    )
    [g] = d.goroutines
    assert (g.state, g.created_by, g.created_in) == (
        "running",
        "main.main",
        None if version == "1.19" else 1,
    )
    funcs = {f.func: f for f in g.frames}
    assert funcs["panic"].args.startswith("{0x") and funcs["main.(*layer).Metadata"].inlined
    assert (funcs["main.(*layer).Metadata"].lineno, funcs["main.(*layer).Metadata"].offset) == (
        11,
        None,
    )


def test_frame_fields_exact_go122():
    [d] = parse_dumps(read(GO / "go1.22" / "goroutine-stacks-2.log"))
    g = next(g for g in d.goroutines if g.id == 21)
    assert (g.state, g.wait_minutes, g.line, g.created_by, g.created_in) == (
        "sync.Mutex.Lock",
        2,
        7,
        "main.main",
        1,
    )
    sema, slow, lock, transfer = g.frames
    assert (sema.func, sema.args, sema.file, sema.lineno, sema.offset) == (
        "sync.runtime_SemacquireMutex",
        "0xc00003df58?, 0xb5?, 0x239fe2e1cec?",
        "/usr/lib/go-1.22/src/runtime/sema.go",
        77,
        "0x25",
    )
    assert (
        slow.args,
        lock.inlined,
        lock.offset,
        transfer.args,
        transfer.line,
        transfer.lineno,
        transfer.offset,
    ) == ("0xc00009c020", True, None, "0xc00009c010, 0xc00009c020, 0x1", 14, 28, "0xa5")


@pytest.mark.parametrize("version", VERSIONS)
def test_pprof_debug1_weights(version):
    text = read(GO / f"go{version}" / "pprof-debug1-2.txt")
    [d] = parse_text(text)
    assert (d.kind, d.warnings, sum(g.weight for g in d.goroutines)) == ("pprof-debug1", [], 20)
    assert len(d.goroutines) == len(re.findall(r"^\d+ @", text, re.M))


def test_truncated_dump_keeps_every_complete_goroutine():
    text = read(GO / "go1.23" / "sigquit-stderr.txt")
    cut = text[: text.index("main.(*config).read(")]  # ends right after a file line, before a frame
    cut += "main.(*config).read(0xc000010018)\n"  # a frame whose file line never came
    [d] = parse_text(cut, "cut.txt")
    complete = len(HEADER.findall(cut))
    assert len(d.goroutines) == complete and d.truncated and d.goroutines[-1].truncated
    assert d.warnings == [
        Problem(
            "cut.txt",
            cut.count(chr(10)),
            f"goroutine dump ends mid-frame (goroutine {d.goroutines[-1].id})",
        )
    ]
    assert not any(g.truncated for g in d.goroutines[:-1])


def test_garbage_and_huge_lines_between_goroutines():
    text = read(GO / "go1.21" / "goroutine-stacks-2.log")
    blocks = text.split("\n\n")
    rng = random.Random(4)
    junk = [
        "\x00\x01\x02 binary",
        "a" * 1_000_000,
        "goroutine x [y]:",
        "goroutine 7 [running]: trailing",
        "\t/x.go:1",
    ]
    mixed = "\n\n".join(
        b + ("\n" + rng.choice(junk) if i % 3 == 0 else "") for i, b in enumerate(blocks)
    )
    assert flat(parse_text(mixed)) == flat(parse_dumps(mixed))


LINES = [
    line
    for name in (
        "go1.22/sigquit-stderr.txt",
        "go1.19/repanic-stderr.txt",
        "go1.21/pprof-debug1-2.txt",
    )
    for line in read(GO / name).split("\n")[:120]
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(LINES) | st.text(max_size=40) | st.just(""), max_size=60))
def test_bulk_equals_line_reader_on_arbitrary_mixes(lines):
    text = "\n".join(lines)
    assert flat(parse_text(text)) == flat(in_slabs(text, 1)) == flat(parse_dumps(text))
