"""Stacks that differ only in their arguments share one Shape (issue 19): what a stack keeps of
its own is its argument text, and everything read off it equals what the line reader reads."""

from __future__ import annotations

import re

from conftest import FIXTURES, REPRO
from hypothesis import given, settings
from hypothesis import strategies as st
from test_goversions import flat

from forensics.goroutines.buckets import buckets, stack_key
from forensics.goroutines.lockwaits import WORD
from forensics.parse.fastdump import SPLIT, frame_sites, parse_text, stack_of
from forensics.parse.goroutines import parse_dumps

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
    from forensics.parse.fastdump import stack_of

    text = (FIXTURES / "dumps" / "go-runtime" / "go1.22" / "pprof-debug1-2.txt").read_text()
    [d] = parse_dumps(text)
    for g in d.goroutines:
        assert stack_of(g).frames is g.frames and stack_of(g).functions == tuple(g.functions)
