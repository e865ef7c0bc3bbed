"""Strip the envelope a log line arrived in and keep what it said about the line.

Per input, :func:`read` first looks at the first bytes for journalctl's structured renderings
(``export``, ``json-pretty``, ``verbose``: see :mod:`forensics.journal`); everything else is
recognised per line, so files that mix shapes work:

* journalctl ``short`` / ``short-precise`` and classic syslog (RFC 3164, optional ``<PRI>``):
  ``Jan 07 15:25:42 host dockerd[1042]: <message>`` (space-padded days, localized
  ``4月`` / ``nov.`` month names, no pid); rsyslog's ``#011`` and busybox's ``^I`` become TABs;
* journalctl ``short-iso`` / ``short-iso-precise``, RFC 3339 syslog, macOS ``log show``
  (Docker Desktop: the ``… (pid: N): stderr:`` supervisor prefix is removed too);
* RFC 5424: ``<30>1 2025-01-07T15:25:42.000300+00:00 host dockerd 1042 - - <message>``;
* journalctl ``short-full`` / ``with-unit`` (``Sun 2026-11-29 12:27:58 UTC host …``),
  ``short-unix`` (epoch seconds) and ``short-monotonic`` (``[  183.417265] host …``, no wall time);
* journalctl ``-o json`` lines (``MESSAGE`` string or byte array) and Docker's json-file driver
  (``{"log":"…\\n","stream":"stderr","time":"…"}``, 16 KiB partial lines joined);
* Docker Desktop for Windows: ``[15:25:42.123][ApiProxy][Info   ] <message>``;
* journalctl multi-line entries: continuation lines indented to the message column;
* anything else is a plain line (a dockerd log file, a dump file, stderr, ``-o cat``).

Times without a year take it from a logrus/std-log stamp in the message, else from the file's
modification time, and roll over at New Year.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from forensics.ingest import journal, sources
from forensics.ingest.skim import Skim, Skipped
from forensics.model import Record

MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
# glibc's abbreviated month names in the locales support tickets come in (fr, de, es, it, nl, pt)
MONTHS.update(
    {
        name: i
        for i, names in enumerate(
            [
                "janv ene gen jan",
                "févr fév fevr mär mrz ene feb fev",
                "mars mär mrz mar maa",
                "avr avril abr apr",
                "mai mei mag",
                "juin jun giu",
                "juil jul lug",
                "août aout ago ags",
                "sept set sep",
                "okt ott out oct",
                "nov",
                "déc dez dic dec",
            ],
            1,
        )
        for name in names.split()
    }
)

_IDENT = (
    r"(?P<host>\S{1,255}) (?:[a-z0-9]{2,8}\.[a-z]{3,7} )?"  # busybox syslogd: "host user.notice ident[pid]:"
    r"(?P<ident>[^\s\[\]:]{1,64})(?:\[(?P<pid>\d{1,10})\])?: ?"
)
SHORT = re.compile(  # short, short-precise, RFC 3164 syslog; localized month names
    r"(?:<\d{1,3}>)?(?P<mon>[^\W\d_]{3,5}\.?|\d{1,2}月) {1,2}(?P<day>\d{1,2}) "
    r"(?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d{1,9})? " + _IDENT
)
ISO = re.compile(  # short-iso, short-iso-precise, RFC 3339 syslog, macOS log show
    r"(?:<\d{1,3}>)?(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d))  ?"
    + _IDENT
)
RFC5424 = re.compile(
    r"<\d{1,3}>\d{1,2} (?P<ts>\S{1,40}) (?P<host>\S{1,255}) (?P<ident>\S{1,48}) (?P<pid>\d{1,10}|-) \S{1,32} "
    r"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+) {0,2}"
)  # rsyslog keeps the 3164 message's leading space
FULL = re.compile(  # short-full, with-unit: "Sun 2026-11-29 12:27:58 UTC host ident[pid]:"
    r"[^\W\d_]{2,4}\.? (?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,9})?) (?P<zone>[A-Za-z+\-0-9]{1,6}) "
    + _IDENT
)
UNIX = re.compile(r"(?P<epoch>\d{9,11})(?:\.(?P<usec>\d{1,9}))? " + _IDENT)  # short-unix
MONOTONIC = re.compile(r"\[ *(?P<mono>\d+\.\d+)\] " + _IDENT)  # short-monotonic: no wall time
WINDOWS = re.compile(
    r"(?P<host>)(?P<pid>)\[(?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d{1,9})?\]"
    r"\[(?P<ident>[^\]]{1,64}?) *\]\[[A-Za-z]{1,16} *\] ?"
)
SUPERVISOR = re.compile(
    r"[^\n]{0,300}?\(pid: (?P<pid>\d{1,10})\): (?:stderr|stdout): "
)  # Docker Desktop (macOS)
# --input-format choices: "auto", the structured renderings, or one line shape (or "plain")
FORMATS = [
    "auto",
    "plain",
    "journal-short",
    "journal-iso",
    "journal-full",
    "journal-unix",
    "journal-monotonic",
    "syslog-5424",
    "journal-json",
    "journal-json-pretty",
    "journal-export",
    "journal-verbose",
    "json-file",
    "desktop-windows",
]


@functools.lru_cache(maxsize=256)
def _month(text: str) -> int | None:
    if text.endswith("月"):
        value = int(text[:-1])
        return value if 1 <= value <= 12 else None
    return MONTHS.get(text.lower().rstrip("."))


def _pid(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _year_in(text: str) -> int | None:
    """A logrus or std-log timestamp inside the message tells the year a short envelope omits."""
    at = 6 if text.startswith('time="') else 0
    head = text[at : at + 5]
    if len(head) == 5 and head[4] in "-/" and head[:4].isdigit() and head[:2] in ("19", "20"):
        return int(head[:4])
    return None


_LAST: list = [
    None,
    None,
]  # the last (stamp text, year) read and its time: most lines share their second


def _short_time(m: re.Match, year: int) -> datetime | None:
    key = (m.group(1, 2, 3, 4), year)
    if key == _LAST[0]:
        return _LAST[1]
    month = _month(m["mon"])
    hms, frac = m["hms"], m["frac"]
    try:
        stamp = datetime(
            year,
            month,
            int(m["day"]),
            int(hms[:2]),
            int(hms[3:5]),
            int(hms[6:8]),
            int((frac[1:] + "000000")[:6]) if frac else 0,
        )
    except (TypeError, ValueError):  # unknown month name, 30 February
        stamp = None
    _LAST[:] = [key, stamp]
    return stamp


_ZONE = re.compile(r"([+-]\d\d)(\d\d)$")


def _iso_time(text: str) -> datetime | None:
    text = text.replace(" ", "T", 1)
    if "." in text:  # Python keeps microseconds only
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
    text = _ZONE.sub(
        r"\1:\2", text.replace("Z", "+00:00")
    )  # +0100 -> +01:00: Python 3.10 reads only the latter
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _full_time(m: re.Match, year: int) -> datetime | None:
    stamp = _iso_time(m["ts"])
    return (
        stamp.replace(tzinfo=timezone.utc) if stamp and m["zone"] in ("UTC", "GMT", "Z") else stamp
    )


def _unix_time(m: re.Match, year: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(
            int(m["epoch"]) + int((m["usec"] or "0")[:6].ljust(6, "0")) / 1e6, timezone.utc
        )
    except (OverflowError, OSError, ValueError):
        return None


def _no_time(m: re.Match, year: int) -> None:
    return None


# (envelope name, pattern, time reader, characters a line of that shape can start with)
SHAPES = [
    ("journal-short", SHORT, _short_time, None),
    ("journal-iso", ISO, lambda m, year: _iso_time(m["ts"]), "0123456789<"),
    ("syslog-5424", RFC5424, lambda m, year: _iso_time(m["ts"]), "<"),
    ("journal-full", FULL, _full_time, None),
    ("journal-unix", UNIX, _unix_time, "0123456789"),
    ("journal-monotonic", MONOTONIC, _no_time, "["),
    ("desktop-windows", WINDOWS, _no_time, "["),
]


def _match(line: str, shapes: list) -> tuple[str, re.Match, object] | None:
    """The first shape whose envelope starts the line (in its first 400 characters)."""
    first = line[:1]
    for name, pattern, reader, starts in shapes:
        if starts is None or first in starts:
            m = pattern.match(line, 0, 400)
            if m is not None:
                return name, m, reader
    return None


# what lines that cannot carry an envelope start with: logrus, dump lines, indented continuations
_NO_ENVELOPE = ('time="', "goroutine ", "level=", " ", "\t")


def _unescape(text: str) -> str:
    """rsyslog writes control characters as #ooo (TAB: #011); busybox syslogd as ^I."""
    if "#0" in text:
        text = re.sub(
            r"#0([0-3][0-7])", lambda m: chr(int(m[1], 8)) if m[1] in ("11", "12") else m[0], text
        )
    while text.startswith("^I"):
        text = "\t" + text[2:]
    return text


