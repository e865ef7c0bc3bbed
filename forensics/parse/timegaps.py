"""Stretches of an input with no line at all: a quiet daemon, or lines lost (rotation, vacuum).

Each timed line is compared with the timed line before it in the same input; a jump forward of
``GAP`` or more is a gap. Zone-less and zoned times are followed apart (a zone-less envelope time
is local, a logrus time UTC), and the count restarts after lines skimmed unparsed (whose times
are not known).
"""

from __future__ import annotations

from datetime import datetime, timedelta

GAP = timedelta(hours=1)
SHOWN = 3  # gaps listed in an input's coverage


class Gaps:
    def __init__(self) -> None:
        self.last: dict[bool, datetime] = {}  # zone-less? -> the latest time seen
        self.found: list[
            tuple[datetime, datetime, int]
        ] = []  # (from, to, line of the first line after)
        self._text: tuple[str, datetime | None] = ("", None)

    def see(self, when: datetime | None, text: str, line: int) -> None:
        """One line: its envelope time, else the second of a logrus ``time="…"`` it starts with."""
        if when is None and text.startswith('time="'):
            second = text[6:25]
            if second != self._text[0]:
                try:
                    self._text = (second, datetime.fromisoformat(second + "+00:00"))
                except ValueError:
                    self._text = (second, None)
            when = self._text[1]
        if when is None:
            return
        naive = when.tzinfo is None
        before = self.last.get(naive)
        if before is not None and when - before >= GAP:
            self.found.append((before, when, line))
        if before is None or when > before:
            self.last[naive] = when

    def restart(self) -> None:
        self.last.clear()


def describe(gaps: list[tuple[datetime, datetime, int]], utc) -> str | None:
    """One coverage note for the gaps of an input; ``utc`` turns a time into UTC."""
    if not gaps:
        return None
    biggest = sorted(gaps, key=lambda g: g[0] - g[1])[:SHOWN]
    shown = "; ".join(
        f"{_hm(b - a)} before line {line} ({utc(a):%Y-%m-%d %H:%M} → {utc(b):%Y-%m-%d %H:%M} UTC)"
        for a, b, line in sorted(biggest, key=lambda g: g[2])
    )
    more = f" (the {SHOWN} longest shown)" if len(gaps) > SHOWN else ""
    return f"{len(gaps)} gap{'s' if len(gaps) > 1 else ''} of an hour or more with no line{more}: {shown}"


def _hm(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    return (f"{days} d " if days else "") + f"{minutes // 60} h {minutes % 60:02d} min"
