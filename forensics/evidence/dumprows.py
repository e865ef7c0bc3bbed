"""The ``goroutines`` table's rows, by column, and the ``fact`` and ``views`` columns of it and of
``locks``.

A dump of 10^5 goroutines makes 10^5 rows: they are kept as one array per column (not a dict per
row, nor a list of Python values per column), and goroutines read in bulk that share a
:class:`~forensics.parse.stacks.Shape` share its ``stack`` and ``top`` strings (made once per
shape), so the table costs its columns, not a copy of every stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter, itemgetter

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from forensics.goroutines.buckets import top_function
from forensics.model import Dump, Goroutine

STACK = "evidence stack"  # Shape.cache key: (stack column, top column) of the shape's goroutines


def stack_and_top(g: Goroutine) -> tuple[str, str]:
    """``stack`` (the functions, one a line) and ``top`` (:func:`top_function`) of a goroutine: once
    per shape for goroutines read in bulk."""
    block = getattr(g, "block", None)
    if block is None:
        functions = g.functions
        return "\n".join(functions), top_function(functions)
    cache = block.stack.shape.cache
    shown = cache.get(STACK)
    if shown is None:
        functions = block.stack.functions
        shown = cache[STACK] = ("\n".join(functions), top_function(functions))
    return shown


def add_goroutines(
    columns: dict[str, list], index: int, d: Dump, complete: bool, waiting: dict
) -> None:
    """Append the dump's goroutines to ``columns`` (the ``goroutines`` table's, ``views`` and the
    ``fact`` of goroutines without their own left to :func:`facts`): an array per column and
    dump, :func:`flat` joins them; ``waiting``: goroutine id -> the lock it waits on. Numbers go
    straight into numpy arrays, text into object arrays of the goroutines' own strings, and a
    value the whole dump shares (dump, program, time, complete, snapshot) is stored once
    (:func:`same`): no list of 10^5 Python values per column, all alive until the table is made."""
    gs = d.goroutines
    n = len(gs)
    for name, value in (
        ("dump", index),
        ("program", d.program),
        ("time", d.time),
        ("complete", complete),
        ("snapshot", d.snapshot),
    ):
        columns[name].append(same(value, n))
    ids = _numbers(lambda: map(_ID, gs), n, np.int64)
    columns["gid"].append(ids)
    heads = _objects(map(_HEAD, gs), n)  # (state, wait_minutes, locked_to_thread)
    columns["state"].append(_objects(map(_FIRST, heads), n))
    columns["wait_minutes"].append(_objects(map(_SECOND, heads), n))
    columns["locked"].append(_numbers(lambda: map(_THIRD, heads), n, np.bool_))
    columns["created_by"].append(_objects(map(_CREATED_BY, gs), n))
    columns["created_in"].append(_objects(map(_CREATED_IN, gs), n))
    shown = _objects(map(stack_and_top, gs), n)  # (stack, top): one tuple per shape, shared
    columns["top"].append(_objects(map(_SECOND, shown), n))
    columns["stack"].append(_objects(map(_FIRST, shown), n))
    del shown
    if waiting:  # the waiters' rows (a few of the dump's) filled, the others None
        locks = _objects(map(waiting.get, ids.tolist() if ids.dtype != object else ids), n)
        rows = np.flatnonzero(np.not_equal(locks, None))
        keys, statuses = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
        keys[rows] = [k.key for k in locks[rows]]
        statuses[rows] = [k.status for k in locks[rows]]
        del locks
    else:  # no goroutine waits on a lock the dump shows
        keys = statuses = same(None, n)
    columns["lock_key"].append(keys)
    columns["lock_status"].append(statuses)
    columns["weight"].append(_numbers(lambda: map(_WEIGHT, gs), n, np.int64))
    sources = _objects(map(_SOURCE, gs), n)  # a goroutine's own (a view's), else the dump's
    sources[np.equal(sources, None) | np.equal(sources, "")] = d.source
    columns["source"].append(sources)
    columns["line"].append(_numbers(lambda: map(_LINE, gs), n, np.int64))
    columns["fact"].append(same(None, n))  # :func:`facts` fills what is not the goroutine's own


_ID, _HEAD, _WEIGHT, _SOURCE, _LINE = (
    attrgetter(a) for a in ("id", "head", "weight", "source", "line")
)
_CREATED_BY, _CREATED_IN = attrgetter("created_by"), attrgetter("created_in")
_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)


def same(value, n: int) -> np.ndarray:
    """``value`` as a column of ``n`` rows that stores it once (a read-only broadcast view); the
    dtype pandas gives a list of it when that is a number or a bool, else object."""
    kind = {bool: np.bool_, int: np.int64, float: np.float64}.get(type(value), object)
    one = np.empty(1, dtype=kind)
    one[0] = value
    return np.broadcast_to(one, (n,))


def _numbers(values: Callable[[], Iterable], n: int, dtype) -> np.ndarray:
    """``n`` values into an array of ``dtype``; when one is not a number (None), an object array,
    which :func:`column` reads as pandas reads a list."""
    try:
        return np.fromiter(values(), dtype, n)
    except TypeError:
        return _objects(values(), n)


def _objects(values: Iterable, n: int) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    return np.fromiter(values, object, n)


def flat(columns: dict[str, list]) -> None:
    """Each column's arrays (a dump each) as one array, in place (one dump: its array itself)."""
    for name, parts in columns.items():
        columns[name] = (
            parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else _objects((), 0)
        )


