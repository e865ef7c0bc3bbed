"""Split envelope-stripped records into log events and goroutine dumps.

Each (input, host, pid) stream gets its own traceback reader, so a dump whose
journal lines are interleaved with another process's lines is still read whole.
What a reader does not take is a log event: a logrus line (text or JSON) when it parses
as one, otherwise a plain text event (the std-log lines, `docker ps` pastes, ...).

Before a record reaches its reader, the segmenter repairs what transports did to dumps:
a blank line after every line (dropped unless a goroutine or pprof group follows), a logrus
line that journald cut at its line limit (joined with the records that continue it), and a
whole dump escaped inside one logrus ``msg`` (containerd, dockerd <= 1.12; also escaped twice),
which is unescaped and read as a dump cited at that log line.

Memory stays bounded on large inputs: past ``KEEP_ALL`` events per input, an event whose
message (numbers and ids blanked) was already seen ``KEEP_SAME`` times is only counted,
except the ``CONTEXT`` events just before a dump or panic, which are kept.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import PurePath

import regex

from forensics.ingest import skim, sources
from forensics.ingest.skim import Skipped
from forensics.model import Dump, Record
from forensics.parse import logjson, logrus, programs, timegaps
from forensics.parse.fastdump import parse_slabs, texts
from forensics.parse.goroutines import DumpReader, looks_like_dump

KEEP_ALL, KEEP_SAME, CONTEXT = 20_000, 200, 200
NEEDLES = (
    "Starting up",
    "goroutine",
    "panic",
)  # lifetimes and dumps logged as one message: never skimmed
READ_SIZE = 1 << 18  # bytes read at a time by parse_dump_file
MAX_JOIN = 1 << 22  # a logrus line cut by journald is joined up to this many characters
_VARIABLE = re.compile(skim.VARIABLE)
# what follows a logrus line's time="..." up to 160 characters of its message (at most 341)
_QUICK_FORM = r' level=(\w{{1,8}}) msg="({char}{{0,160}})'
_QUICK = re.compile(_QUICK_FORM.format(char=r'(?:[^"\\]|\\.)'))
_QUICK_PLAIN = re.compile(
    _QUICK_FORM.format(char='[^"]')
)  # the same groups in a text with no backslash (nothing escaped), found several times faster
_OPEN_QUOTE = regex.compile(
    r'(?:^|\s)msg="(?:[^"\\]|\\.)*+$'
)  # msg value without its closing quote
_NEVER_DUMP = ('time="', "level=", '{"')
_NEXT_GROUP = re.compile(
    r"\s*(?:goroutine \d|\d+ @ 0x|$)"
)  # what a real blank line in a dump precedes
_DUMP_IN_MSG = re.compile(
    r"=== BEGIN goroutine stack dump ===|goroutine \d+ \[[^\]\n]*\]:(?:\n|\\n)"
)


@dataclass(slots=True)
class Event:
    source: str
    line: int
    time: datetime | None
    level: str | None  # None for a line that is not logrus
    msg: str
    fields: dict[str, str] = field(default_factory=dict)
    host: str | None = None
    pid: int | None = None
    proc: str | None = None


@dataclass(slots=True)
class Coverage:
    """What was recognised in one input, for the report's honesty about it."""

    envelopes: Counter = field(default_factory=Counter)  # envelope name -> records
    levels: Counter = field(default_factory=Counter)  # logrus level -> events
    json: int = 0  # logrus JSON lines among them
    plain: int = 0  # lines that are neither logrus nor part of a dump
    plain_lines: list[int] = field(default_factory=list)  # the first few of them
    aggregated: int = 0  # repetitive events counted, not kept
    offset: str | None = None  # how zone-less envelope times were aligned with logrus UTC
    starts: list[tuple] = field(
        default_factory=list
    )  # (line, pid) of each daemon start: its lifetimes
    gaps: str | None = None  # the stretches with no line, said once the times are in UTC

    @property
    def format(self) -> str:
        name = self.envelopes.most_common(1)[0][0] if self.envelopes else "empty"
        return f"{name}, logrus JSON" if self.json else name

    def notes(self) -> list[str]:
        out = []
        if self.plain and self.levels:
            lines = ", ".join(map(str, self.plain_lines)) + (
                ", ..." if self.plain > len(self.plain_lines) else ""
            )
            out.append(f"{self.plain} lines not logrus nor part of a dump (lines {lines})")
        if self.aggregated:
            out.append(f"{self.aggregated} routine or repetitive log lines counted, not kept")
        if self.levels and not self.levels["debug"]:
            out.append(
                "no debug lines: the daemon's log level hides API calls (`Calling DELETE ...`)"
            )
        if self.offset:
            out.append(self.offset)
        if self.gaps:
            out.append(self.gaps)
        if len(self.starts) > 1:
            lives = ", ".join(
                f"line {line}" + (f" pid {pid}" if pid else "") for line, pid in self.starts
            )
            out.append(f"{len(self.starts)} daemon lifetimes (restarts), starting at {lives}")
        return out


