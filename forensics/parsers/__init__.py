"""Split envelope-stripped records into log events and goroutine dumps.

Each (input, host, pid) stream gets its own traceback reader, so a dump whose
journal lines are interleaved with another process's lines is still read whole.
What a reader does not take is a log event: a logrus line when it parses as one,
otherwise a plain text event (the std-log lines, `docker ps` pastes, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import PurePath
from typing import Iterable

from ..model import Dump, Record
from . import logrus
from .goroutines import DumpReader


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
class Parsed:
    events: list[Event] = field(default_factory=list)
    dumps: list[Dump] = field(default_factory=list)
    records: int = 0


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


def parse_records(records: Iterable[Record], into: Parsed | None = None) -> Parsed:
    """Feed one input's records; times are made UTC once the whole input is read, with the
    local offset learned from lines that carry both a local envelope time and a logrus time."""
    out = into or Parsed()
    readers: dict[tuple, DumpReader] = {}
    seen_at: dict[tuple[str, int], tuple] = {}  # (envelope time, previous event time) of dump lines
    events: list[Event] = []
    offset: timedelta | None = None
    last_time: datetime | None = None
    for rec in records:
        out.records += 1
        key = (rec.source, rec.host, rec.pid)
        reader = readers.get(key)
        if reader is None:
            reader = readers[key] = DumpReader(rec.source)
        if reader.feed(rec):
            seen_at[rec.source, rec.line] = (rec.time, last_time)
            continue
        if not rec.text.strip():
            continue
        parsed = logrus.parse(rec.text)
        if parsed is None:
            event = Event(rec.source, rec.line, rec.time, None, rec.text, {}, rec.host, rec.pid, rec.proc)
        else:
            if offset is None:
                offset = _local_offset(rec.time, parsed.time)
            event = Event(rec.source, rec.line, parsed.time or rec.time, parsed.level, parsed.msg,
                          parsed.fields, rec.host, rec.pid, rec.proc)
        last_time = event.time or last_time
        events.append(event)
    offset = offset or timedelta(0)
    for event in events:
        event.time = as_utc(event.time, offset)
    out.events.extend(events)
    for reader in readers.values():
        for dump in reader.close():
            envelope, previous = seen_at.get((dump.source, dump.line), (None, None))
            dump.time = as_utc(envelope or dump.time or previous, offset)
            out.dumps.append(dump)
    out.dumps.sort(key=lambda d: (d.source, d.line))
    return out


def dump_file_time(path: str) -> datetime | None:
    """dockerd names SIGUSR1 dumps goroutine-stacks-<RFC3339 without colons>.log."""
    name = PurePath(path).name
    if not name.startswith("goroutine-stacks-"):
        return None
    stamp = name[len("goroutine-stacks-"):].split(".log", 1)[0]
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
