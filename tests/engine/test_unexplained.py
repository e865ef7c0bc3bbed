"""Panics and fatal errors no catalogue rule explains (issue 16): real crashes, one finding each."""

import json

import pytest
from conftest import FIXTURES, HEALTHY, REPRO, write_lines

from forensics.analyze import analyze

CRASHES = FIXTURES / "crashes"
# file -> (severity, frame function, words of the message)
PRODUCED = {
    "nil-map.stderr": (
        "high",
        "example.com/crashd/daemon.(*Daemon).SetName",
        "assignment to entry in nil map",
    ),
    "index.stderr": (
        "high",
        "example.com/crashd/daemon.(*Daemon).GetByName",
        "index out of range [3] with length 0",
    ),
    "closed-channel.stderr": (
        "high",
        "example.com/crashd/daemon.(*Daemon).Publish",
        "send on closed channel",
    ),
    "nil-pointer.stderr": (
        "high",
        "example.com/crashd/daemon.(*Daemon).PeerAdd",
        "nil pointer dereference",
    ),
    "map-writes.stderr": (
        "high",
        "example.com/crashd/daemon.(*Daemon).Track.func1",
        "concurrent map writes",
    ),
    "http.stderr": (
        "medium",
        "example.com/crashd/daemon.(*Daemon).GetByName",
        "index out of range [26] with length 0",
    ),
}
REPORTED = {
    "moby-22210-http-panic-containerrm.log": (
        "medium",
        "github.com/docker/docker/daemon.(*Daemon).GetByName",
        "index out of range",
    ),
    "for-linux-159-syslog-driver-sigsegv.log": (
        "high",
        "github.com/docker/docker/daemon/logger/syslog.(*syslogger).Log",
        "nil pointer dereference",
    ),
    "moby-28429-send-on-closed-channel.log": (
        "high",
        "github.com/docker/docker/pkg/progress.chanOutput.WriteProgress",
        "send on closed channel",
    ),
    "moby-47654-otel-span.log": (
        "medium",
        "go.opentelemetry.io/otel/sdk/trace.(*recordingSpan).End.func1",
        "nil pointer dereference",
    ),
}


def _unexplained(result):
    return [f for f in result.findings if f.id == "unexplained-panic"]


@pytest.mark.parametrize("name", sorted(PRODUCED) + sorted(REPORTED))
def test_each_real_crash_is_one_finding_naming_frame_and_message(name, rules):
    path = CRASHES / name if name in PRODUCED else CRASHES / "reports" / name
    severity, frame, words = {**PRODUCED, **REPORTED}[name]
    result = analyze([str(path)], rules=rules)
    found = _unexplained(result)
    assert len(found) == 1, [f.title for f in result.findings]
    f = found[0]
    assert f.severity == severity and f.found
    assert frame in f.summary and words in f.summary
    assert result.verdict == "found"
    assert not any(x.id == "moby-49227" and x.found for x in result.findings)
    assert f.evidence and f.evidence[0].source == str(path)
    short = frame.removesuffix(".func1").rsplit(".", 1)[-1]
    assert (
        "Search upstream reports for:" in f.explanation
        and short in f.explanation.split("Search upstream reports for:")[1]
    )
    if severity == "medium":
        assert "lock" in f.explanation and "goroutine dump" in f.explanation
    else:
        assert "died" in f.explanation


def test_program_and_request_are_named(tmp_path, rules):
    result = analyze(
        [str(CRASHES / "reports" / "moby-22210-http-panic-containerrm.log")], rules=rules
    )
    f = _unexplained(result)[0]
    assert f.title.startswith("Unexplained recovered panic in dockerd")
    assert result.evidence["panics"].iloc[0]["program"] == "dockerd"
    ours = analyze([str(CRASHES / "http.stderr")], rules=rules)
    assert "A Go program recovered a panic" in _unexplained(ours)[0].summary


def test_the_49227_panic_stays_with_its_rules(rules):
    result = analyze([str(REPRO)], rules=rules)
    ids = {f.id for f in result.found}
    assert {"moby-49227", "inspect-nil-panic"} <= ids
    assert not _unexplained(result)


def test_a_crash_loop_does_not_hide_which_crash(tmp_path, rules):
    """dockerd-crash-loop cites every fatal panic ("what ended a daemon"): that does not explain it."""
    trace = (
        (CRASHES / "reports" / "for-linux-159-syslog-driver-sigsegv.log")
        .read_text()
        .splitlines()[3:12]
    )
    lines = []
    for i in range(4):
        lines.append(f'time="2017-11-11T03:4{i}:00.000000000Z" level=info msg="Starting up"')
        lines += trace
    result = analyze([write_lines(tmp_path / "loop.log", lines)], rules=rules)
    assert any(f.id == "dockerd-crash-loop" and f.found for f in result.findings)
    found = _unexplained(result)
    assert len(found) == 1 and "4 times" in found[0].summary
    assert "first 2017-11-11 03:40:00 UTC, last 2017-11-11 03:43:00 UTC" in found[0].summary
    assert found[0].explanation.count("daemon started") == 4


