"""Every journalctl / syslog rendering of the real 49227 reproduction gives the same diagnosis,
and journalctl's structured modes are read entry by entry (tests/fixtures/ingest/README.md)."""

from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import FIXTURES, REPRO, finding

from forensics.analyze import analyze
from forensics.ingest import envelopes, sources

INGEST = FIXTURES / "ingest"
CAPTURED = FIXTURES / "captured"
PANIC = "http: panic serving @: runtime error: invalid memory address or nil pointer dereference"
RENDERINGS = [
    CAPTURED / "repro-49227-journal-json.json",
    CAPTURED / "repro-49227-journal-export.export",
    CAPTURED / "repro-49227-journal-verbose.log",
    INGEST / "repro-49227-journal-json-pretty.json",
    INGEST / "repro-49227-rsyslog-traditional.log",
    INGEST / "repro-49227-rsyslog-rfc3339.log",
    INGEST / "repro-49227-rsyslog-rfc5424.log",
    INGEST / "repro-49227-busybox-syslogd.log",
    REPRO / "dockerd.log",
]


def records_of(path: Path, fmt: str = "auto") -> tuple[list, list]:
    problems: list = []
    out = []
    for inp in sources.walk([str(path)], problems):
        out.extend(envelopes.read(inp, problems, fmt))
    return out, problems


@pytest.mark.parametrize("path", RENDERINGS, ids=lambda p: p.name)
def test_every_rendering_confirms_49227_at_the_panic_line(path, rules):
    result = analyze([str(path)], rules=rules)
    f = finding(result, "moby-49227")
    assert f.confidence == "confirmed" and f.engine_version == "27.4.1"
    panic = result.evidence["panics"].iloc[0]
    assert panic.time.isoformat() == "2026-11-29T12:28:12+00:00"
    line = path.read_bytes().split(b"\n")[panic.line - 1].decode()
    assert PANIC in line and ("MESSAGE" in line or line.endswith(PANIC))
    assert (panic.source, panic.line) in {(c.source, c.line) for c in f.evidence}
    assert not result.problems
    locks = result.evidence["locks"]  # the SIGQUIT dump at the end of the log shows the leaked lock
    assert "0xc00026a180" in set(locks.key)


@pytest.mark.parametrize(
    "name,fmt,entries",
    [
        ("repro-49227-journal-json.json", "journal-json", 1137),
        ("repro-49227-journal-export.export", "journal-export", 1137),
        ("repro-49227-journal-verbose.log", "journal-verbose", 1137),
    ],
)
def test_structured_renderings_one_record_per_entry(name, fmt, entries):
    path = CAPTURED / name
    recs, problems = records_of(path)
    assert len(recs) == entries and not problems and {r.envelope for r in recs} == {fmt}
    first = recs[0]
    assert (first.host, first.proc, first.pid) == ("dockerhost1", "dockerd", 4242)
    assert first.time == datetime(2026, 11, 29, 12, 27, 58, 136650, tzinfo=timezone.utc)
    assert first.text == 'time="2026-11-29T12:27:58.136650653Z" level=info msg="Starting up"'
    tabbed = [r for r in recs if r.text.startswith("\t")]
    assert len(tabbed) == 442  # TABs of the frame file lines survive in json, export and verbose


def test_json_pretty_cites_the_message_line():
    path = INGEST / "repro-49227-journal-json-pretty.json"
    recs, problems = records_of(path)
    assert len(recs) == 1137 and not problems
    panic = next(r for r in recs if PANIC in r.text)
    assert panic.line == 4442 and panic.time == datetime(
        2026, 11, 29, 12, 28, 12, tzinfo=timezone.utc
    )


SPECIAL = [
    "special-journal-export.export",
    "special-journal-json-all.json",
    "special-journal-json-pretty-all.json",
    "special-journal-verbose.log",
    "special-journal-short-iso.log",
    "special-journal-cat.log",
]


@pytest.mark.parametrize("name", SPECIAL)
def test_multiline_entry_and_line_max_split_dump(name, rules):
    """A 44-line panic trace in ONE entry, and containerd's one-line dump cut by journald
    (LineMax=8K) into four entries: both come back whole in every rendering."""
    result = analyze([str(INGEST / name)], rules=rules)
    dumps = result.evidence.dumps
    assert [(d.kind, len(d.goroutines)) for d in dumps] == [("panic", 1), ("stacks", 37)]
    assert dumps[0].goroutines[0].id == 128 and "getInspectData" in " ".join(
        dumps[0].goroutines[0].functions
    )
    assert dumps[1].time == datetime(2026, 11, 29, 12, 11, 54, 388160, tzinfo=timezone.utc)
    msgs = list(result.evidence["events"].msg)
    assert msgs[0] == "Calling GET /v1.47/containers/test/json"
    assert msgs[-1] == "goroutine stack dump written to /tmp/containerd.5193.stacks.log"


def test_colour_codes_in_a_journal_byte_array_are_a_tty_logrus_line():
    recs, _ = records_of(INGEST / "special-journal-json-all.json")
    warn = next(r for r in recs if "blkio" in r.text)
    assert (
        warn.text == "\x1b[33mWARN\x1b[0m[0014] Your kernel does not support cgroup blkio weight"
    )  # MESSAGE was [27,91,...]
    result = analyze([str(INGEST / "special-journal-json-all.json")])
    events = result.evidence["events"]
    assert events[events.msg.str.contains("blkio")].level.tolist() == ["warning"]


