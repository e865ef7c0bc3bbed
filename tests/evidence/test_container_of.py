"""The container an event names, with the regex reading of its message cached per message, is what
the per-event reading says, on every event of the real captures."""

from pathlib import Path

from forensics import evidence
from forensics.evidence import (
    _HEX64,
    _NOT_A_CONTAINER,
    CONTAINER_DIR,
    CONTAINER_PATH,
    CONTAINER_WORD,
    HANDLER,
    REQUEST,
)
from forensics.ingest import envelopes
from forensics.parse import Event, parse_records

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = [
    ROOT / "samples" / "captured" / "repro-49227-journal-short.log",
    ROOT / "samples" / "49227-repro" / "dockerd.log",
    ROOT / "samples" / "healthy-20.10" / "dockerd-20.10.24-restart-restore-text-debug.log",
]


def per_event(event):
    ref = event.fields.get("container")
    if ref:
        return ref
    m = REQUEST.match(event.msg) or HANDLER.match(event.msg)
    if m:
        c = CONTAINER_PATH.search(m["path"])
        if c and c["ref"] not in _NOT_A_CONTAINER:
            return c["ref"]
    if event.fields.get("namespace") == "moby" and _HEX64.fullmatch(event.fields.get("id", "")):
        return event.fields["id"]
    m = CONTAINER_WORD.search(event.msg) or CONTAINER_DIR.search(event.msg)
    return m["ref"] if m else None


def test_every_captured_event_names_the_container_the_per_event_reading_does():
    found = set()
    for path in CAPTURES:
        lines = path.read_text(errors="replace").splitlines()
        events = parse_records(envelopes.records(path.name, lines, 2026)).events
        long = "Calling GET /v1.47/containers/" + "c" * 64 + "/json?" + "x" * 2000  # not cached
        events.append(Event(path.name, 0, None, "debug", long, {}))
        for event in events * 2:  # the second time from the cache
            assert evidence._container_of(event) == per_event(event), event
            found.add(per_event(event))
    assert len(found) > 5


def test_the_events_table_built_by_column_is_the_one_built_by_row():
    import json

    import pandas as pd

    def by_row(events):
        return [
            {
                "time": e.time,
                "level": e.level,
                "msg": e.msg,
                "fields": json.dumps(e.fields, sort_keys=True) if e.fields else "",
                "container": per_event(e),
                "host": e.host,
                "pid": e.pid,
                "proc": e.proc,
                "source": e.source,
                "line": e.line,
            }
            for e in events
        ]

    for path in [*CAPTURES, ROOT / "samples" / "49227-repro" / "docker-version.txt", None]:
        lines = path.read_text(errors="replace").splitlines() if path else []
        events = parse_records(envelopes.records("x", lines, 2026)).events
        events += [Event("x", 9, None, None, "plain", {}, "h", 7, "dockerd")][: len(events) % 2]
        by_column = evidence._frame("events", evidence._event_rows(events))
        pd.testing.assert_frame_equal(by_column, evidence._frame("events", by_row(events)))
