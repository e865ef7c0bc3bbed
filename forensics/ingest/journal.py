"""journalctl's structured renderings: ``-o export``, ``json``, ``json-pretty`` and ``verbose``.

One journal entry becomes one Record per line of its ``MESSAGE`` (a SIGQUIT dump written
through the native protocol is one entry with many lines). Each Record is cited at the
physical line that shows the message: the ``MESSAGE=`` line (export, verbose), the
``"MESSAGE"`` line (json-pretty) or the object's line (json). Times come from
``__REALTIME_TIMESTAMP`` (verbose: the ``t=`` of the cursor), so they are exact UTC.
Entries that journald cut at its line limit (``_LINE_BREAK=line-max``) are joined again.
``-o export`` is read as bytes: its binary fields (``KEY\\n<u64 length><data>\\n``) may
hold newlines and NULs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone

from forensics.model import Record

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_FIELD = 64 << 20  # a binary export field larger than this is skipped (and reported)
MAX_OBJECT_LINES = 100_000  # json-pretty: an object longer than this is not a journal entry
KEEP = {
    "MESSAGE",
    "__REALTIME_TIMESTAMP",
    "_SOURCE_REALTIME_TIMESTAMP",
    "_HOSTNAME",
    "SYSLOG_IDENTIFIER",
    "_COMM",
    "_PID",
    "SYSLOG_PID",
    "_LINE_BREAK",
    "_STREAM_ID",
    "__CURSOR",
}
VERBOSE_HEADER = re.compile(
    r"[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})? \S{1,8} \[(?P<cursor>[^\]]*)\]"
)
VERBOSE_FIELD = re.compile(r"    (?P<key>[A-Za-z0-9_]{1,64})=(?P<value>.*)", re.S)
MARKER = re.compile(
    r"-- (?:Boot [0-9a-f]{32}|Reboot|No entries|Logs begin at .*|Journal begins at .*) --"
)
BLOB = re.compile(r"\[[0-9.,]+[KMGT]?B? blob data\]")
Problem = Callable[[int, str], None]  # (line, message)


def detect(head: bytes) -> str | None:
    """Which structured rendering a file starts with, from its first bytes."""
    first, _, rest = head.lstrip(b"\n").partition(b"\n")
    while first.startswith(b"-- ") and rest:  # "-- Logs begin at ... --", "-- Boot ... --"
        first, _, rest = rest.partition(b"\n")
    if first.startswith(b"__CURSOR=") or (
        re.match(rb"[A-Z_][A-Z0-9_]*=", first) and b"\n__REALTIME_TIMESTAMP=" in head
    ):
        return "journal-export"
    if first.rstrip() == b"{" and re.match(rb'\s*"[A-Z_][A-Z0-9_]*" : ', rest):
        return "journal-json-pretty"
    if VERBOSE_HEADER.fullmatch(first.decode("utf-8", "replace").rstrip()):
        return "journal-verbose"
    return None


def is_json_entry(line: str) -> bool:
    return line.startswith("{") and '"__REALTIME_TIMESTAMP"' in line and '"MESSAGE"' in line


def _text(value) -> str | None:
    """A field value as journalctl prints it: string, byte array, or a list of either (repeated field)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        if all(isinstance(b, int) for b in value):
            return bytes(b & 0xFF for b in value).decode("utf-8", "replace")
        return _text(value[0]) if value else None
    return None if value is None else str(value)


def _time(fields: dict) -> datetime | None:
    for key in ("__REALTIME_TIMESTAMP", "_SOURCE_REALTIME_TIMESTAMP"):
        value = _text(fields.get(key))
        if value and value.isdigit():
            return EPOCH + timedelta(microseconds=int(value))
    return None


class Entries:
    """Turns journal entries (dicts of fields) into Records, joining line-max splits."""

    def __init__(self, source: str, envelope: str, problem: Problem | None = None):
        self.source, self.envelope, self.problem = source, envelope, problem
        self._pending: dict[tuple, tuple[str, int]] = {}  # stream -> (text so far, its line)

    def records(
        self, fields: dict, line: int, step: int, when: datetime | None = None
    ) -> list[Record]:
        message = _text(fields.get("MESSAGE"))
        pid_text = _text(fields.get("_PID") or fields.get("SYSLOG_PID")) or ""
        pid = int(pid_text) if pid_text.isdigit() else None
        stream = (_text(fields.get("_STREAM_ID")), pid)
        if message is None:
            if (
                "MESSAGE" in fields and self.problem is not None
            ):  # json: null above 4096 bytes without --all
                self._pending.pop(stream, None)
                self.problem(
                    line,
                    "journalctl left out this MESSAGE (over 4096 bytes); render with --all to read it",
                )
            return []
        if stream in self._pending:
            before, line = self._pending.pop(stream)
            message = before + message
        if _text(fields.get("_LINE_BREAK")) == "line-max":
            self._pending[stream] = (message, line)
            return []
        when = when or _time(fields)
        host = _text(fields.get("_HOSTNAME"))
        proc = _text(fields.get("SYSLOG_IDENTIFIER") or fields.get("_COMM"))
        return [
            Record(self.source, line + i * step, piece, when, host, proc, pid, self.envelope)
            for i, piece in enumerate(message.split("\n"))
        ]

    def rest(self) -> list[Record]:
        """Entries still waiting for their continuation when the input ended."""
        out = [
            Record(self.source, line, text, None, None, None, pid, self.envelope)
            for (_, pid), (text, line) in self._pending.items()
        ]
        self._pending.clear()
        return out


