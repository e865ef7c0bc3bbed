"""The timeline's data: log events per time bin by level, and marked moments (daemon starts,
panics, goroutine dumps, what happened to the stuck containers)."""

from __future__ import annotations

import pandas as pd
import regex

from forensics.findings import Container

LEVELS = ["error", "warning", "info", "debug", "other"]
_LEVEL = {
    "fatal": "error",
    "panic": "error",
    "error": "error",
    "warning": "warning",
    "warn": "warning",
    "info": "info",
    "debug": "debug",
    "trace": "debug",
}
# A bin as long as needed for at most MAX_BINS bins: a one-minute reproduction gets seconds, a week days.
BIN_SECONDS = [
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
]
MAX_BINS = 60
MAX_MARKERS = 300  # per kind; the rest is counted
LABEL = 240
_CALL = regex.compile(r"^Calling (?P<method>[A-Z]+) (?P<path>\S+)")


def _iso(t) -> str | None:
    return None if t is None or pd.isna(t) else t.isoformat()


def _marker(kind: str, time, label: str, source: str, line, lane: str) -> dict:
    label = label if len(label) <= LABEL else label[:LABEL] + "…"
    return {
        "time": _iso(time),
        "kind": kind,
        "lane": lane,
        "label": label,
        "source": source,
        "line": int(line),
    }


def _bins(events: pd.DataFrame) -> tuple[int, list[dict]]:
    timed = events.dropna(subset=["time"])
    if timed.empty:
        return 0, []
    start, end = timed["time"].min(), timed["time"].max()
    span = (end - start).total_seconds()
    width = next((s for s in BIN_SECONDS if span / s < MAX_BINS), BIN_SECONDS[-1])
    origin = start.floor(f"{width}s") if width < 86400 else start.floor("D")
    index = ((timed["time"] - origin).dt.total_seconds() // width).astype(int)
    level = timed["level"].map(lambda v: _LEVEL.get(str(v).lower(), "other"))
    table = pd.crosstab(index, level)
    bins = []
    for i, row in table.iterrows():
        counts = {lv: int(row[lv]) for lv in LEVELS if lv in row and row[lv]}
        bins.append(
            {"start": (origin + pd.Timedelta(seconds=int(i) * width)).isoformat(), "counts": counts}
        )
    return width, bins


def _stuck(ev, found_containers: list[list[Container]]) -> dict[str, set[str]]:
    """The containers the findings name (stuck in removal): display name -> every ref it goes by."""
    table = ev["containers"]
    stuck = {}
    named = [c for group in found_containers for c in group]
    named += [
        Container(name=ref)
        for ref in table[
            table["what"].isin(["ps-removal-in-progress", "removal-already-in-progress"])
        ]["container"]
    ]
    for c in dict.fromkeys(named):
        refs = {r for r in (c.name, c.id) if r}
        for row in table[table["name"].isin(refs) | table["id"].isin(refs)].itertuples():
            refs |= {r for r in (row.name, row.id) if isinstance(r, str)}
        stuck.setdefault(c.name or c.id, set()).update(refs)
    return dict(list(stuck.items())[:3])


def _container_markers(ev, stuck: dict[str, set[str]]) -> list[tuple]:
    """(kind, time, label, source, line, lane) of each event naming a stuck container: made into
    :func:`_marker` dicts by :func:`build` only for those kept (there may be thousands)."""
    events = ev["events"]
    out = []
    for label, refs in stuck.items():
        shorts = {r[:12] for r in refs if len(r) >= 12}
        named = events["container"]  # a name, an id or a short id; empty elsewhere
        hits = events[named.isin(refs) | named.str.slice(0, 12).isin(shorts)]
        columns = (hits["msg"].tolist(), hits["time"].tolist(), hits["source"].tolist())
        for msg, time, source, line in zip(*columns, hits["line"].tolist(), strict=True):
            call = _CALL.match(msg)
            if (call and call["method"] == "DELETE") or "removal" in msg.lower():
                kind = "removal"
            elif (
                call and call["method"] == "GET" and call["path"].split("?", 1)[0].endswith("/json")
            ):
                kind = "inspect"
            else:
                kind = "container"
            out.append((kind, time, msg, source, line, label))
        if len(stuck) == 1:  # a remover goroutine still waiting on the lock, seen in a dump
            g = ev["goroutines"]
            waiting = g[
                g["lock_key"].notna() & g["stack"].str.contains(r"\.cleanupContainer\b", regex=True)
            ]
            for row in waiting.itertuples():
                out.append(
                    (
                        "removal",
                        row.time,
                        f"goroutine {row.gid} in cleanupContainer (the removal) "
                        f"waits on lock {row.lock_key}",
                        row.source,
                        row.line,
                        label,
                    )
                )
    return out


def build(ev, found_containers: list[list[Container]]) -> dict:
    width, bins = _bins(ev["events"])
    markers = [
        _marker("daemon-start", r.time, f"dockerd {r.version} started", r.source, r.line, "daemon")
        for r in ev["daemons"].itertuples()
    ]
    markers += [
        _marker("panic", r.time, r.message, r.source, r.line, "panics")
        for r in ev["panics"].itertuples()
    ]
    markers += [
        _marker(
            "dump",
            r.time,
            f"goroutine dump ({r.kind}, {r.goroutines} goroutines)",
            r.source,
            r.line,
            "dumps",
        )
        for r in ev["dumps"].itertuples()
        if r.kind != "panic"
    ]
    stuck = _stuck(ev, found_containers)
    kept, seen, omitted = [], {}, {}
    for m in markers + _container_markers(ev, stuck):
        kind = m["kind"] if isinstance(m, dict) else m[0]
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= MAX_MARKERS:
            kept.append(m if isinstance(m, dict) else _marker(*m))
        else:
            omitted[kind] = omitted.get(kind, 0) + 1
    times = [pd.Timestamp(b["start"]) for b in bins] + [
        pd.Timestamp(m["time"]) for m in kept if m["time"]
    ]
    end = max(times) + pd.Timedelta(seconds=width) if bins else (max(times) if times else None)
    return {
        "start": min(times).isoformat() if times else None,
        "end": end.isoformat() if end is not None else None,
        "bin_seconds": width,
        "levels": LEVELS,
        "bins": bins,
        "untimed_events": int(ev["events"]["time"].isna().sum()),
        "containers": list(stuck),
        "markers": kept,
        "omitted_markers": omitted,
    }
