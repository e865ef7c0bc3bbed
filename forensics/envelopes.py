"""Strip the envelope a log line arrived in and keep what it said about the line.

Recognised per line, so files that mix shapes work:

* journalctl ``short`` / ``short-precise`` and classic syslog (RFC 3164):
  ``Jan 07 15:25:42 host dockerd[1042]: <message>`` (space-padded days, localized
  ``4月`` month names, no pid);
* journalctl ``short-iso`` / ``short-iso-precise`` and RFC 3339 syslog:
  ``2025-01-07T15:25:42+0000 host dockerd[1042]: <message>``;
* journalctl multi-line entries: continuation lines indented to the message column;
* anything else is a plain line (a dockerd log file, a dump file, stderr).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Iterator

import regex

from .model import Record

MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}

_IDENT = r"(?P<ident>[^\s\[\]:]{1,64})(?:\[(?P<pid>\d{1,10})\])?: ?"
SHORT = regex.compile(
    r"(?P<mon>[A-Za-z]{3}|\d{1,2}月) {1,2}(?P<day>\d{1,2}) "
    r"(?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d{1,9})? (?P<host>\S{1,255}) " + _IDENT)
ISO = regex.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)) "
    r"(?P<host>\S{1,255}) " + _IDENT)
# A logrus or std-log timestamp inside the message tells the year a short envelope omits.
_YEAR_HINT = regex.compile(r'(?:time="|^)(?P<year>(?:19|20)\d\d)[-/]\d\d[-/]\d\d')


def _month(text: str) -> int | None:
    if text.endswith("月"):
        value = int(text[:-1])
        return value if 1 <= value <= 12 else None
    return MONTHS.get(text.lower())


def _short_time(m: regex.Match, year: int) -> datetime | None:
    month = _month(m["mon"])
    if month is None:
        return None
    try:
        stamp = datetime.strptime(f"{year}-{month:02d}-{int(m['day']):02d} {m['hms']}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    if m["frac"]:
        stamp = stamp.replace(microsecond=int((m["frac"][1:] + "000000")[:6]))
    return stamp


def _iso_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None


def records(source: str, lines: Iterable[str], year: int | None = None) -> Iterator[Record]:
    """One Record per physical line (continuations of a journal entry included)."""
    year = year or datetime.now(timezone.utc).year
    previous: Record | None = None
    column = 0
    for lineno, line in enumerate(lines, 1):
        rec = None
        head = line[:400]
        m = SHORT.match(head)
        if m is None and head[:1].isdigit():
            m = ISO.match(head)
        if m is not None:
            text = line[m.end():]
            hint = _YEAR_HINT.search(text[:40])
            if hint:
                year = int(hint["year"])
            stamp = _iso_time(m["ts"]) if "ts" in m.groupdict() else _short_time(m, year)
            rec = Record(source, lineno, text, stamp, m["host"], m["ident"],
                         int(m["pid"]) if m["pid"] else None,
                         "journal-iso" if "ts" in m.groupdict() else "journal-short")
            column = m.end()
        elif previous is not None and previous.envelope != "plain" and column > 20 \
                and line[:column].isspace() and len(line) > column:
            # journalctl prints a multi-line MESSAGE once, indented to the message column
            rec = Record(source, lineno, line[column:], previous.time, previous.host,
                         previous.proc, previous.pid, previous.envelope)
        else:
            rec = Record(source, lineno, line)
            column = 0
        previous = rec
        yield rec
