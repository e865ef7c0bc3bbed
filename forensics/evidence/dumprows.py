"""The ``goroutines`` table's rows, by column, and the ``fact`` and ``views`` columns of it and of
``locks``.

A dump of 10^5 goroutines makes 10^5 rows: they are kept as one list per column (not a dict per
row), and goroutines read in bulk that share a :class:`~forensics.parse.stacks.Shape` share its
``stack`` and ``top`` strings (made once per shape), so the table costs its columns, not a copy of
every stack.
"""

from __future__ import annotations

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
    """Append the dump's goroutines to ``columns`` (the ``goroutines`` table's, ``fact`` and
    ``views`` left to :func:`facts`); ``waiting``: goroutine id -> the lock it waits on."""
    gs = d.goroutines
    n = len(gs)
    shown = [stack_and_top(g) for g in gs]
    for name, value in (
        ("dump", index),
        ("program", d.program),
        ("time", d.time),
        ("complete", complete),
        ("snapshot", d.snapshot),
    ):
        columns[name] += [value] * n
    columns["gid"] += [g.id for g in gs]
    columns["state"] += [g.state for g in gs]
    columns["wait_minutes"] += [g.wait_minutes for g in gs]
    columns["locked"] += [g.locked_to_thread for g in gs]
    columns["created_by"] += [g.created_by for g in gs]
    columns["created_in"] += [g.created_in for g in gs]
    columns["top"] += [top for _, top in shown]
    columns["stack"] += [stack for stack, _ in shown]
    locks = [waiting.get(g.id) for g in gs]
    columns["lock_key"] += [lock.key if lock is not None else None for lock in locks]
    columns["lock_status"] += [lock.status if lock is not None else None for lock in locks]
    columns["weight"] += [g.weight for g in gs]
    columns["source"] += [g.source or d.source for g in gs]
    columns["line"] += [g.line for g in gs]


def facts(g_columns: dict[str, list], l_rows: list[dict]) -> None:
    """``fact``: rows that show the same thing in views of one snapshot (same goroutine, same lock) share
    it; ``views``: where each view shows it ("source:line", one a line, in the dumps' order).
    A pprof debug=1 group (no ids, no lock addresses) is the goroutine with its stack in another view, and
    a lock known by its site is the lock with an address that the same site waits on."""
    g_columns["fact"] = _goroutine_facts(g_columns)
    g_columns["views"] = _views(g_columns["fact"], g_columns["source"], g_columns["line"])
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


def _goroutine_facts(columns: dict[str, list]) -> list[str]:
    snapshots, gids, stacks = (columns[c] for c in ("snapshot", "gid", "stack"))
    found: list[str | None] = [
        f"{snapshot}:goroutine {gid}" if snapshot is not None and gid >= 0 else None
        for snapshot, gid in zip(snapshots, gids)
    ]
    if all(found):  # every goroutine has its own: no stack is looked up
        return found
    by_stack: dict[tuple, str] = {}  # (snapshot, stack) -> the fact of its first goroutine
    for fact, snapshot, stack in zip(found, snapshots, stacks):
        if fact is not None:
            by_stack.setdefault((snapshot, stack), fact)
    return [
        fact
        or (by_stack.get((snapshot, stack)) if snapshot is not None else None)
        or f"dump {dump}:goroutine {gid}"
        for fact, snapshot, stack, dump, gid in zip(found, snapshots, stacks, columns["dump"], gids)
    ]


def _views(facts: list[str], sources: list[str], lines: list) -> list[str]:
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
