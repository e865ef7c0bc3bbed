"""How a signal narrows its evidence rows (used by ``engine``; format: rules/README.md).

Patterns run with a timeout; rows are kept or dropped by time order (``after``,
``not_after``), by sharing a value with another signal's rows (``same``) and counted,
optionally as distinct values, within a sliding time window (``min_rows`` + ``window``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter

import numpy as np
import pandas as pd

from forensics.engine.ruleset import PATTERN_TIMEOUT, Condition

MAX_TIMEOUTS = 3  # a pattern that timed out this often on one signal is not run on more values


def _text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _each(df: pd.DataFrame, col: pd.Series, keep, distinct: dict | None = None) -> pd.Series:
    """``keep`` of every value, computed once per distinct value (log messages repeat).
    ``distinct``: a text column's distinct values by column name, found once for every condition
    on the column (10^5 goroutines: a hash of each row's stack per condition otherwise)."""
    if isinstance(col.dtype, pd.StringDtype):  # distinct values found by pandas, not in Python
        known = distinct.get(col.name) if distinct is not None else None
        if known is None:
            codes, uniques = _factorize(col)
            known = codes.astype(np.int32), uniques.tolist(), bool((codes < 0).any())
            if distinct is not None:
                distinct[col.name] = known
        codes, uniques, missing = known
        found = [keep(v) for v in uniques]
        if missing:  # missing: "" to every test, as None is
            found.append(keep(None))
        return pd.Series(np.array(found, dtype=bool)[codes], index=df.index, dtype=bool)
    values = col.tolist()
    try:
        found = {v: keep(v) for v in dict.fromkeys(values)}
    except TypeError:  # unhashable values (lists): by their text instead
        values = [_text(v) for v in values]
        found = {v: keep(v) for v in dict.fromkeys(values)}
    return pd.Series(list(map(found.__getitem__, values)), index=df.index, dtype=bool)


def _factorize(col: pd.Series) -> tuple[np.ndarray, object]:
    """``pd.factorize(col)``; text kept in Python strings is hashed in a table grown with its
    distinct values (pandas sizes it for every row: 16 MB for the stack column of 2 * 10^5
    goroutines, which has a few hundred distinct stacks)."""
    if col.dtype.storage != "python":
        return pd.factorize(col)
    if col.dtype.na_value is np.nan:  # its own array (NaN missing, as None is): not copied
        return pd.factorize(col.to_numpy(), size_hint=DISTINCT_HINT)
    return pd.factorize(col.to_numpy(dtype=object, na_value=None), size_hint=DISTINCT_HINT)


DISTINCT_HINT = 1024


def column_mask(
    df: pd.DataFrame, cond: Condition, timeouts: Counter, label: str, distinct: dict | None = None
) -> pd.Series:
    """Rows of ``df`` meeting ``cond``. A regex that overruns PATTERN_TIMEOUT counts in
    ``timeouts[label]``; after MAX_TIMEOUTS overruns the pattern is not run again. ``distinct``:
    kept across the conditions on ``df`` (see :func:`_each`)."""
    col = df[cond.column]
    if cond.op in ("regex", "not"):

        def test(text: str) -> bool:
            if timeouts[label] >= MAX_TIMEOUTS:
                return False
            try:
                return cond.pattern.search(text, timeout=PATTERN_TIMEOUT) is not None
            except TimeoutError:
                timeouts[label] += 1
                return False

        return _each(df, col, lambda v: test(_text(v)) != (cond.op == "not"), distinct)
    if cond.op in ("eq", "in"):
        wanted = {_text(v).lower() for v in (cond.value if cond.op == "in" else [cond.value])}
        return _each(df, col, lambda v: _text(v).lower() in wanted, distinct)
    numbers = pd.to_numeric(col, errors="coerce")
    return (numbers >= cond.value) if cond.op == "min" else (numbers <= cond.value)


def follows(
    rows: pd.DataFrame,
    other: pd.DataFrame,
    within: float | None,
    before: bool = False,
    columns: tuple[str, ...] = (),
    containers: pd.DataFrame | None = None,
) -> pd.Series:
    """True where a row comes at or after a row of ``other`` (with ``before``: at or before
    one), within ``within`` seconds of the nearest; None where that cannot be told (no time).
    With ``columns`` only rows of ``other`` with the same values there count (empty equals
    empty; containers match across names and ids)."""
    if "time" not in rows or "time" not in other:
        return pd.Series([None] * len(rows), index=rows.index, dtype=object)
    aliases = (
        _container_aliases(containers) if "container" in columns and containers is not None else {}
    )

    def key(row) -> tuple:
        return tuple(_canonical(row.get(c), c == "container", aliases) for c in columns)

    marks: dict[tuple, list] = {}
    for _, r in other[other["time"].notna()].iterrows():
        marks.setdefault(key(r), []).append(r["time"])
    for times in marks.values():
        times.sort()

    def test(row):
        t = row["time"]
        times = marks.get(key(row), [])
        if pd.isna(t) or not marks:
            return None
        if before:
            i = bisect_left(times, t)
            gap = (times[i] - t) if i < len(times) else None
        else:
            i = bisect_right(times, t)
            gap = (t - times[i - 1]) if i else None
        return gap is not None and (within is None or gap.total_seconds() <= within)

    if rows.empty:
        return pd.Series([], index=rows.index, dtype=object)
    return rows.apply(test, axis=1).astype(object)


def _canonical(value, container: bool, aliases: dict[str, set[str]]) -> str:
    keys = _keys(value, container, aliases)
    return min(keys) if container and keys else _text(value).strip()


def _container_aliases(containers: pd.DataFrame) -> dict[str, set[str]]:
    """Every name and 12-character id of a container maps to all its other names and ids."""
    groups: dict[str, set[str]] = {}
    for _, r in containers.iterrows():
        keys = {k for k in (_text(r.get("id"))[:12], _text(r.get("name"))) if k}
        if len(keys) < 2:
            continue
        merged = set(keys).union(*(groups.get(k, set()) for k in keys))
        for k in merged:
            groups[k] = merged
    return groups


def _keys(value, container: bool, aliases: dict[str, set[str]]) -> set[str]:
    text = _text(value).strip()
    if not text:
        return set()
    if not container:
        return set(text.split())
    key = (
        text[:12]
        if len(text) >= 12 and all(c in "0123456789abcdef" for c in text)
        else text.lstrip("/")
    )
    return aliases.get(key, {key})


def same_mask(
    rows: pd.DataFrame, other: pd.DataFrame, on: dict[str, str], containers: pd.DataFrame
) -> pd.Series:
    """True where a row shares, for every (mine, its) column pair, a value with one row of
    ``other``. Several values in one cell (whitespace separated) match if any does;
    container columns match across names, short and full ids."""
    aliases = (
        _container_aliases(containers) if any("container" in (a, b) for a, b in on.items()) else {}
    )
    index: dict[str, dict[str, set[int]]] = {
        c: {} for c in on
    }  # column -> value -> rows of other holding it
    n_other = 0
    for n_other, (_, r) in enumerate(other.iterrows(), 1):
        for mine, its in on.items():
            for key in _keys(r.get(its), "container" in (mine, its), aliases):
                index[mine].setdefault(key, set()).add(n_other)

    # the column of most distinct values first: a row that matches none there is done (a dump
    # column first gathered every row of other for each row: its one value is in all of them)
    selective = sorted(on.items(), key=lambda pair: -len(index[pair[0]]))

    def ok(row) -> bool:  # one row of other matching in every column: a lookup, not a scan of other
        if len(on) == 1:  # one column: any of the row's values that a row of other holds
            [(c, its)] = on.items()
            return (
                not index[c].keys().isdisjoint(_keys(row.get(c), "container" in (c, its), aliases))
            )
        found: set[int] | None = None
        for c, its in selective:
            rows_of = index[c]
            hits = set().union(
                *(rows_of.get(k, ()) for k in _keys(row.get(c), "container" in (c, its), aliases))
            )
            found = hits if found is None else found & hits
            if not found:
                return False
        return n_other > 0 if found is None else True

    if rows.empty:
        return pd.Series([], index=rows.index, dtype=bool)
    cells = [rows[c].tolist() if c in rows else [None] * len(rows) for c in on]
    each = zip(*cells) if cells else [()] * len(rows)  # the rows' values, a column at a time
    known: dict[tuple, bool] = {}  # rows repeat their values (the goroutines waiting on one lock)

    def ok_once(row: tuple) -> bool:
        try:
            found = known.get(row)
        except TypeError:  # an unhashable value (a list): not kept
            return ok(dict(zip(on, row)))
        if found is None:
            found = known[row] = ok(dict(zip(on, row)))
        return found

    return pd.Series([ok_once(row) for row in each], index=rows.index, dtype=bool)


def count(
    rows: pd.DataFrame, min_rows: int, window: float | None, distinct: str | None
) -> tuple[int, pd.DataFrame]:
    """How many rows (or distinct values) there are, at most within one ``window``; and the
    rows to cite: those of every window that reaches ``min_rows``, else of the fullest one.
    Rows without a time cannot be placed in a window and are not counted."""

    def unit(row) -> str | int:
        v = _text(row[distinct]) if distinct else ""
        return v if v else row.name  # an empty value is its own unit

    if not window or rows.empty:
        n = len({unit(r) for _, r in rows.iterrows()}) if distinct else len(rows)
        return n, rows
    timed = rows[rows["time"].notna()].sort_values("time", kind="stable")
    times = list(timed["time"])
    units = [unit(r) for _, r in timed.iterrows()]
    seen: Counter = Counter()
    best, best_at, keep, j = 0, (0, 0), [0] * (len(timed) + 1), 0
    for i in range(len(timed)):
        while j < len(timed) and (times[j] - times[i]).total_seconds() <= window:
            seen[units[j]] += 1
            j += 1
        n = len(seen)
        if n > best:
            best, best_at = n, (i, j)
        if n >= min_rows:
            keep[i] += 1
            keep[j] -= 1
        seen[units[i]] -= 1
        if not seen[units[i]]:
            del seen[units[i]]
    marks, running = [], 0
    for k in range(len(timed)):
        running += keep[k]
        marks.append(running > 0)
    chosen = timed[marks] if any(marks) else timed.iloc[best_at[0] : best_at[1]]
    return best, chosen


def duration(value: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{int(value)}s"
