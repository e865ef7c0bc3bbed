"""The ``goroutines`` table built by column (:mod:`forensics.evidence.dumprows`): stack strings shared
per shape, and ``fact``/``views`` as the per-row definition gives them, on real dumps."""

import os
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import regex
from conftest import REPRO

from forensics.analyze import analyze
from forensics.engine.ruleset import Condition
from forensics.engine.selection import _each, column_mask, same_mask
from forensics.evidence import TABLES, _dump_rows
from forensics.evidence.dumprows import TEXT, add_goroutines, fact, facts, flat
from forensics.goroutines.buckets import top_function
from forensics.parse.fastdump import parse_text

DUMP = REPRO / "goroutine-stacks-2026-11-29T122857Z.log"


def _perturbed(copies: int) -> str:
    """The repro dump ``copies`` times, ids and heap pointers moved per copy (bench/make_dump.py
    --perturb, as in tests/parse/test_shapes.py): the copies share shapes, not arguments."""
    blocks = DUMP.read_text(encoding="utf-8").strip("\n").split("\n\n")
    out = []
    for k in range(copies):
        for b in blocks:
            b = re.sub(r"^goroutine (\d+)", lambda m, k=k: f"goroutine {int(m[1]) + 1000 * k}", b)
            out.append(re.sub(r"0xc000([0-9a-f]{6})", lambda m, k=k: f"0xc{k + 1:03x}{m[1]}", b))
    return "\n\n".join(out) + "\n"


def test_goroutines_of_one_shape_share_one_stack_string():
    [d] = parse_text(_perturbed(3))  # read in bulk: goroutines share blocks and shapes
    columns = {c: [] for c in TABLES["goroutines"].split()}
    add_goroutines(columns, 0, d, True, {})
    flat(columns)
    assert len(columns["stack"]) == len(d.goroutines) > 100
    by_shape: dict[int, set[int]] = {}
    for g, stack, top in zip(d.goroutines, columns["stack"], columns["top"], strict=True):
        assert stack == "\n".join(g.functions) and top == top_function(g.functions)
        by_shape.setdefault(id(g.block.stack.shape), set()).add(id(stack))
    assert all(len(ids) == 1 for ids in by_shape.values())  # one string object per shape
    assert len(by_shape) < len(d.goroutines) / 2  # and shapes are shared (handlers, workers)


def _facts_by_row(g_rows: list[dict]) -> None:
    """The per-row definition of ``fact`` and ``views`` (as written before the columns)."""
    by_stack: dict[tuple, str] = {}
    for r in g_rows:
        if r["snapshot"] is not None and r["gid"] >= 0:
            r["fact"] = f"{r['snapshot']}:goroutine {r['gid']}"
            state = r["state"] if r["state"] != "unknown" else ""
            by_stack.setdefault((r["snapshot"], state, r["stack"]), r["fact"])
            by_stack.setdefault((r["snapshot"], "", r["stack"]), r["fact"])
    for r in g_rows:
        if "fact" not in r:
            r["fact"] = (
                by_stack.get((r["snapshot"], "", r["stack"])) if r["snapshot"] is not None else None
            )
            r["fact"] = r["fact"] or f"dump {r['dump']}:goroutine {r['gid']}"
    views: dict[str, dict[str, list[str]]] = {}
    for r in g_rows:
        lines = views.setdefault(r["fact"], {}).setdefault(r["source"], [])
        if str(r["line"]) not in lines:
            lines.append(str(r["line"]))
    for r in g_rows:
        shown = views[r["fact"]]
        r["views"] = (
            "\n".join(f"{s}:{','.join(n)}" for s, n in shown.items()) if len(shown) > 1 else ""
        )


def test_facts_and_views_of_five_views_of_one_moment_are_the_per_row_ones(rules):
    # SIGQUIT output, the dump in dockerd.log, SIGUSR1, pprof debug=2 and debug=1 (groups: no ids)
    dumps = analyze([str(REPRO)], rules=rules).evidence.dumps
    _, g_columns, _, _, _, _ = _dump_rows(dumps, [])
    rows = [dict(zip(g_columns, values)) for values in zip(*g_columns.values())]
    assert any(r["gid"] < 0 for r in rows) and 0 in {r["snapshot"] for r in rows}
    expected = [{k: v for k, v in r.items() if k not in ("fact", "views")} for r in rows]
    _facts_by_row(expected)
    assert fact(pd.DataFrame(rows)).tolist() == [r["fact"] for r in expected]
    assert [r["views"] for r in rows] == [r["views"] for r in expected]
    assert (
        sum(1 for r in rows if r["views"]) > len(rows) / 2
    )  # most goroutines are in several views
    assert any(
        r["fact"] and r["fact"].startswith("0:goroutine") and r["gid"] < 0 for r in rows
    )  # debug=1 groups: the fact of the goroutine with their stack in another view, stored