# pandas' ``str`` dtype kept in Python strings: pyarrow (installed with the fleet extra) copies each
# row's text into its own buffers, a stack per goroutine (p200 analyze 478 -> 397 MB); None where
# pandas infers no ``str`` dtype (pandas 2 without future.infer_string: object columns)
TEXT = (
    pd.StringDtype("python", na_value=np.nan)
    if isinstance(pd.Series(["x"]).dtype, pd.StringDtype)
    else None
)


def column(values: np.ndarray) -> pd.Series:
    """A column of the table, as pandas makes it from the list of its values (text: ``str``;
    numbers and None: float with NaN; only None: object), so that the table is the one built
    from lists, row by row; but its text in Python strings (:data:`TEXT`), shared by the rows
    that show it. An array of numbers, or of text with no value missing, is the column's own
    storage (not copied)."""
    if values.dtype != object:
        return pd.Series(values, copy=False)
    kind = infer_dtype(values, skipna=True)
    if kind == "string" or kind == "empty":
        return pd.Series(values, dtype=TEXT if kind == "string" else None, copy=False)
    return pd.Series(values.tolist())


def facts(g_columns: dict[str, list], l_rows: list[dict]) -> None:
    """``fact``: rows that show the same thing in views of one snapshot (same goroutine, same lock) share
    it; ``views``: where each view shows it ("source:line", one a line, in the dumps' order).
    A pprof debug=1 group (no ids, no lock addresses) is the goroutine with its stack in another view, and
    a lock known by its site is the lock with an address that the same site waits on.
    A goroutine's own fact ("snapshot:goroutine id") is not stored (a string per goroutine: ~15 MB
    for 2 * 10^5): its ``fact`` is None and :func:`fact` makes it for the rows that need it."""
    n = len(g_columns["gid"])
    own = _own(g_columns)
    several = len(set(g_columns["source"])) > 1  # else no fact is in several views
    if own.all() and not several:  # every goroutine has its own fact, in one view
        g_columns["views"] = same("", n)
    else:
        found = _goroutine_facts(g_columns, own)
        shown = _views(found, g_columns["source"], g_columns["line"])
        g_columns["fact"] = _objects(
            (None if o else f for f, o in zip(found, own.tolist(), strict=True)), n
        )
        g_columns["views"] = _objects(shown, n) if any(shown) else same("", n)  # stored once
    by_site: dict[tuple, str] = {}
    for r in l_rows:
        if r["snapshot"] is not None and not r["key"].startswith("site:"):
            for site in r["sites"].split("\n"):
                by_site.setdefault((r["snapshot"], site), f"{r['snapshot']}:lock {r['key']}")
    for r in l_rows:
        site = r["key"].removeprefix("site:") if r["key"].startswith("site:") else None
        r["fact"] = (
            (by_site.get((r["snapshot"], site)) if site else f"{r['snapshot']}:lock {r['key']}")
            if r["snapshot"] is not None
            else None
        )
        r["fact"] = r["fact"] or f"dump {r['dump']}:lock {r['key']}"
    views = _views(
        [r["fact"] for r in l_rows], [r["source"] for r in l_rows], [r["line"] for r in l_rows]
    )
    for r, shown in zip(l_rows, views, strict=True):
        r["views"] = shown


