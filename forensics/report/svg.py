"""Geometry of the report's two drawings, computed from the report data: the timeline and the lock
wait-for graph. Only numbers and plain strings come out; templates/svg.html.j2 draws them (escaped)."""

from __future__ import annotations

import math
from datetime import datetime

WIDTH, LEFT, RIGHT = 960, 120, 12
PLOT = WIDTH - LEFT - RIGHT
BARS_TOP, BARS_HEIGHT, LANE = 14, 110, 24
STACK = ["error", "warning", "info", "debug", "other"]  # bottom to top
LANES = [("daemon", "daemon starts"), ("panics", "panics"), ("dumps", "goroutine dumps")]
NODE_W, NODE_H, ROW = 300, 36, 46
MAX_WAITERS = 10


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def clip(text: str, size: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= size else text[: size - 1] + "…"


# Marker outlines as SVG paths around (x, y): triangle, cross, diamond, square, dot (calls on the container).
SHAPES = {
    "daemon-start": "M{x} {t7} L{r7} {y6} L{l7} {y6} Z",
    "panic": "M{l6} {t6} L{r6} {y6} M{r6} {t6} L{l6} {y6}",
    "dump": "M{x} {t7} L{r7} {y} L{x} {y7} L{l7} {y} Z",
    "removal": "M{l5} {t5} h10 v10 h-10 Z",
}
DOT = "M{l3} {y} a3.5 3.5 0 1 0 7 0 a3.5 3.5 0 1 0 -7 0"


def _shape(kind: str, x: float, y: float) -> str:
    at = {
        "x": x,
        "y": y,
        "y6": y + 6,
        "y7": y + 7,
        "t5": y - 5,
        "t6": y - 6,
        "t7": y - 7,
        "l3": x - 3.5,
        "l5": x - 5,
        "l6": x - 6,
        "l7": x - 7,
        "r6": x + 6,
        "r7": x + 7,
    }
    return SHAPES.get(kind, DOT).format(**{k: f"{v:.1f}" for k, v in at.items()})


def timeline(data: dict | None) -> dict | None:
    """Bars (events per bin, stacked by level), lanes of markers, and time ticks."""
    if not data or not data.get("start"):
        return None
    start, end = _time(data["start"]), _time(data["end"])
    span = max((end - start).total_seconds(), 1.0)

    def x(when: datetime) -> float:
        return LEFT + (when - start).total_seconds() / span * PLOT

    width = data["bin_seconds"] or 1
    tallest = max([sum(b["counts"].values()) for b in data["bins"]] or [1])
    bars = []
    for b in data["bins"]:
        left, bottom = x(_time(b["start"])), BARS_TOP + BARS_HEIGHT
        w = max(PLOT * width / span - 1, 1.5)
        total = sum(b["counts"].values())
        title = (
            f"{b['start']}: {total} events ("
            + ", ".join(f"{n} {lv}" for lv, n in b["counts"].items())
            + ")"
        )
        for level in STACK:
            h = b["counts"].get(level, 0) / tallest * BARS_HEIGHT
            if h:
                bottom -= h
                bars.append(
                    {
                        "x": round(left, 1),
                        "y": round(bottom, 1),
                        "w": round(w, 1),
                        "h": round(h, 1),
                        "level": level,
                        "title": title,
                    }
                )
    lanes = LANES + [(name, f"container {clip(name, 14)}") for name in data["containers"]]
    top = BARS_TOP + BARS_HEIGHT + 30
    rows = [{"y": top + i * LANE, "label": label} for i, (_, label) in enumerate(lanes)]
    where = {key: top + i * LANE for i, (key, _) in enumerate(lanes)}
    marks = [
        {
            "d": _shape(m["kind"], x(_time(m["time"])), where[m["lane"]]),
            "kind": m["kind"],
            "title": f"{m['time']} {m['label']} ({m['source']}:{m['line']})",
        }
        for m in data["markers"]
        if m["time"] and m["lane"] in where
    ]
    ticks = []
    for i in range(7):
        when = start + (end - start) * (i / 6)
        fmt = "%H:%M:%S" if span <= 86400 else "%m-%d %H:%M"
        ticks.append({"x": round(LEFT + PLOT * i / 6, 1), "label": when.strftime(fmt)})
    height = top + len(lanes) * LANE
    return {
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "axis": BARS_TOP + BARS_HEIGHT,
        "bars": bars,
        "marks": marks,
        "lanes": rows,
        "ticks": ticks,
        "tallest": tallest,
        "bin_seconds": width,
    }


def _edge(x1: float, y1: float, x2: float, y2: float, kind: str) -> dict:
    """A line with its arrowhead drawn as a path (no <marker>: its id would repeat across drawings)."""
    angle = math.atan2(y2 - y1, x2 - x1)
    left = (x2 - 10 * math.cos(angle - 0.4), y2 - 10 * math.sin(angle - 0.4))
    right = (x2 - 10 * math.cos(angle + 0.4), y2 - 10 * math.sin(angle + 0.4))
    head = f"M{x2:.1f} {y2:.1f} L{left[0]:.1f} {left[1]:.1f} L{right[0]:.1f} {right[1]:.1f} Z"
    return {
        "x1": round(x1, 1),
        "y1": round(y1, 1),
        "x2": round(x2, 1),
        "y2": round(y2, 1),
        "kind": kind,
        "head": head,
    }


def _short(func: str) -> str:
    return func.rsplit("/", 1)[-1]


def _who(gid: int, weight: int) -> str:
    if gid < 0 or weight > 1:
        return f"{weight} goroutine{'s' if weight != 1 else ''} (pprof group)"
    return f"goroutine {gid}"


def lock_graphs(locks: list[dict]) -> list[dict]:
    """One wait-for graph per distinct lock (the same lock seen in several dumps is drawn once)."""
    groups: dict[tuple, dict] = {}
    for lock in locks:
        key = (
            lock["key"],
            lock["status"],
            tuple(w["gid"] for w in lock["waiting"]),
            tuple(lock["holder_gids"]),
        )
        group = groups.setdefault(key, {"lock": lock, "seen": []})
        group["seen"].append(
            {"dump": lock["dump"], "source": lock["source"], "line": lock.get("line")}
        )
    return [_graph(g["lock"], g["seen"]) for g in list(groups.values())[:20]]


def _graph(lock: dict, seen: list[dict]) -> dict:
    waiting = lock["waiting"][:MAX_WAITERS]
    more = len(lock["waiting"]) - len(waiting)
    holders = lock["holding"] or [None]
    rows = max(len(waiting) + (1 if more else 0), len(holders), 1)
    height = rows * ROW + 8
    mid_y = height / 2
    lock_x, right_x = (WIDTH - 240) / 2, WIDTH - NODE_W - 4
    name = (
        lock["key"]
        if not lock["key"].startswith("site:")
        else f"locked in {lock['key'].rsplit('.', 1)[-1]}"
    )
    status = {
        "orphaned": "orphaned: no holder",
        "holder-unseen": "holder not among the given goroutines",
        "held": "held",
        "deadlock": "deadlock",
    }.get(lock["status"], lock["status"])
    nodes = [
        {
            "x": lock_x,
            "y": mid_y - NODE_H / 2 - 6,
            "w": 240,
            "h": NODE_H + 12,
            "kind": f"lock {lock['status']}",
            "label": clip(f"{lock['kind']} {name}", 34),
            "sub": status,
            "title": f"{lock['kind']} {lock['key']}",
        }
    ]
    edges = []
    for i, w in enumerate(waiting):
        y = 4 + i * ROW
        wait = f", waiting {w['wait_minutes']} min" if w.get("wait_minutes") else ""
        nodes.append(
            {
                "x": 4,
                "y": y,
                "w": NODE_W,
                "h": NODE_H,
                "kind": "waiter",
                "label": _who(w["gid"], w.get("weight", 1)),
                "sub": clip(_short(w["site"]) + wait, 44),
                "title": f"{_who(w['gid'], w.get('weight', 1))} waits in {w['site']}{wait}",
            }
        )
        edges.append(_edge(4 + NODE_W, y + NODE_H / 2, lock_x, mid_y, "waits"))
    if more:
        nodes.append(
            {
                "x": 4,
                "y": 4 + len(waiting) * ROW,
                "w": NODE_W,
                "h": NODE_H,
                "kind": "waiter",
                "label": f"… {more} more waiters",
                "sub": "",
                "title": f"{more} more goroutines wait on it",
            }
        )
    for i, h in enumerate(holders):
        y = 4 + i * ROW + (rows - len(holders)) * ROW / 2
        if h is None:
            nodes.append(
                {
                    "x": right_x,
                    "y": y,
                    "w": NODE_W,
                    "h": NODE_H,
                    "kind": "gone",
                    "label": "no goroutine holds it",
                    "sub": "holder gone: panicked or never unlocked",
                    "title": "No goroutine in the dump holds this lock: whoever locked it is gone.",
                }
            )
        else:
            nodes.append(
                {
                    "x": right_x,
                    "y": y,
                    "w": NODE_W,
                    "h": NODE_H,
                    "kind": "holder",
                    "label": f"goroutine {h['gid']} ({h['confidence']})",
                    "sub": clip(h["reason"], 44),
                    "title": f"goroutine {h['gid']} probably holds it ({h['confidence']}): {h['reason']}",
                }
            )
        edges.append(_edge(lock_x + 240, mid_y, right_x, y + NODE_H / 2, "held" if h else "gone"))
    return {
        "width": WIDTH,
        "height": height,
        "nodes": nodes,
        "edges": edges,
        "lock": lock,
        "seen": seen,
    }