def test_a_goroutines_own_fact_is_not_stored_a_string_per_row(rules):
    # "snapshot:goroutine id" per goroutine: ~15 MB of strings for 2 * 10^5 goroutines (issue 19)
    [d] = analyze([str(DUMP)], rules=rules).evidence.dumps
    _, g_columns, _, _, _, _ = _dump_rows([d], [])
    assert len(g_columns["gid"]) > 10 and d.snapshot is not None
    stored = np.asarray(g_columns["fact"])
    assert stored.strides == (0,) and stored[0] is None  # one None for every row
    table = pd.DataFrame({c: g_columns[c] for c in ("gid", "snapshot", "fact")})
    assert fact(table).tolist() == [f"{d.snapshot}:goroutine {g.id}" for g in d.goroutines]


@pytest.mark.parametrize(
    "dtype, order",
    [
        ("string", ["a\nb", "c", "c\nb", None]),  # pandas 3's default: factorize, missing last
        (object, ["a\nb", None, "c", "c\nb"]),  # pandas 2's default: in the rows' order
    ],
)
def test_a_string_column_is_tested_once_per_distinct_value_and_missing_as_empty(dtype, order):
    df = pd.DataFrame({"stack": ["a\nb", None, "a\nb", "c", None, "c\nb"]}, dtype=dtype)
    assert isinstance(df["stack"].dtype, pd.StringDtype) == (dtype == "string")
    seen = []

    def keep(v):
        seen.append(v)
        return (v or "").endswith("b")

    mask = _each(df, df["stack"], keep)
    assert mask.tolist() == [True, False, True, False, False, True]
    assert seen == order  # each value once, missing once (as "")
    cond = Condition("stack", "not", None, regex.compile("(?m)^c$"))
    assert column_mask(df, cond, Counter(), "x").tolist() == [
        True, True, True, False, True, False
    ]  # fmt: skip


@pytest.mark.parametrize("empty_other", [False, True])
def test_same_mask_reads_the_rows_a_column_at_a_time(empty_other):
    rows = pd.DataFrame(
        {"dump": [0, 0, 1, 1, 1], "gid": [5, 7, 5, 9, 7], "state": ["a", "b", "c", None, "d"]},
        index=[10, 11, 12, 13, 14],
    )  # a lock's holders (dump, holder_gids) among goroutine rows, as lock-held-by-slow-io asks
    other = pd.DataFrame({"dump": [0, 1], "holder_gids": ["5 9", "9"]})
    other = other.iloc[0:0] if empty_other else other
    mask = same_mask(rows, other, {"dump": "dump", "gid": "holder_gids"}, pd.DataFrame())
    assert mask.tolist() == ([False] * 5 if empty_other else [True, False, False, True, False])
    assert mask.index.equals(rows.index) and mask.dtype == bool


@pytest.mark.parametrize("chosen", [None, "mimalloc"])
def test_arrow_buffers_of_the_tables_use_the_system_allocator_unless_one_is_chosen(chosen):
    pytest.importorskip("pyarrow")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    code = "import forensics.evidence, pyarrow; print(pyarrow.default_memory_pool().backend_name)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == (chosen or "system"), out.stderr


def test_a_dump_is_grouped_once_for_its_locks_and_the_report_buckets(monkeypatch, rules):
    from forensics.goroutines import buckets, locks, lockwaits
    from forensics.report.data import to_dict
    from forensics.report.facts import _bucket

    result = analyze([str(DUMP)], rules=rules)
    [d] = result.evidence.dumps
    assert set(result.evidence.buckets) == {0}
    waiting = {w.goroutine: lock for _, lock in result.evidence.locks for w in lock.waiters}
    fresh = [_bucket(b, waiting, d.source) for b in buckets.buckets(d, waiting=waiting)]

    def again(goroutines):
        raise AssertionError("grouped again")

    for module in (buckets, locks, lockwaits):
        monkeypatch.setattr(module, "groups", again)
    result = analyze([str(DUMP)], rules=rules)
    shown = to_dict(result)["goroutines"][0]["buckets"]
    assert [{k: v for k, v in b.items() if k != "links"} for b in shown] == fresh[: len(shown)]
    assert any(b["lock"] for b in shown)  # the leaked lock's waiters, first


def test_the_table_made_by_column_is_the_one_made_by_row_and_takes_the_lists(rules):
    from forensics.evidence import _frame

    dumps = analyze([str(REPRO)], rules=rules).evidence.dumps
    _, g_columns, _, _, _, _ = _dump_rows(dumps, [])
    rows = [dict(zip(g_columns, values)) for values in zip(*g_columns.values())]
    by_column = _frame("goroutines", g_columns)
    assert not g_columns  # each list taken out (freed) once its column was made
    by_row = _frame("goroutines", rows)  # its text as pandas keeps it by default (pyarrow or not)
    text = {c: TEXT for c in by_row if isinstance(by_row[c].dtype, pd.StringDtype)}
    assert {"stack", "fact", "lock_key"} <= set(text) or TEXT is None  # pandas 2: object columns
    pd.testing.assert_frame_equal(by_column, by_row.astype(text), check_exact=True)
    assert by_column["wait_minutes"].notna().any() and by_column["lock_key"].notna().any()