@dataclass(slots=True)
class Parsed:
    events: list[Event] = field(default_factory=list)
    dumps: list[Dump] = field(default_factory=list)
    records: int = 0
    coverage: dict[str, Coverage] = field(default_factory=dict)


def as_utc(stamp: datetime | None, offset: timedelta = timedelta(0)) -> datetime | None:
    """Times without a zone are local times ``offset`` ahead of UTC (UTC when unknown)."""
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        return (stamp - offset).replace(tzinfo=timezone.utc)
    return stamp.astimezone(timezone.utc)


def _local_offset(local: datetime | None, utc: datetime | None) -> timedelta | None:
    """How far a zone-less envelope time runs ahead of the logrus UTC time on the same line."""
    if local is None or utc is None or local.tzinfo is not None:
        return None
    quarter = round((local - utc.replace(tzinfo=None)).total_seconds() / 900) * 900
    return timedelta(seconds=quarter) if abs(quarter) <= 14 * 3600 else None


def parse_line(text: str):
    """A logrus line, text or JSON, or None."""
    return logjson.parse(text) if text[:1] == "{" else logrus.parse(text)


def _dump_in_message(rec: Record, msg: str, when: datetime | None) -> list[Dump]:
    """A dump logged as one logrus message; read it as a dump cited at the log line."""
    if "\n" not in msg and "\\n" in msg:  # escaped twice
        msg = logrus.unquote('"' + msg + '"')
    reader = DumpReader(rec.source)
    for piece in msg.split("\n"):
        reader.feed(
            Record(rec.source, rec.line, piece, when, rec.host, rec.proc, rec.pid, rec.envelope)
        )
    dumps = reader.close()
    for dump in dumps:
        dump.time = dump.time or when
        dump.proc, dump.pid = rec.proc, rec.pid
    return dumps


def open_quote(text: str) -> bool:
    """Whether the text ends inside a msg="..." value (journald cut the line there): _OPEN_QUOTE,
    read once per distinct text after a leading time="..." (no match can start before its closing
    quote unless the time ends with ``msg=``)."""
    end = logrus.time_end(text)
    if end > 6 and len(text) - end <= 1024 and not text[6:end].endswith("msg="):
        return _open_quote_after(text[end:])
    return _OPEN_QUOTE.search(text) is not None


@functools.lru_cache(maxsize=2048)
def _open_quote_after(text: str) -> bool:
    return _OPEN_QUOTE.search(text) is not None


def repeat_key(text: str) -> tuple[str | None, str]:
    """What a line is counted under past KEEP_ALL events: a logrus line's level and the first 160
    characters of its message, numbers and ids blanked, else its first 160 characters so blanked."""
    end = logrus.time_end(text, 40)
    key = _quick_key(text[end + 1 : end + 342]) if end >= 0 else None
    return key or (None, _VARIABLE.sub("#", text[:160]))


@functools.lru_cache(maxsize=4096)  # the text after the time: repeated word for word
def _quick_key(after: str) -> tuple[str, str] | None:
    quick = (_QUICK if "\\" in after else _QUICK_PLAIN).match(after)
    return (quick[1], _VARIABLE.sub("#", quick[2])) if quick else None


