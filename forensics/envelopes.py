"""Strip the envelope a log line arrived in and keep what it said about the line.

Recognised per line, so files that mix shapes work:

* journalctl ``short`` / ``short-precise`` and classic syslog (RFC 3164):
  ``Jan 07 15:25:42 host dockerd[1042]: <message>`` (space-padded days, localized
  ``4月`` month names, no pid);
* journalctl ``short-iso`` / ``short-iso-precise`` and RFC 3339 syslog:
  ``2025-01-07T15:25:42+0000 host dockerd[1042]: <message>``;
* journalctl ``short-full`` / ``with-unit`` (``Sun 2026-11-29 12:27:58 UTC host …``),
  ``short-unix`` (epoch seconds) and ``short-monotonic`` (``[  183.417265] host …``, no wall time);
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
# glibc's abbreviated month names in the locales support tickets come in (fr, de, es, it, nl, pt)
MONTHS.update({name: i for i, names in enumerate([
    "janv ene gen jan", "févr fév fevr mär mrz ene feb fev", "mars mär mrz mar maa", "avr avril abr apr",
    "mai mei mag", "juin jun giu", "juil jul lug", "août aout ago ags", "sept set sep",
    "okt ott out oct", "nov", "déc dez dic dec"], 1) for name in names.split()})

_IDENT = r"(?P<host>\S{1,255}) (?P<ident>[^\s\[\]:]{1,64})(?:\[(?P<pid>\d{1,10})\])?: ?"
SHORT = regex.compile(  # short, short-precise, RFC 3164 syslog; localized month names
    r"(?P<mon>[^\W\d_]{3,5}\.?|\d{1,2}月) {1,2}(?P<day>\d{1,2}) "
    r"(?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d{1,9})? " + _IDENT)
ISO = regex.compile(  # short-iso, short-iso-precise, RFC 3339 syslog
    r"(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)) " + _IDENT)
FULL = regex.compile(  # short-full, with-unit: "Sun 2026-11-29 12:27:58 UTC host ident[pid]:"
    r"[^\W\d_]{2,4}\.? (?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,9})?) (?P<zone>[A-Za-z+\-0-9]{1,6}) " + _IDENT)
UNIX = regex.compile(r"(?P<epoch>\d{9,11})(?:\.(?P<usec>\d{1,9}))? " + _IDENT)  # short-unix
MONOTONIC = regex.compile(r"\[ *(?P<mono>\d+\.\d+)\] " + _IDENT)  # short-monotonic: no wall time
# A logrus or std-log timestamp inside the message tells the year a short envelope omits.
_YEAR_HINT = regex.compile(r'(?:time="|^)(?P<year>(?:19|20)\d\d)[-/]\d\d[-/]\d\d')


def _month(text: str) -> int | None:
    if text.endswith("月"):
        value = int(text[:-1])
        return value if 1 <= value <= 12 else None
    return MONTHS.get(text.lower().rstrip("."))


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
    text = text.replace(" ", "T", 1)
    if "." in text:  # Python keeps microseconds only
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _full_time(m: regex.Match, year: int) -> datetime | None:
    stamp = _iso_time(m["ts"])
    return stamp.replace(tzinfo=timezone.utc) if stamp and m["zone"] in ("UTC", "GMT", "Z") else stamp


def _unix_time(m: regex.Match, year: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(m["epoch"]) + int((m["usec"] or "0")[:6].ljust(6, "0")) / 1e6, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


# (envelope name, pattern, time reader); tried in order on each line
SHAPES = [
    ("journal-short", SHORT, _short_time),
    ("journal-iso", ISO, lambda m, year: _iso_time(m["ts"])),
    ("journal-full", FULL, _full_time),
    ("journal-unix", UNIX, _unix_time),
    ("journal-monotonic", MONOTONIC, lambda m, year: None),
]


def _match(head: str) -> tuple[str, regex.Match, object] | None:
    for name, pattern, reader in SHAPES:
        m = pattern.match(head)
        if m is not None:
            return name, m, reader
    return None


def records(source: str, lines: Iterable[str], year: int | None = None) -> Iterator[Record]:
    """One Record per physical line (continuations of a journal entry included)."""
    year = year or datetime.now(timezone.utc).year
    previous: Record | None = None
    column = 0
    for lineno, line in enumerate(lines, 1):
        head = line[:400]
        found = _match(head) if head[:1] not in ('t', '\t', ' ', 'g', '') else None
        if found is not None:
            name, m, reader = found
            text = line[m.end():]
            hint = _YEAR_HINT.search(text[:40])
            if hint:
                year = int(hint["year"])
            rec = Record(source, lineno, text, reader(m, year), m["host"], m["ident"],
                         int(m["pid"]) if m["pid"] else None, name)
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