@pytest.mark.parametrize(
    "name,line", [("special-journal-json.json", 2), ("special-journal-json-pretty.json", 21)]
)
def test_messages_journalctl_left_out_are_reported(name, line):
    """Without --all, journalctl -o json prints MESSAGE as null above 4096 bytes: say so, per entry."""
    result = analyze([str(INGEST / name)])
    left_out = [p for p in result.problems if "left out this MESSAGE" in p.message]
    assert len(left_out) == 4 and left_out[0].line == line and "--all" in left_out[0].message
    assert result.verdict != "clean"


def test_verbose_blob_is_reported():
    result = analyze([str(INGEST / "special-journal-verbose.log")])
    assert [(p.line, p.message.split(";")[0]) for p in result.problems] == [
        (79, "journalctl printed MESSAGE as blob data")
    ]


def test_syslog_escapes_and_envelopes():
    trad, _ = records_of(INGEST / "repro-49227-rsyslog-traditional.log")
    r5424, _ = records_of(INGEST / "repro-49227-rsyslog-rfc5424.log")
    busybox, _ = records_of(INGEST / "repro-49227-busybox-syslogd.log")
    for recs, name in ((trad, "journal-short"), (r5424, "syslog-5424")):
        assert len(recs) == 1186 and {r.envelope for r in recs} == {name}
        assert recs[173].text == "\t/usr/lib/go-1.22/src/net/http/server.go:1903 +0xbe"  # was #011
        assert (recs[0].host, recs[0].proc, recs[0].pid) == ("dockerhost1", "dockerd", 4242)
        assert recs[0].text.startswith('time="2026-11-29T12:27:58.136650653Z" level=info')
    assert trad[0].time == datetime(
        2026, 11, 29, 12, 27, 58
    )  # no year, no zone: the year from the message
    assert r5424[0].time == datetime(2026, 11, 29, 12, 27, 58, tzinfo=timezone.utc)
    assert (busybox[1].host, busybox[1].proc, busybox[1].pid) == ("vm", "dockerd", 4242)


def test_input_format_overrides_detection(rules):
    path = INGEST / "repro-49227-rsyslog-traditional.log"
    recs, _ = records_of(path, "plain")
    assert {r.envelope for r in recs} == {"plain"} and recs[0].text.startswith(
        "Nov 29 12:27:58 dockerhost1"
    )
    assert (
        finding(
            analyze([str(path)], rules=rules, input_format="journal-short"), "moby-49227"
        ).confidence
        == "confirmed"
    )


def test_coverage_says_format_alignment_and_what_the_log_level_hides(tmp_path):
    berlin = analyze([str(CAPTURED / "repro-49227-journal-short-tz-berlin.log")]).inputs[0]
    assert berlin.format == "journal-short"
    assert "local times read as UTC+01:00: 180 of 180 lines with a logrus time agree" in berlin.kind
    lines = [x for x in (REPRO / "dockerd.log").read_text().splitlines() if "level=debug" not in x]
    path = tmp_path / "info.log"
    path.write_text("\n".join(lines) + "\nCONTAINER ID   IMAGE\n")
    summary = analyze([str(path)]).inputs[0]
    assert "no debug lines: the daemon's log level hides API calls" in summary.kind
    assert f"1 lines not logrus nor part of a dump (lines {len(lines) + 1})" in summary.kind


def test_daemon_restarts_are_lifetimes(tmp_path):
    """dockerd.log rotated by hand: run 1 then run 3 (restart and restore) of the real 20.10 capture."""
    healthy = REPRO.parent / "healthy-20.10"
    first = (healthy / "dockerd-20.10.24-text-debug.log").read_text()
    path = tmp_path / "docker.log"
    path.write_text(
        first + (healthy / "dockerd-20.10.24-restart-restore-text-debug.log").read_text()
    )
    kind = analyze([str(path)]).inputs[0].kind
    assert (
        f"2 daemon lifetimes (restarts), starting at line 1, line {first.count(chr(10)) + 1}"
        in kind
    )


def test_cli_input_format_option(tmp_path):
    import subprocess
    import sys

    export = (CAPTURED / "repro-49227-journal-export.export").read_bytes()
    run = [sys.executable, "-m", "forensics", "analyze", "-", "-q", "--json", "-"]
    proc = subprocess.run(
        run + ["--input-format", "journal-export"], input=export, capture_output=True
    )
    assert proc.returncode == 1 and b'"moby-49227"' in proc.stdout
    bad = subprocess.run(run + ["--input-format", "bogus"], input=b"", capture_output=True)
    assert bad.returncode == 2 and b"--input-format must be one of" in bad.stderr


def test_journalctl_header_lines_of_older_systemd(tmp_path):
    """systemd < 250 starts every rendering with '-- Logs begin at … --' and marks reboots."""
    header = (
        b"-- Logs begin at Sun 2026-11-29 12:27:58 UTC, end at Sun 2026-11-29 12:28:58 UTC. --\n"
    )
    for name in ("repro-49227-journal-verbose.log", "repro-49227-journal-short-iso.log"):
        path = tmp_path / name
        path.write_bytes(header + (CAPTURED / name).read_bytes() + b"-- Reboot --\n")
        recs, problems = records_of(path)
        assert not problems and len([r for r in recs if r.text]) == 1137
        assert {r.envelope for r in recs if r.text} == {
            "journal-verbose" if "verbose" in name else "journal-iso"
        }


@pytest.mark.parametrize(
    "name",
    [
        "special-journal-export.export",
        "special-journal-json-all.json",
        "special-journal-json-pretty-all.json",
    ],
)
def test_line_max_entries_are_one_record(name):
    recs, problems = records_of(INGEST / name)
    containerd = [r for r in recs if r.pid == 525]
    assert [len(r.text) for r in containerd] == [25398, 118] and not problems
    assert containerd[0].text.endswith('=== END goroutine stack dump ==="')
