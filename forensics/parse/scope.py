"""Time scoping (--since / --until): keep only the log events and dumps of a window.

A bound is absolute (``2025-01-07T15:00:00Z``, ``2025-01-07 15:00``; local time without a zone)
or relative to now (``30m``, ``2h``, ``3d``, ``1w`` ago): the one parser `forensics collect
--since` uses. A dump's time is the one parse.date_dumps gave it (its file name, the
"goroutine stacks written" line, or the log line around it). Lines and dumps without a time
cannot be placed: they are kept, and the report says how many.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from forensics.parse import Parsed

_STAMP = re.compile(
    r'(?:^|time=")(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?'
)
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
KEPT_ALWAYS = ("Docker daemon",)  # the engine version line: true for the whole lifetime it starts


@dataclass(frozen=True)
class Window:
    since: datetime | None = None
    until: datetime | None = None

    def __bool__(self) -> bool:
        return self.since is not None or self.until is not None

    def holds(self, t: datetime | None) -> bool:
        return t is None or (
            (self.since is None or t >= self.since) and (self.until is None or t <= self.until)
        )

    def describe(self) -> str:
        parts = [
            f"since {self.since.isoformat()}" if self.since else "",
            f"until {self.until.isoformat()}" if self.until else "",
        ]
        return " ".join(p for p in parts if p)

    def key(self) -> str:
        return self.describe() or "all"


def parse_window(since: str | None, until: str | None, now: datetime | None = None) -> Window:
    """The window of two option values; ValueError naming the option for a bad one."""
    now = now or datetime.now(timezone.utc)
    bounds = []
    for option, text in (("--since", since), ("--until", until)):
        if text is None or not text.strip():
            bounds.append(None)
            continue
        try:
            bounds.append(parse_since(text, now))
        except ValueError:
            raise ValueError(
                f"{option} {text!r}: give a duration ago (30m, 2h, 3d) or a time "
                "(2025-01-07T15:00:00Z)"
            ) from None
    window = Window(*bounds)
    if window.since and window.until and window.since > window.until:
        raise ValueError(f"--since {since!r} is after --until {until!r}")
    return window


def apply(parsed: Parsed, window: Window) -> list[str]:
    """Drop the events and dumps outside ``window``; what it did, for the report's warnings."""
    if not window:
        return []
    events, dumps = parsed.events, parsed.dumps
    keep = [
        e
        for e in events
        if window.holds(e.time)
        or (e.msg in KEPT_ALWAYS and (window.until is None or e.time <= window.until))
    ]
    parsed.events = keep
    parsed.dumps = [d for d in dumps if window.holds(d.time)]
    untimed = sum(e.time is None for e in keep) + sum(d.time is None for d in parsed.dumps)
    note = (
        f"time scope {window.describe()}: kept {len(keep)} of {len(events)} log events and "
        f"{len(parsed.dumps)} of {len(dumps)} dumps"
    )
    if untimed:
        note += f"; {untimed} lines or dumps without a time could not be placed and were kept"
    return [note]


def parse_since(text: str, now: datetime) -> datetime:
    """'2h', '30m', '1d' ago, or a time ('2025-01-07T15:00:00Z'; local time without a zone)."""
    m = _SPAN.match(text.strip())
    if m:
        return now - timedelta(seconds=float(m[1]) * _UNITS[m[2]])
    stamp = stamp_of(text.strip())
    if stamp is None:
        raise ValueError(
            f"--since {text!r}: give a duration (30m, 2h, 1d) or a time (2025-01-07T15:00:00Z)"
        )
    return stamp


def stamp_of(text: str) -> datetime | None:
    m = _STAMP.search(text)
    if not m:
        return None
    zone = m[4] or ""
    zone = (
        "+00:00"
        if zone == "Z"
        else (zone if ":" in zone or not zone else zone[:3] + ":" + zone[3:])
    )
    stamp = datetime.fromisoformat(f"{m[1]}T{m[2]}.{(m[3] or '0')[:6]:0<6}{zone}")
    return stamp.astimezone(timezone.utc)  # a zone-less time is local