def read(
    inp: sources.Input,
    problems: list[sources.Problem],
    fmt: str = "auto",
    year: int | None = None,
    skim: Skim | None = None,
) -> Iterator[Record | Skipped]:
    """The Records of one open input, in the envelope detected (or forced with ``fmt``); with
    ``skim``, routine stretches of a line-shaped log come as :class:`Skipped` counts."""
    if year is None and inp.mtime:
        year = datetime.fromtimestamp(inp.mtime, timezone.utc).year

    def problem(line: int, message: str) -> None:
        problems.append(sources.Problem(inp.name, line, message))

    if fmt == "auto":
        fmt = journal.detect(sources.head(inp)) or "auto"
    if fmt == "journal-export":
        try:
            yield from journal.export_records(inp.name, inp.stream, problem)
        except sources.READ_ERRORS as exc:
            problems.append(sources.Problem(inp.name, None, f"read error: {exc}"))
        return
    if fmt == "journal-json-pretty":
        yield from journal.pretty_records(inp.name, sources.read_lines(inp, problems), problem)
    elif fmt == "journal-verbose":
        yield from journal.verbose_records(inp.name, sources.read_lines(inp, problems), problem)
    else:
        yield from records(inp.name, sources.read_lines(inp, problems, skim), year, fmt, problem)


