"""Stacks that differ only in their arguments share one Shape (issue 19): what a stack keeps of
its own is its argument text, and everything read off it equals what the line reader reads."""

from __future__ import annotations

import re

import pytest
from conftest import FIXTURES, REPRO
from hypothesis import given, settings
from hypothesis import strategies as st
from test_goversions import flat

from forensics.goroutines.buckets import buckets, stack_key
from forensics.goroutines.lockwaits import WORD
from forensics.parse.fastdump import _cut, _cut_in_place, parse_text
from forensics.parse.goroutines import parse_dumps
from forensics.parse.stacks import SPLIT, frame_sites, stack_of

DUMP = (REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_text(encoding="utf-8")
POINTER = re.compile(r"0xc000([0-9a-f]{6})")


def perturbed(copies: int) -> str:
    """The repro dump ``copies`` times, ids and heap pointers moved per copy (bench/make_dump.py --perturb)."""
    blocks = DUMP.strip("\n").split("\n\n")
    out = []
    for k in range(copies):
        for b in blocks:
            b = re.sub(r"^goroutine (\d+)", lambda m, k=k: f"goroutine {int(m[1]) + 1000 * k}", b)
            out.append(POINTER.sub(lambda m, k=k: f"0xc{k + 1:03x}{m[1]}", b))
    return "\n\n".join(out) + "\n"


def test_copies_that_differ_in_arguments_share_shapes_not_stacks():
    [one] = parse_text(perturbed(1))
    [three] = parse_text(perturbed(3))
    assert len(three.goroutines) == 3 * len(one.goroutines)
    shapes = {id(g.stack.shape) for g in three.goroutines}
    stacks = {id(g.stack) for g in three.goroutines}
    assert len(shapes) == len(
        {id(g.stack.shape) for g in one.goroutines}
    )  # the copies add no shape
    assert len(stacks) > len(shapes)  # but their own argument lists
    waiter = next(
        g for g in three.goroutines if g.id == 1127
    )  # copy 1 of the repro's lock waiter 127
    assert (
        waiter.stack.args.split("\n")[1] == "0xc00226a180"
    )  # sync.(*Mutex).lockSlow(0xc00226a180)
    assert "0xc00226a180" not in waiter.stack.shape.text
    assert waiter.stack.text == DUMP.split("goroutine 127 [")[1].split("\n", 1)[1].split("\n\n")[
        0
    ].rsplit("created by", 1)[0].replace("0xc000", "0xc002")  # the printed text, put back together


def test_buckets_keep_exact_arguments_apart_and_ignore_args_merges_them():
    [d] = parse_text(perturbed(2))
    exact, loose = buckets(d), buckets(d, ignore_args=True)
    assert len(exact) > len(loose)
    for b in exact:
        assert len({stack_key(g.stack) for g in b.goroutines}) == 1
    assert sum(b.count for b in exact) == sum(b.count for b in loose) == len(d.goroutines)


def test_frame_sites_are_the_distinct_sites_in_order():
    [d] = parse_text(perturbed(2))
    every = [(f.func, f.file, f.lineno) for g in d.goroutines for f in g.frames]
    assert list(dict.fromkeys(frame_sites(d.goroutines))) == list(dict.fromkeys(every))


ARG = st.text(alphabet="0123456789abcdefx, .{}?()", max_size=30)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(ARG, min_size=1, max_size=30), min_size=1, max_size=6))
def test_any_arguments_read_as_the_line_reader_reads_them(args):
    """The repro's goroutines printed again with other argument lists (parentheses too: those stay
    in the shape), each list given to every goroutine of a copy: the bulk parser equals the line reader."""
    blocks = DUMP.strip("\n").split("\n\n")
    out = []
    for lists in args:
        for b in blocks:
            it = iter(lists * 40)
            out.append(SPLIT.sub(lambda m, it=it: f"({next(it)})\n", b + "\n").rstrip("\n"))
    text = "\n\n".join(out) + "\n"
    dumps = parse_text(text)
    assert flat(dumps) == flat(parse_dumps(text))
    for g in dumps[0].goroutines[
        :60
    ]:  # the words lock analysis looks for, read without making frames
        stack = stack_of(g)
        assert sorted(stack.args_findall(WORD)) == sorted(
            w for f in stack.frames for w in WORD.findall(f.args or "")
        )
        assert all(stack.contains(w) for w in stack.args_findall(WORD))


def test_eager_goroutines_get_stacks_with_the_same_frames():
    from forensics.parse.stacks import stack_of

    text = (FIXTURES / "dumps" / "go-runtime" / "go1.22" / "pprof-debug1-2.txt").read_text()
    [d] = parse_dumps(text)
    for g in d.goroutines:
        assert stack_of(g).frames is g.frames and stack_of(g).functions == tuple(g.functions)


