"""Issue 17 parts 3-4: the engine version from the goroutine dumps when no option, log line or
`docker version` gives it; version-gated rules decided by the candidate range; the links to the
daemon's source at that release. Real dumps only (samples/, tests/fixtures/versions/)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import FIXTURES, HEALTHY, REPRO, SAMPLES, finding

from forensics.analyze import analyze
from forensics.cli.dump import html as dump_html
from forensics.cli.dump import load
from forensics.cli.dump import report as dump_report
from forensics.cli.dump import text as dump_text
from forensics.engine.dumpversion import DumpVersion, infer, source_url
from forensics.engine.evaluate import evaluate
from forensics.parse import versions
from forensics.report import to_html
from forensics.report.data import SCHEMA_PATH, to_dict
from forensics.report.markdown import to_markdown

SIGUSR1 = REPRO / "goroutine-stacks-2026-11-29T122857Z.log"
V26 = FIXTURES / "versions" / "v26.1.4"
V23 = FIXTURES / "versions" / "v23.0.6"
AFFECTED = [">=18.03, <27.5.0"]  # moby-49227's range


def test_dump_without_log_gives_the_engine_version(rules):
    r = analyze([str(SIGUSR1)], rules=rules)
    assert r.engine_version == "27.4.1"
    assert r.engine_version_source == f"goroutine dump {SIGUSR1}"
    f = finding(r, "moby-49227")
    assert f.engine_version == "27.4.1" and f.confidence == "likely"
    assert "engine version is unknown" not in f.explanation
    assert "engine 27.4.1 from the line numbers of the goroutine dump" in f.explanation
    doc = to_dict(r)
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    assert doc["revision"] == 3 and doc["engine_version_source"] == f"goroutine dump {SIGUSR1}"
    assert (
        doc["engine_from_dumps"]["candidates"] == ["27.4.1"]
        and doc["engine_from_dumps"]["ratio"] == 1.0
    )
    assert (
        doc["engine_from_dumps"]["used"] is True
        and doc["engine_from_dumps"]["link_tag"] == "v27.4.1"
    )


@pytest.mark.parametrize(
    "path,display,candidates",
    [
        (V26 / "goroutine-stacks-2026-12-06T064151Z.log", "26.1.4–26.1.5", ["26.1.4", "26.1.5"]),
        (
            V26 / "pprof-goroutine-debug1.txt",
            "26.1.4–26.1.5",
            ["26.1.4", "26.1.5"],
        ),  # pprof debug=1
        (
            V23 / "goroutine-stacks-2026-12-06T071625Z.log",
            "23.0.0–23.0.18",
            [f"23.0.{n}" for n in range(19)],
        ),
        (V23 / "pprof-goroutine-debug1.txt", "23.0.0–23.0.18", [f"23.0.{n}" for n in range(19)]),
    ],
)
def test_fixture_dumps_alone(path, display, candidates, rules):
    r = analyze([str(path)], rules=rules)
    assert r.engine_version == display and r.engine_version_source == f"goroutine dump {path}"
    assert list(r.dump_version.candidates) == candidates
    assert (
        r.dump_version.link_tag == f"v{candidates[-1]}"
    )  # a range links to its newest tag, and says so
    assert f"the newest of the releases {display}" in r.dump_version.link_note


def test_a_log_version_wins_and_the_dumps_agree(rules):
    """The v23.0.6 daemon's stderr says 23.0.6 and its dumps fit 23.0.0-23.0.18: no note."""
    r = analyze([str(V23)], rules=rules)
    assert r.engine_version == "23.0.6" and r.engine_version_source.startswith("log ")
    assert r.dump_version.display == "23.0.0–23.0.18" and len(r.dump_version.sources) == 4
    assert not any("not among the releases" in w for w in r.warnings)


def test_option_wins(rules):
    r = analyze([str(SIGUSR1)], engine_version="27.4.1", rules=rules)
    assert r.engine_version == "27.4.1" and r.engine_version_source == "option" and not r.warnings


def test_log_of_another_daemon_is_noted(rules):
    """A 20.10 daemon's log with the 27.4.1 dump: the log's version stands, the mix is said."""
    log = HEALTHY / "dockerd-20.10.24-text-debug.log"
    r = analyze([str(log), str(SIGUSR1)], rules=rules)
    assert r.engine_version == "20.10.24+dfsg1" and r.engine_version_source == f"log {log}"
    [note] = [w for w in r.warnings if "not among the releases" in w]
    assert "20.10.24+dfsg1" in note and "(27.4.1)" in note and "different daemons" in note
    assert note in to_markdown(r) and note in to_html(r)


