"""--since / --until (issue 16): every input scoped, dumps by their time; first_seen, last_seen, restarts."""

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from conftest import FIXTURES, REPRO

from forensics.analyze import analyze
from forensics.fleet.scan import hosts_from, scan
from forensics.parse.scope import Window, parse_window

SIGSEGV = (
    FIXTURES / "crashes" / "reports" / "for-linux-159-syslog-driver-sigsegv.log"
)  # crash 03:40:12, restart 03:40:14


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(
        timezone.utc
    )  # 3.10: no "Z"


def ids(result):
    return {f.id for f in result.found}


def cli(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "forensics", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc


def test_window_keeps_or_drops_the_crash(rules):
    assert "unexplained-panic" in ids(analyze([str(SIGSEGV)], rules=rules))
    after = analyze([str(SIGSEGV)], rules=rules, window=Window(since=at("2017-11-11T03:40:13Z")))
    assert "unexplained-panic" not in ids(after)
    assert any("kept 2 of 4 log events and 0 of 1 dumps" in w for w in after.warnings)
    before = analyze([str(SIGSEGV)], rules=rules, window=Window(until=at("2017-11-11T03:00:00Z")))
    assert "unexplained-panic" not in ids(before)
    around = Window(at("2017-11-11T03:40:00Z"), at("2017-11-11T03:41:00Z"))
    assert "unexplained-panic" in ids(analyze([str(SIGSEGV)], rules=rules, window=around))


def test_dumps_are_scoped_by_their_time(rules):
    """The 49227 reproduction: panic logged 12:28:12, SIGUSR1 dump file of 12:28:57."""
    full = analyze([str(REPRO)], rules=rules)
    assert {"moby-49227", "inspect-nil-panic"} <= ids(full)
    no_panic = analyze([str(REPRO)], rules=rules, window=Window(since=at("2026-11-29T12:28:30Z")))
    assert "inspect-nil-panic" not in ids(no_panic)
    assert (
        next(f for f in no_panic.found if f.id == "moby-49227").confidence == "likely"
    )  # the dump alone
    no_dump = analyze([str(REPRO)], rules=rules, window=Window(until=at("2026-11-29T12:28:30Z")))
    assert not any(
        d.source.endswith("goroutine-stacks-2026-11-29T122857Z.log") for d in no_dump.evidence.dumps
    )
    assert no_dump.evidence["locks"].empty or all(
        t <= at("2026-11-29T12:28:30Z") for t in no_dump.evidence["locks"]["time"].dropna()
    )


def test_findings_carry_first_and_last_seen_and_the_restart(rules):
    f = next(f for f in analyze([str(SIGSEGV)], rules=rules).found if f.id == "unexplained-panic")
    assert f.first_seen == f.last_seen == at("2017-11-11T03:40:12.801939Z")
    assert f.restarted_after == at("2017-11-11T03:40:14.220190Z")
    assert "restarted after the last evidence" in f.summary and "may have cleared it" in f.summary
    repro = next(f for f in analyze([str(REPRO)], rules=rules).found if f.id == "moby-49227")
    assert repro.first_seen and repro.last_seen and repro.first_seen <= repro.last_seen
    assert repro.restarted_after is None and "restarted" not in repro.summary


def test_relative_and_absolute_values():
    now = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
    w = parse_window("2h", "30m", now)
    assert w.since == at("2026-12-06T10:00:00Z") and w.until == at("2026-12-06T11:30:00Z")
    assert parse_window("3d", None, now).since == at("2026-12-03T12:00:00Z")
    assert parse_window("2025-01-07T15:00:00Z", None, now).since == at("2025-01-07T15:00:00Z")
    for bad in ("yesterday", "2h ago", "-1x"):
        with pytest.raises(ValueError, match="--since"):
            parse_window(bad, None, now)
    with pytest.raises(ValueError, match="after --until"):
        parse_window("1h", "2h", now)


def test_cli_since_until_json_and_bad_values(tmp_path):
    out = tmp_path / "r.json"
    proc = cli("analyze", SIGSEGV, "--json", out, "-q")
    assert proc.returncode == 1
    f = next(f for f in json.loads(out.read_text())["findings"] if f["id"] == "unexplained-panic")
    assert f["first_seen"].startswith("2017-11-11T03:40:12") and f["restarted_after"].startswith(
        "2017-11-11T03:40:14"
    )
    proc = cli(
        "analyze", SIGSEGV, "--since", "3d", "--json", out, "-q"
    )  # relative to now: a 2017 crash is out
    assert proc.returncode == 0
    assert not [
        f for f in json.loads(out.read_text())["findings"] if f["id"] == "unexplained-panic"
    ]
    for args in (
        ("--since", "yesterday"),
        ("--until", "13:00"),
        ("--since", "1h", "--until", "2h"),
    ):
        proc = cli("analyze", SIGSEGV, *args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
        assert proc.stderr.startswith("forensics: --")
    proc = cli("scan", SIGSEGV, "--out", tmp_path / "fleet", "--until", "bad")
    assert proc.returncode == 2 and "--until 'bad'" in proc.stderr


def test_scan_scopes_every_host(tmp_path):
    host = tmp_path / "h1"
    host.mkdir()
    (host / "dockerd.log").write_text(SIGSEGV.read_text())
    out = tmp_path / "out"
    full = scan(hosts_from([str(host)]), out)
    assert "unexplained-panic:confirmed" in full.loc[0, "findings"]
    later = scan(hosts_from([str(host)]), out, window=Window(since=at("2017-11-11T03:41:00Z")))
    assert (
        "unexplained-panic" not in later.loc[0, "findings"]
    )  # not the cached row of the whole log


def test_reports_say_when_and_the_restart(rules):
    from forensics.report import to_dict, to_html, to_markdown

    report = to_dict(analyze([str(SIGSEGV)], rules=rules))
    md = to_markdown(report)
    assert (
        "**Seen:** 2017-11-11 03:40:12 UTC · the daemon restarted after it (2017-11-11 03:40:14 UTC)"
        in md
    )
    html = to_html(report)
    assert "daemon restarted since</strong> (2017-11-11 03:40:14 UTC)" in html