def test_a_frame_s_arguments_read_alone_are_those_of_its_frame():
    """:meth:`Stack.frame_arg` (one frame's arguments, the argument text after its own not read)
    gives each frame's ``args`` as the frames made from the shape and as the line reader reads."""
    text = perturbed(2)
    stacks = {stack_of(g) for d in parse_text(text) for g in d.goroutines}
    eager = {g.id: g.frames for d in parse_dumps(text) for g in d.goroutines}
    read = 0
    for d in parse_text(text):
        for g in d.goroutines:
            stack = stack_of(g)
            assert (
                [stack.frame_arg(i) for i in range(len(stack.frames))]
                == [f.args for f in stack.frames]
                == [f.args for f in eager[g.id]]
            )
            read += sum(bool(stack.frame_arg(i)) for i in range(len(stack.frames)))
    assert len(stacks) > 20 and read > 100


def _parents_moved(copies: int) -> str:
    """:func:`perturbed`, the ``created by … in goroutine N`` ids moved with their copy too."""
    text = perturbed(copies)
    blocks = text.strip("\n").split("\n\n")
    per_copy = len(blocks) // copies
    return (
        "\n\n".join(
            re.sub(
                r" in goroutine (\d+)$",
                lambda m, k=i // per_copy: f" in goroutine {int(m[1]) + 1000 * k}",
                b,
                flags=re.M,
            )
            for i, b in enumerate(blocks)
        )
        + "\n"
    )


def test_creators_and_headers_read_once_keep_each_goroutines_own_parent():
    text = _parents_moved(3)
    assert flat(parse_text(text)) == flat(parse_dumps(text))
    [d] = parse_text(text)
    by_id = {g.id: g for g in d.goroutines}
    created = [g for g in d.goroutines if g.id < 1000 and g.created_in]
    assert created  # the repro's goroutines started by another goroutine
    for g in created:
        assert [by_id[g.id + 1000 * k].created_in for k in range(3)] == [
            g.created_in + 1000 * k for k in range(3)
        ]
        assert len({id(by_id[g.id + 1000 * k].block.stack.shape) for k in range(3)}) == 1


def test_lock_waits_planned_per_shape_read_each_copys_own_address():
    from forensics.goroutines.locks import analyze_locks

    text = perturbed(3)
    [bulk], [lines] = parse_text(text), parse_dumps(text)
    found = analyze_locks(bulk)
    assert [lock.to_dict(0, "x", 1) for lock in found] == [
        lock.to_dict(0, "x", 1) for lock in analyze_locks(lines)
    ]
    waiters = {w.goroutine: lock.key for lock in found for w in lock.waiters}
    assert [waiters[127 + 1000 * k] for k in range(3)] == [
        "0xc00126a180",
        "0xc00226a180",
        "0xc00326a180",
    ]


def test_judging_and_tabling_a_dump_read_in_bulk_keep_no_frames_on_its_goroutines():
    from forensics.evidence import _dump_rows, _frame, _frame_rows
    from forensics.goroutines.completeness import judge

    [d] = parse_text(perturbed(2))
    judge(d)
    _dump_rows([d], [])
    rows = _frame_rows([d])
    kept = [g.id for g in d.goroutines if hasattr(g, "_frames")]
    assert kept == []  # frames made for the table's rows, one goroutine at a time
    frames = _frame("frames", rows)
    assert len(frames) == sum(len(g.frames) for g in d.goroutines)
    assert (
        list(frames.columns)
        == "dump gid depth func args file lineno offset inlined source line".split()
    )


def test_lock_addresses_of_another_width_are_looked_up_by_word_as_the_line_reader_does():
    from forensics.goroutines.locks import analyze_locks

    text = re.sub(r"0xc([0-9a-f]{9})\b", r"0xc00\1", perturbed(2))  # 12 hex digits: not HEAP words
    [bulk], [lines] = parse_text(text), parse_dumps(text)
    found = analyze_locks(bulk)
    assert [lock.to_dict(0, "x", 1) for lock in found] == [
        lock.to_dict(0, "x", 1) for lock in analyze_locks(lines)
    ]
    assert {lock.key for lock in found} >= {"0xc0000126a180", "0xc0000226a180"}


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="()\n\tab, ", max_size=60))
def test_argument_lists_cut_with_str_methods_as_split_cuts_them(frames):
    """The parser's str-method cut (:func:`fastdump._cut`) equals ``SPLIT.split`` on any text:
    lists holding a parenthesis or a newline, ``)\\n\\t`` after no ``(``, empty lists."""
    parts = SPLIT.split(frames)
    split = ("()\n".join(parts[0::2]), "\n".join(parts[1::2]))
    assert _cut(frames) == _cut_in_place(frames) == split  # the pure Python and the compiled way