class _Segmenter:
    def __init__(self, out: Parsed):
        self.out = out
        self.readers: dict[tuple, DumpReader] = {}
        self.procs: dict[tuple, str | None] = {}  # the envelope's process name of each stream
        self.in_dump: dict[tuple, bool] = {}
        self.blank: dict[tuple, Record] = {}  # a blank line inside a dump, held until the next line
        self.cut: dict[tuple, Record] = {}  # a logrus line waiting for the rest journald cut off
        self.seen_at: dict[
            tuple[str, int], tuple
        ] = {}  # (envelope time, previous event time) of dump lines
        self.events: list[Event] = []
        self.inner: list[Dump] = []
        self.offsets: Counter = Counter()  # local - UTC, from lines that carry both
        self.votes = 0  # self.offsets.total(), kept as lines are counted in
        self.last_time: datetime | None = None
        self.gaps = timegaps.Gaps()
        self.same: Counter = Counter()
        self.recent: deque = deque(maxlen=CONTEXT)
        self.resort = False

    def feed(self, rec: Record, cov: Coverage) -> None:
        self.gaps.see(rec.time, rec.text, rec.line)
        key = (rec.source, rec.host, rec.pid)
        if rec.proc:
            self.procs[key] = rec.proc
        held = self.cut.get(key)
        if held is not None:
            if (
                len(held.text) < MAX_JOIN
                and parse_line(rec.text) is None
                and not rec.text.startswith("goroutine ")
            ):
                held.text += rec.text  # journald split one long line into several entries
                if not held.text.endswith("\\") and not _OPEN_QUOTE.search(held.text):
                    del self.cut[key]
                    self._event(held, cov)
                return
            del self.cut[key]
            self._event(held, cov)
        in_dump = self.in_dump.get(key)
        if not in_dump and rec.text.startswith(_NEVER_DUMP):  # a logrus line cannot start a dump
            self._log_line(key, rec, cov)
            return
        reader = self.readers.get(key)
        if reader is None:
            reader = self.readers[key] = DumpReader(rec.source)
        if in_dump:
            if not rec.text.strip():
                self.blank[key] = rec
                return
            blank = self.blank.pop(key, None)
            if blank is not None and _NEXT_GROUP.match(rec.text):
                reader.feed(blank)
        if reader.feed(rec):
            self.in_dump[key] = True
            self.seen_at[rec.source, rec.line] = (rec.time, self.last_time)
            if not in_dump:
                self._keep_context()
            return
        self.in_dump[key] = False
        self.blank.pop(key, None)
        if rec.text.strip():
            self._log_line(key, rec, cov)

    def _log_line(self, key: tuple, rec: Record, cov: Coverage) -> None:
        text = rec.text
        if text[-1:] != '"' and text.startswith(("time=", "level=")) and open_quote(text):
            self.cut[key] = Record(
                rec.source, rec.line, rec.text, rec.time, rec.host, rec.proc, rec.pid, rec.envelope
            )
            return
        self._event(rec, cov)

    def _counted(self, rec: Record, cov: Coverage) -> bool:
        """Past KEEP_ALL events, a line like KEEP_SAME lines before it is only counted, not parsed."""
        text = rec.text
        if "goroutine" in text:  # a dump logged in one message is never aggregated
            return False
        same = repeat_key(text)
        self.same[same] += 1
        if self.same[same] <= KEEP_SAME:
            return False
        cov.aggregated += 1
        if same[0] is not None:
            cov.levels[logrus.LEVELS.get(same[0][:4], same[0])] += 1
        self.recent.append((rec, cov))
        return True

    def _event(self, rec: Record, cov: Coverage, context: bool = False) -> None:
        if len(self.events) >= KEEP_ALL and not context and self._counted(rec, cov):
            return
        parsed = parse_line(rec.text)
        if parsed is None:
            event = Event(
                rec.source, rec.line, rec.time, None, rec.text, {}, rec.host, rec.pid, rec.proc
            )
            cov.plain += 1
            if len(cov.plain_lines) < 5:
                cov.plain_lines.append(rec.line)
        else:
            if rec.time is not None and rec.time.tzinfo is None and self.votes < 500:
                found = _local_offset(rec.time, parsed.time)
                if found is not None:
                    self.offsets[found] += 1
                    self.votes += 1
            event = Event(
                rec.source,
                rec.line,
                parsed.time or rec.time,
                parsed.level,
                parsed.msg,
                parsed.fields,
                rec.host,
                rec.pid,
                rec.proc,
            )
            cov.levels[parsed.level] += 1
            if parsed.msg == "Starting up" and len(cov.starts) < 20:
                cov.starts.append((rec.line, rec.pid))
            cov.json += rec.text[:1] == "{"
            if "\n" in parsed.msg or "\\n" in parsed.msg:
                if _DUMP_IN_MSG.search(parsed.msg):
                    self.inner.extend(_dump_in_message(rec, parsed.msg, parsed.time or rec.time))
                    self._keep_context()
        self.last_time = event.time or self.last_time
        self.events.append(event)

    def _keep_context(self) -> None:
        """The events just before a dump or panic are kept even when they were only counted."""
        if self.recent:
            recent = list(self.recent)
            self.recent.clear()
            self.resort = True
            for rec, cov in recent:
                self._event(rec, cov, context=True)

    def close(self, cov: Coverage) -> None:
        for held in list(self.cut.values()):
            self._event(held, cov)
        self.cut.clear()
        offset = timedelta(0)
        if self.offsets:
            offset, votes = self.offsets.most_common(1)[0]
            cov.offset = (
                f"local times read as UTC{_hours(offset)}: {votes} of {self.offsets.total()} "
                "lines with a logrus time agree"
            )
        cov.gaps = timegaps.describe(self.gaps.found, lambda t: as_utc(t, offset))
        events = sorted(self.events, key=lambda e: e.line) if self.resort else self.events
        for event in events:
            event.time = as_utc(event.time, offset)
        self.out.events.extend(events)
        for dump in self.inner:
            dump.time = as_utc(dump.time, offset)
        self.out.dumps.extend(self.inner)
        for key, reader in self.readers.items():
            for dump in reader.close():
                envelope, previous = self.seen_at.get((dump.source, dump.line), (None, None))
                dump.time = as_utc(envelope or dump.time or previous, offset)
                dump.proc, dump.pid = self.procs.get(key), key[2]
                self.out.dumps.append(dump)
        programs.label(self.out.dumps)
        self.out.dumps.sort(key=lambda d: (d.source, d.line))