def test_the_table_keeps_one_stack_string_per_shape_with_or_without_pyarrow():
    # pyarrow (the fleet extra) copied each row's stack into its own buffer: ~90 MB at 200 MB
    from forensics.evidence import _frame

    [d] = parse_text(_perturbed(3))
    columns = {c: [] for c in TABLES["goroutines"].split()}
    add_goroutines(columns, 0, d, True, {})
    flat(columns)
    facts(columns, [])
    table = _frame("goroutines", columns)
    stacks = table["stack"]
    if TEXT is None:  # pandas 2 infers no text dtype: the column holds the strings as objects
        assert stacks.dtype == object
    else:
        assert isinstance(stacks.dtype, pd.StringDtype) and stacks.dtype.storage == "python"
    first: dict[int, int] = {}  # shape -> row of its first goroutine
    for row, g in enumerate(d.goroutines):
        at = first.setdefault(id(g.block.stack.shape), row)
        assert stacks.iloc[row] is stacks.iloc[at]  # the very string, not a copy per row
    assert len(first) < len(d.goroutines) / 2


def test_a_value_the_whole_dump_shares_is_stored_once_and_numbers_in_arrays(rules):
    # a dump of 10^5 goroutines: a list of 10^5 Python values per column, all alive until the
    # table was made, and a copy of each number column into one block (issue 19, peak RSS)
    from forensics.evidence import _frame

    [d] = analyze([str(DUMP)], rules=rules).evidence.dumps
    _, g_columns, _, _, _, _ = _dump_rows([d], [])
    assert not [
        c for c, v in g_columns.items() if c not in ("fact", "views") and isinstance(v, list)
    ]
    numbers = {c: g_columns[c] for c in ("gid", "weight", "line", "dump", "snapshot")}
    table = _frame("goroutines", g_columns)
    assert len(table) == len(d.goroutines) > 10
    for name in ("dump", "snapshot", "complete"):  # one value for every row
        values = table[name].to_numpy()
        assert values.strides == (0,) and values.dtype != object and len(set(values)) == 1
    for name, values in numbers.items():  # the table's column is the array made for it
        assert table[name].dtype == np.int64 and np.shares_memory(table[name].to_numpy(), values)


def test_a_dump_of_more_buckets_than_shown_is_ranked_once_and_its_groups_not_kept(tmp_path, rules):
    from forensics.evidence import BUCKETS
    from forensics.goroutines.buckets import buckets
    from forensics.report.data import to_dict

    path = tmp_path / "goroutines.log"
    path.write_text(_perturbed(3), encoding="utf-8")  # the copies share shapes, not arguments
    result = analyze([str(path)], rules=rules)
    [d] = result.evidence.dumps
    waiting = {w.goroutine for _, lock in result.evidence.locks for w in lock.waiters}
    fresh = buckets(d, waiting=waiting)
    assert len(fresh) > BUCKETS
    [shown] = to_dict(result)["goroutines"]
    assert shown["omitted"] == len(fresh) - BUCKETS and len(shown["buckets"]) == BUCKETS
    assert shown["goroutines"] == sum(b.count for b in fresh) == len(d.goroutines)
    assert [b["gids"][0] for b in shown["buckets"]] == [b.goroutines[0].id for b in fresh[:BUCKETS]]
    ranked = result.evidence.buckets[0]  # kept: the buckets shown, not the groups nor every bucket
    assert len(ranked.head) == BUCKETS and not hasattr(result.evidence, "grouped")


def test_a_text_column_is_factorized_once_for_all_the_conditions_on_it(monkeypatch, rules):
    # 10^5 goroutines: each condition on `stack` hashed every row's stack again (issue 19)
    from forensics.engine import selection

    if TEXT is None:
        pytest.skip("pandas 2 keeps text columns as objects: selection factorizes none of them")

    seen = Counter()
    factorize = pd.factorize

    def counted(values, *args, **kwargs):
        seen[len(values)] += 1
        return factorize(values, *args, **kwargs)

    monkeypatch.setattr(selection.pd, "factorize", counted)
    result = analyze([str(REPRO)], rules=rules)
    table = result.evidence["goroutines"]
    on = {  # the goroutines' text columns the rules test
        c.column
        for r in rules
        for sig in r.signals.values()
        if sig.table == "goroutines"
        for c in sig.where
        if c.op in ("regex", "not", "eq", "in")
        and isinstance(table[c.column].dtype, pd.StringDtype)
    }
    assert "stack" in on and len(table) not in {
        len(result.evidence[t]) for t in ("events", "locks")
    }
    assert seen[len(table)] == len(on)  # a factorization per column, not per condition
    assert any(f.id == "moby-49227" for f in result.found)  # the diagnosis still made