@pytest.mark.parametrize("cut", [_cut, _cut_in_place])
def test_argument_lists_cut_at_their_edges(cut):
    assert cut("f(a)\n\tx.go:1\n") == ("f()\n\tx.go:1\n", "a")
    assert cut("f(a(b)\n\tx.go:1\n") == ("f(a()\n\tx.go:1\n", "b")  # the last "(" opens it
    assert cut("f(a, (b)c)\n\tx.go:1\n")[1] == ""  # a list holding parentheses stays in the shape
    assert cut(")\n\tx.go:1\n") == (")\n\tx.go:1\n", "")  # no "(" before it
    assert cut("f()\n\tx.go:1\ng(c)\n\ty.go:2\n") == ("f()\n\tx.go:1\ng()\n\ty.go:2\n", "\nc")


def test_goroutines_read_again_with_lists_where_no_frame_has_them_as_the_line_reader_reads_them():
    """Goroutines whose shape, header and creator were read before, with a ``created by`` line or a
    header ending in what looks like an argument list, no frame at all, or a header without an id:
    the bulk parser reads them as the line reader reads them."""
    one = "goroutine {} [select]:\nmain.f(0x{})\n\t/x/m.go:1 +0x1\n{}"
    creators = [
        "created by main.g in goroutine 1\n\t/x/m.go:9 +0x2\n",
        "created by main.g(0x7)\n\t/x/m.go:9 +0x2\n",
        "",
    ]
    blocks = [one.format(i, i, creators[i % 3]) for i in range(1, 40)]
    blocks += ["goroutine 50 [select]:\ncreated by main.g in goroutine 1\n\t/x/m.go:9 +0x2\n"] * 2
    blocks += ["goroutine 51 [select]:\n...additional frames elided...\n"] * 2
    blocks += [
        "goroutine [select]:\nmain.f(0x1)\n\t/x/m.go:1 +0x1\n",
        "goroutine 52 [g(0x1)\n\tx]:\nmain.f(0x1)\n\t/x/m.go:1 +0x1\n",
    ]
    text = "\n".join(blocks * 3)
    assert flat(parse_text(text)) == flat(parse_dumps(text))


def test_long_dumps_of_unique_goroutines_read_without_the_recent_cache_as_the_line_reader(
    monkeypatch,
):
    """Once a window of RECENT stacks found few of them again (copies whose arguments differ), the
    next stacks are read without that cache, then it is tried again: the same goroutines, and one
    Stack per distinct frame text, as with the cache."""
    from forensics.parse import fastdump

    monkeypatch.setattr(fastdump, "RECENT", 8)
    monkeypatch.setattr(fastdump, "SKIP", 40)
    skipped = []
    remember = fastdump._remember

    def spy(frames, stack, seen):
        skipped.append(seen.skip > 0)
        remember(frames, stack, seen)

    monkeypatch.setattr(fastdump, "_remember", spy)
    again = "\n\n".join(b for b in DUMP.strip("\n").split("\n\n") for _ in range(5))
    text = perturbed(12) + "\n" + again + "\n"  # unique copies, then each one 5 times in a row
    dumps = parse_text(text)
    assert flat(dumps) == flat(parse_dumps(text))
    assert True in skipped and skipped[-1] is False  # skipped a while, then the cache again
    stacks = {}
    for g in (g for d in dumps for g in d.goroutines):
        assert stacks.setdefault(g.stack.text, g.stack) is g.stack


def test_shapes_of_one_length_are_told_apart_also_when_many(monkeypatch):
    """Shapes are found by their text's length, then compared (the dict past SIZED of a length)."""
    from forensics.parse import fastdump

    frames = "".join(
        f"main.f{i:02d}(0x{i:x})\n\t/src/main.go:{10 + i}\n" for i in range(3)
    )  # 3 frames; each variant below renames one function: same length, another shape
    text = "\n".join(
        f"goroutine {n} [select]:\n" + frames.replace("main.f01", f"main.g{n % 12:02d}")
        for n in range(1, 40)
    )
    for sized in (20, 2):  # every shape of the length compared, then the dict past 2
        monkeypatch.setattr(fastdump, "SIZED", sized)
        [d] = parse_text(text)
        assert flat([d]) == flat(parse_dumps(text))
        assert len({id(g.stack.shape) for g in d.goroutines}) == 12


def test_a_dump_whose_goroutines_share_no_arguments_keeps_about_its_argument_text_per_goroutine():
    """Issue 19: memory linear in the dump and small per goroutine. A goroutine read in bulk keeps
    its own fields, a block, a stack and its argument text (about 160 characters in this dump);
    not a Goroutine's 15 slots nor its stack in a lookup table once the dump is read (613 bytes a
    goroutine before, about 500 after, on Python 3.10-3.13)."""
    import gc
    import tracemalloc

    text = perturbed(60)
    gc.collect()
    tracemalloc.start()
    try:
        [d] = parse_text(text)
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(d.goroutines) == 2520
    assert kept / len(d.goroutines) < 560