def _dumps(*paths):
    problems = []
    found = load([str(p) for p in paths], problems)
    assert not problems
    return found


def test_gate_inside_outside_straddling(rules):
    """moby-49227 on the 27.4.1 repro dump's evidence, gated by other real dumps' ranges."""
    evidence = analyze([str(SIGUSR1)], rules=rules).evidence
    healthy = infer(_dumps(HEALTHY / "goroutine-stacks-sigusr1.log"))
    assert (
        healthy.display == "20.10.24–20.10.27"
        and versions.range_in_any(healthy.candidates, AFFECTED) is True
    )
    findings, _, _ = evaluate(rules, evidence, None, healthy)
    f = next(f for f in findings if f.id == "moby-49227")
    assert f.confidence == "likely" and f.engine_version == "20.10.24–20.10.27"
    assert "engine version is unknown" not in f.explanation and "straddle" not in f.explanation

    fixed = DumpVersion(
        "27.5.0–27.5.1",
        ("27.5.0", "27.5.1"),
        ("v27.5.0", "v27.5.1"),
        1.0,
        30,
        30,
        ("x.log",),
        ("stacks",),
    )
    findings, outcomes, _ = evaluate(rules, evidence, None, fixed)
    f = next(f for f in findings if f.id == "moby-49227")
    assert (
        f.confidence == "not-affected"
        and "27.5.0–27.5.1 is outside the affected range" in f.summary
    )
    assert next(o for o in outcomes if o.rule == "moby-49227").status == "not-applicable"

    control = infer(_dumps(SAMPLES / "49227-control" / "goroutine-stacks-2026-11-29T123223Z.log"))
    assert control.display == "25.0.7–25.0.15, 27.4.1–27.5.1"  # 27.4.1 affected, 27.5.x not
    assert versions.range_in_any(control.candidates, AFFECTED) is None
    findings, _, _ = evaluate(rules, evidence, None, control)
    f = next(f for f in findings if f.id == "moby-49227")
    assert f.confidence == "likely" and "straddle the affected range" in f.explanation
    assert "not-affected" != f.confidence


def test_weak_or_empty_match_is_not_the_engine_version(rules):
    containerd = FIXTURES / "dumps" / "real-dockerd" / "containerd-stacks-sigusr1-file.log"
    r = analyze([str(containerd)], rules=rules)
    assert r.engine_version is None and r.engine_version_source is None
    assert r.dump_version.display == "" and "no daemon frames" in r.dump_version.reason


def test_dump_command_prints_the_release_and_links_frames():
    dumps = _dumps(SIGUSR1)
    data = dump_report(dumps)
    assert (
        data["engine"]["display"] == "27.4.1"
        and data["dumps"][0]["engine"]["link_tag"] == "v27.4.1"
    )
    assert dump_text(data).startswith(
        "engine release: 27.4.1 from the line numbers of the goroutine dump"
    )
    urls = [f["url"] for b in data["dumps"][0]["buckets"] for f in b["frames"] if f["url"]]
    assert "https://github.com/moby/moby/blob/v27.4.1/daemon/inspect.go#L58" in urls
    assert all(u.startswith("https://github.com/moby/moby/blob/v27.4.1/") for u in urls)
    assert not any(
        f["url"]
        for b in data["dumps"][0]["buckets"]
        for f in b["frames"]
        if f["func"].startswith(("runtime.", "sync."))
    )
    page = dump_html(data)
    assert '<a href="https://github.com/moby/moby/blob/v27.4.1/daemon/inspect.go#L58">' in page


def test_report_links_daemon_frames(rules):
    page = to_html(analyze([str(V26 / "goroutine-stacks-2026-12-06T064151Z.log")], rules=rules))
    assert '<a href="https://github.com/moby/moby/blob/v26.1.5/' in page
    assert "the newest of the releases 26.1.4–26.1.5" in page


def test_source_url_escapes_and_refuses():
    assert source_url("v27.4.1", "runtime.gopark", "/usr/local/go/src/runtime/proc.go", 398) is None
    assert (
        source_url(
            None,
            "github.com/docker/docker/daemon.(*Daemon).getInspectData",
            "/go/src/github.com/docker/docker/daemon/inspect.go",
            58,
        )
        is None
    )
    url = source_url(
        "v27.4.1?x=<b>",
        "github.com/docker/docker/daemon.(*Daemon).getInspectData",
        "/go/src/github.com/docker/docker/daemon/inspect.go",
        58,
    )
    assert url == "https://github.com/moby/moby/blob/v27.4.1%3Fx%3D%3Cb%3E/daemon/inspect.go#L58"