def test_lifetimes_are_the_crashing_daemons_own(tmp_path, rules):
    """Another daemon's starts (another file, no host to tell them apart) are not this daemon's
    lifetimes: the one definition of a daemon start (``evidence.daemon_starts``) is used."""
    trace = (
        (CRASHES / "reports" / "for-linux-159-syslog-driver-sigsegv.log")
        .read_text()
        .splitlines()[3:12]
    )
    line = 'time="2017-11-11T03:{}:00.000000000Z" level=info msg="{}"'
    crashing = write_lines(
        tmp_path / "a.log",
        [line.format("40", "Starting up"), line.format("45", "Loading containers: done."), *trace],
    )
    other = write_lines(tmp_path / "b.log", [line.format("43", "Starting up")])
    found = _unexplained(analyze([crashing, other], rules=rules))
    assert len(found) == 1 and "daemon started 2017-11-11 03:40:00 UTC: 1" in found[0].explanation
    assert "03:43" not in found[0].explanation


def test_escaped_in_a_logrus_message(tmp_path, rules):
    """containerd and old dockerd log a whole trace in one msg="..." with escaped newlines."""
    trace = (CRASHES / "index.stderr").read_text()
    line = 'time="2024-05-02T10:00:00.000000000Z" level=error msg=' + json.dumps(trace)
    result = analyze([write_lines(tmp_path / "escaped.log", [line])], rules=rules)
    found = _unexplained(result)
    assert len(found) == 1 and "(*Daemon).GetByName" in found[0].summary
    assert "2024-05-02 10:00:00" in found[0].summary


def test_same_panic_twice_is_one_finding_with_count_and_span(tmp_path, rules):
    text = (CRASHES / "reports" / "moby-22210-http-panic-containerrm.log").read_text().splitlines()
    later = [s.replace("19:52:4", "20:10:4").replace("19:52:4", "20:10:4") for s in text]
    result = analyze([write_lines(tmp_path / "twice.log", text + later)], rules=rules)
    found = _unexplained(result)
    assert len(found) == 1
    assert (
        "2 times (first 2016-04-20 19:52:48 UTC, last 2016-04-20 20:10:48 UTC)" in found[0].summary
    )
    assert len(found[0].evidence) == 2


DESKTOP = (
    "localhost com.docker.supervisor[36227]: com.docker.driver.amd64-linux -addr fd:3 -debug (pid: 36237): "
    "stderr: "
)
SHAPES = {
    "journal": lambda line: f"Dec 06 07:14:10 node-1 dockerd[1042]: {line}",
    "rfc5424": lambda line: (
        f"<30>1 2026-12-06T07:14:10.000300+00:00 node-1 dockerd 1042 - - {line}"
    ),
    "desktop-macos": lambda line: f"2026-12-06 07:14:10.892799-0500  {DESKTOP}{line}",
    "json-file": lambda line: json.dumps(
        {"log": line + "\n", "stream": "stderr", "time": "2026-12-06T07:14:10.1Z"}
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("name", ["index.stderr", "http.stderr"])
def test_every_log_shape(tmp_path, rules, shape, name):
    lines = [
        SHAPES[shape](line) for line in (CRASHES / name).read_text().splitlines() if line.strip()
    ]
    result = analyze([write_lines(tmp_path / "wrapped.log", lines)], rules=rules)
    found = _unexplained(result)
    assert len(found) == 1, [f.title for f in result.findings]
    assert "example.com/crashd/daemon.(*Daemon).GetByName" in found[0].summary
    assert "index out of range" in found[0].summary and found[0].first_seen is not None


def test_the_request_being_served_is_named(tmp_path, rules):
    """With debug logs, the `Calling METHOD PATH` line just before a recovered panic names the request."""
    lines = (CRASHES / "reports" / "moby-22210-http-panic-containerrm.log").read_text().splitlines()
    calling = (
        'Apr 20 19:52:48 ip-10-0-1-115 docker[1359]: time="2016-04-20T19:52:48.100000000Z" level=debug '
        'msg="Calling DELETE /v1.23/containers/web?force=1"'
    )
    result = analyze(
        [write_lines(tmp_path / "debug.log", lines[:1] + [calling] + lines[1:])], rules=rules
    )
    [f] = _unexplained(result)
    assert "serving DELETE /v1.23/containers/web?force=1" in f.summary


def test_the_check_has_its_row_in_the_rules_table(rules):
    """Every check that can raise a finding says what it found in the rules table, this one too."""

    def row(paths):
        result = analyze(paths, rules=rules)
        return next(o for o in result.outcomes if o.rule == "unexplained-panic")

    crashed = row([str(CRASHES / "nil-map.stderr")])
    assert crashed.status == "matched" and crashed.confidence is not None
    assert crashed.reason.startswith("1 kind of panic no catalogue rule explains")
    assert (
        row([str(REPRO)]).reason == "every panic in the inputs (1) is explained by a catalogue rule"
    )
    healthy = row([str(HEALTHY)])
    assert (healthy.status, healthy.reason) == (
        "not-matched",
        "no panic or fatal error in the inputs",
    )