def json_records(line: str, lineno: int, entries: Entries) -> list[Record] | None:
    """One ``-o json`` line; None when it is not a journal entry."""
    try:
        fields = json.loads(line)
    except ValueError:
        return None
    return entries.records(fields, lineno, 0) if isinstance(fields, dict) else None


def pretty_records(source: str, lines: Iterable[str], problem: Problem) -> Iterator[Record]:
    entries = Entries(source, "journal-json-pretty", problem)
    body: list[str] = []
    start = message_line = 0
    for lineno, line in enumerate(lines, 1):
        if not body:
            if line.rstrip() == "{":
                body, start, message_line = [line], lineno, lineno
            elif line.strip() and not MARKER.fullmatch(line):
                problem(lineno, "not part of a journal entry (json-pretty)")
            continue
        body.append(line)
        if line.lstrip().startswith('"MESSAGE" :'):
            message_line = lineno
        if line.rstrip() == "}" or len(body) > MAX_OBJECT_LINES:
            try:
                fields = json.loads("\n".join(body))
                yield from entries.records(fields, message_line, 0)
            except ValueError as exc:
                problem(start, f"journal entry is not valid JSON: {exc}")
            body = []
    if body:
        problem(start, "input ends inside a journal entry")
    yield from entries.rest()


def verbose_records(source: str, lines: Iterable[str], problem: Problem) -> Iterator[Record]:
    entries = Entries(source, "journal-verbose")
    fields: dict[str, str] = {}
    key, indent, message_line, when = "", 0, 0, None

    def flush() -> list[Record]:
        if "MESSAGE" in fields and BLOB.fullmatch(fields["MESSAGE"]):
            problem(message_line, "journalctl printed MESSAGE as blob data; -o export keeps it")
            return []
        return entries.records(fields, message_line, 1, when) if fields else []

    for lineno, line in enumerate(lines, 1):
        if header := VERBOSE_HEADER.fullmatch(line):
            yield from flush()
            fields, key, when = {}, "", _cursor_time(header["cursor"])
        elif m := VERBOSE_FIELD.fullmatch(line):
            key, indent = m["key"], 4 + len(m["key"]) + 1
            if key in KEEP:
                fields[key] = m["value"]
                message_line = lineno if key == "MESSAGE" else message_line
        elif key in fields and line[:indent].isspace() and len(line) >= indent:
            fields[key] += "\n" + line[indent:]  # a multi-line value, indented under its first line
        elif line.strip() and not MARKER.fullmatch(line):
            problem(lineno, "not part of a journal entry (verbose)")
    yield from flush()
    yield from entries.rest()


def _cursor_time(cursor: str) -> datetime | None:
    for part in cursor.split(";"):
        if part.startswith("t="):
            try:
                return EPOCH + timedelta(microseconds=int(part[2:], 16))
            except ValueError:
                return None
    return None


def export_records(source: str, stream, problem: Problem) -> Iterator[Record]:
    """Read ``journalctl -o export`` from a binary stream."""
    entries = Entries(source, "journal-export")
    fields: dict[str, bytes] = {}
    lineno = message_line = 0
    while True:
        raw = stream.readline(MAX_FIELD)
        if not raw or raw == b"\n":
            if fields:
                yield from entries.records(fields, message_line, 1)
                fields = {}
            if not raw:
                break
            lineno += 1
            continue
        lineno += 1
        key, eq, value = raw.rstrip(b"\n").partition(b"=")
        name = key.decode("ascii", "replace")
        if eq:
            if name in KEEP:
                fields[name] = value
                message_line = lineno if name == "MESSAGE" else message_line
            continue
        size = int.from_bytes(stream.read(8), "little")  # binary field: KEY\n <u64 LE size> data \n
        if size > MAX_FIELD:
            problem(lineno, f"field {name} of {size} bytes skipped")
            while size > 0 and (chunk := stream.read(min(size, 1 << 20))):
                size -= len(chunk)
            stream.read(1)
            continue
        data = stream.read(size)
        stream.read(1)
        if name in KEEP:
            fields[name] = data
            message_line = lineno + 1 if name == "MESSAGE" else message_line
        lineno += 1 + data.count(b"\n")
        if len(data) < size:
            problem(lineno, f"input ends inside field {name}")
    yield from entries.rest()