def _hours(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse_records(records: Iterable[Record | Skipped], into: Parsed | None = None) -> Parsed:
    """Feed one input's records; times are made UTC once the whole input is read, with the
    local offset learned from lines that carry both a local envelope time and a logrus time."""
    out = into or Parsed()
    seg = _Segmenter(out)
    cov: Coverage | None = None
    envelope = "plain"
    for rec in records:
        if type(rec) is Skipped:  # routine lines skimmed by the reader: counted, not kept
            out.records += rec.count
            seg.gaps.restart()
            if cov is not None:
                cov.aggregated += rec.count
                cov.levels.update(rec.levels)
                cov.envelopes[envelope] += rec.count
            continue
        out.records += 1
        if cov is None:
            cov = out.coverage.setdefault(rec.source, Coverage())
        envelope = rec.envelope
        cov.envelopes[envelope] += 1
        seg.feed(rec, cov)
    seg.close(cov or Coverage())
    return out


class _Watched:
    """A byte stream read through, its newlines counted, CR and NUL bytes noticed."""

    def __init__(self, stream):
        self.stream, self.newlines, self.odd, self.last = stream, 0, False, b""

    def read(self, size: int) -> bytes:
        chunk = self.stream.read(size)
        if chunk:
            self.newlines += chunk.count(b"\n")
            self.odd = self.odd or b"\r" in chunk or b"\x00" in chunk
            self.last = chunk[-1:]
        return chunk


_LONG = re.compile(rf"[^\n]{{{sources.MAX_LINE // 4}}}")  # a line that may be over MAX_LINE bytes


def parse_dump_file(inp: sources.Input, into: Parsed) -> bool:
    """Read a plain file that is a goroutine dump from its first lines (SIGUSR1 file, pprof
    ``debug=2`` / ``debug=1``, SIGQUIT output) with the bulk parser (:mod:`.fastdump`) into
    ``into``, as :func:`parse_records` of its records would.  False, the stream rewound and
    nothing added, for any other input and whenever a line could read otherwise line by line
    (a line that is not blank nor part of a dump, a CR or NUL byte, an over-long line)."""
    if inp.path is None or inp.layers or inp.stream is None:
        return False
    head = sources.head(inp)
    if not head or sources.looks_binary(head[: sources.SNIFF]):
        return False
    first = head.decode("utf-8", errors="replace").split("\n")
    if not looks_like_dump(first[:-1][:8] or first):
        return False
    watched, others, long = _Watched(inp.stream), [], False
    try:
        slabs = (
            slab
            for slab in texts(watched.read(READ_SIZE), watched)
            if not (len(slab) > sources.MAX_LINE // 4 and _LONG.search(slab) and (long := True))
        )
        dumps = parse_slabs(slabs, inp.name, others)
    except sources.READ_ERRORS:
        dumps = []
    if others or watched.odd or long or not dumps:
        inp.stream.seek(0)
        return False
    lines = watched.newlines + (watched.last != b"\n")
    into.records += lines
    into.coverage.setdefault(inp.name, Coverage()).envelopes["plain"] += lines
    for dump in dumps:
        dump.time = as_utc(dump.time)
    into.dumps.extend(dumps)
    programs.label(into.dumps)
    into.dumps.sort(key=lambda d: (d.source, d.line))
    return True


def dump_file_time(path: str) -> datetime | None:
    """dockerd names SIGUSR1 dumps goroutine-stacks-<RFC3339 without colons>.log."""
    name = PurePath(path).name
    if not name.startswith("goroutine-stacks-"):
        return None
    stamp = name[len("goroutine-stacks-") :].split(".log", 1)[0]
    for fmt in ("%Y-%m-%dT%H%M%SZ", "%Y-%m-%dT%H%M%S%z"):
        try:
            return as_utc(datetime.strptime(stamp, fmt))
        except ValueError:
            continue
    return None


def date_dumps(parsed: Parsed) -> None:
    """Give SIGUSR1 dump files the time of the 'goroutine stacks written to' line naming them."""
    written = {}
    for e in parsed.events:
        if e.msg.startswith("goroutine stacks written to ") and e.time is not None:
            written[PurePath(e.msg.rsplit(" ", 1)[-1]).name] = e.time
    for dump in parsed.dumps:
        name = PurePath(dump.source.split("!")[-1]).name
        dump.time = written.get(name) or dump_file_time(name) or dump.time