def records(
    source: str,
    lines: Iterable[str | Skipped],
    year: int | None = None,
    fmt: str = "auto",
    problem: journal.Problem | None = None,
) -> Iterator[Record | Skipped]:
    """One Record per physical line (continuations of a journal entry included); Skipped counts pass through."""
    year = year or datetime.now(timezone.utc).year
    shapes = SHAPES if fmt == "auto" else [s for s in SHAPES if s[0] == fmt]
    entries = journal.Entries(source, "journal-json", problem)
    json_file = JsonFile(source)
    previous: Record | None = None
    column = last_month = lineno = 0
    # the last envelope's shape, its text from the host on and before it, and what they hold
    shape = who = host = proc = pid = stamp = when = when_year = None
    month = 0
    # the last line's whole short envelope when it ends with ": ": a line that starts with it has
    # that envelope (its fields are rigid up to the host and none can end at that colon and space)
    envelope = m = None
    for line in lines:
        lineno += 1
        if type(line) is Skipped:
            lineno += line.count - 1
            yield line
            continue
        if envelope is not None and line.startswith(envelope):
            text = line[column:]
            year = _year_in(text) or year  # the same month as the line before: no New Year
            if year != when_year:
                when, when_year = _short_time(m, year), year
            previous = Record(
                source, lineno, _unescape(text), when, host, proc, pid, "journal-short"
            )
            yield previous
            continue
        envelope = None
        if line[:1] == "{" and fmt in ("auto", "journal-json", "json-file"):
            out = (
                json_file.feed(line, lineno)
                if line.startswith('{"log":') and fmt != "journal-json"
                else journal.json_records(line, lineno, entries)
                if journal.is_json_entry(line)
                else None
            )
            if out is not None:
                yield from out
                previous, column = None, 0
                continue
        found = (
            _match(line, shapes) if shapes and line and not line.startswith(_NO_ENVELOPE) else None
        )
        if found is not None:
            name, m, reader = found
            column, at = m.end(), m.start("host")
            text = line[column:]
            # The same envelope text before the host (the time), in the same shape, holds the same
            # time, and the same text from the host on the same host, process and pid: a match's
            # groups on either side depend on that side's text only. Most lines repeat the line
            # before's process, and many its second.
            if line[at:column] != who or name != shape:
                who = line[at:column]
                host, proc, pid = m["host"] or None, m["ident"], _pid(m["pid"])
            if line[:at] != stamp or name != shape:
                stamp, shape, when_year = line[:at], name, None
                month = (_month(m["mon"]) or 0) if name == "journal-short" else 0
            if name == "journal-short":
                year = _year_in(text) or (
                    year + 1 if month < last_month - 6 else year
                )  # New Year between two lines
                last_month = month
                text = _unescape(text)
                if line[column - 2 : column] == ": ":
                    envelope = line[:column]
            elif name in ("journal-iso", "syslog-5424"):
                text = _unescape(text)
                if sup := SUPERVISOR.match(text):
                    text = text[sup.end() :]
                    rec = Record(
                        source, lineno, text, reader(m, year), host, proc, _pid(sup["pid"]), name
                    )
                    previous = rec
                    yield rec
                    continue
            if year != when_year:
                when, when_year = reader(m, year), year
            rec = Record(source, lineno, text, when, host, proc, pid, name)
        elif (
            previous is not None
            and previous.envelope != "plain"
            and column > 20
            and line[:column].isspace()
            and len(line) > column
        ):
            # journalctl prints a multi-line MESSAGE once, indented to the message column
            rec = Record(
                source,
                lineno,
                line[column:],
                previous.time,
                previous.host,
                previous.proc,
                previous.pid,
                previous.envelope,
            )
        else:
            rec = Record(source, lineno, "" if journal.MARKER.fullmatch(line) else line)
            column = 0
        previous = rec
        yield rec
    yield from entries.rest()
    yield from json_file.rest()


class JsonFile:
    """Docker's json-file log driver: one JSON object per line, long lines cut into 16 KiB partials
    (``log`` without its trailing newline) that are joined again."""

    def __init__(self, source: str):
        self.source = source
        self._partial: dict[str, tuple[str, int]] = {}  # stream -> (text so far, first line)

    def feed(self, line: str, lineno: int) -> list[Record] | None:
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        if not isinstance(obj, dict) or not isinstance(obj.get("log"), str):
            return None
        stream, text = str(obj.get("stream", "")), obj["log"]
        before, first = self._partial.pop(stream, ("", lineno))
        text = before + text
        if not text.endswith("\n"):
            self._partial[stream] = (text, first)
            return []
        when = _iso_time(obj["time"]) if isinstance(obj.get("time"), str) else None
        return [
            Record(
                self.source,
                first,
                text[:-1].rstrip("\r"),
                when,
                None,
                stream or None,
                None,
                "json-file",
            )
        ]

    def rest(self) -> list[Record]:
        out = [
            Record(self.source, first, text, None, None, stream or None, None, "json-file")
            for stream, (text, first) in self._partial.items()
        ]
        self._partial.clear()
        return out