def _own(columns) -> np.ndarray:
    """Per row, whether the goroutine has its own fact: an id (not a pprof debug=1 group) in a dump
    of a known snapshot."""
    snapshots = np.asarray(columns["snapshot"])
    known = (
        np.ones(len(snapshots), dtype=bool)
        if snapshots.dtype != object
        else np.fromiter((s is not None for s in snapshots), bool, len(snapshots))
    )
    return known & (np.asarray(columns["gid"]) >= 0)


def fact(rows: pd.DataFrame) -> pd.Series:
    """Each row's fact (:func:`facts`): the ``fact`` column where it holds one, else (a goroutine
    with its own) "snapshot:goroutine id"."""
    stored = rows["fact"]
    if "gid" not in rows or "snapshot" not in rows or not stored.isna().any():
        return stored
    missing = stored.isna() & rows["snapshot"].notna() & rows["gid"].notna()  # not another table's
    own = rows[missing]
    made = [f"{int(s)}:goroutine {int(g)}" for s, g in zip(own["snapshot"], own["gid"])]
    return stored.astype(object).mask(missing, pd.Series(made, index=own.index, dtype=object))


def _goroutine_facts(columns: dict[str, np.ndarray], own: np.ndarray) -> list[str]:
    snapshots, stacks = columns["snapshot"].tolist(), columns["stack"]
    gids = columns["gid"].tolist()
    found = [
        f"{s}:goroutine {g}" if o else None
        for s, g, o in zip(snapshots, gids, own.tolist(), strict=True)
    ]
    by_stack: dict[tuple, str] = {}  # (snapshot, stack) -> the fact of its first goroutine
    for f, snapshot, stack in zip(found, snapshots, stacks):
        if f is not None:
            by_stack.setdefault((snapshot, stack), f)
    return [
        f
        or (by_stack.get((snapshot, stack)) if snapshot is not None else None)
        or f"dump {dump}:goroutine {gid}"
        for f, snapshot, stack, dump, gid in zip(
            found, snapshots, stacks, columns["dump"].tolist(), gids
        )
    ]


def _views(facts: list[str], sources: Sequence[str], lines: Sequence[int]) -> list[str]:
    """Per row, the views of its fact ("source:line,line...", a source a line) when they are in more
    than one source, else ""."""
    if len(set(sources)) < 2:  # one file (the usual dump): no fact is in several
        return [""] * len(facts)
    first: dict[str, str] = {}  # fact -> the source of its first row
    several = set()
    for fact, source in zip(facts, sources):
        if first.setdefault(fact, source) != source:
            several.add(fact)
    if not several:
        return [""] * len(facts)
    shown: dict[str, dict[str, list[str]]] = {}  # fact -> source -> lines
    for fact, source, line in zip(facts, sources, lines):
        if fact in several:
            at = shown.setdefault(fact, {}).setdefault(source, [])
            if str(line) not in at:
                at.append(str(line))
    text = {
        fact: "\n".join(f"{s}:{','.join(n)}" for s, n in by_source.items())
        for fact, by_source in shown.items()
    }
    return [text.get(fact, "") for fact in facts]
