"""Issue 14 (engine side): one definition for each concept — the engine version, `docker version`
output, the containers a finding names, severity and confidence, the rule catalogue."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import HEALTHY, REPRO, ROOT, finding

from forensics.analyze import analyze
from forensics.collect.dockerapi import render_version
from forensics.engine.ruleset import load_rules
from forensics.findings import CONFIDENCES, SEVERITIES
from forensics.report import to_dict, to_markdown
from forensics.report.redact import redact

NEW = str(REPRO / "dockerd.log")  # dockerd 27.4.1, started 12:27:58
OLD = str(
    HEALTHY / "dockerd-20.10.24-text-debug.log"
)  # dockerd 20.10.24+dfsg1, 12:11-12:13 the same day
DUMP = str(REPRO / "goroutine-stacks-2026-11-29T122857Z.log")


def test_engine_version_is_the_latest_daemon_whatever_the_argument_order(rules):
    reports = [
        to_dict(analyze(paths, rules=rules))
        for paths in ([NEW, OLD, DUMP], [OLD, DUMP, NEW], [DUMP, NEW, OLD])
    ]
    assert {r["engine_version"] for r in reports} == {"27.4.1"}
    assert all(r["engine_versions"] == ["20.10.24+dfsg1", "27.4.1"] for r in reports)
    f = next(f for f in reports[0]["findings"] if f["id"] == "moby-49227")
    assert (
        f["confidence"] == "confirmed" and f["engine_version"] == "27.4.1"
    )  # gated on the daemon that panicked
    md = to_markdown(reports[0])
    assert "daemons of 2 versions (20.10.24+dfsg1, 27.4.1, oldest first)" in md


def test_one_version_says_nothing_of_several(rules):
    report = to_dict(analyze([str(REPRO)], rules=rules))
    assert report["engine_versions"] == ["27.4.1"] and "versions (" not in to_markdown(report)


def test_each_finding_is_gated_on_the_daemon_its_evidence_cites(tmp_path):
    """A rule for 20.10 only, whose evidence is in the 20.10 log, while the latest daemon is 27.4.1."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "closed-fifo.yaml").write_text(
        "id: closed-fifo\ntitle: stream copy from a closed fifo\nseverity: low\n"
        "versions: {affected: ['>=20.10, <21']}\n"
        "signals:\n  fifo: {table: events, where: {msg: 'stream copy error: reading from a closed fifo'}}\n"
        "verdicts:\n  - {confidence: confirmed, all: [fifo], summary: 'fifo errors (engine {version})'}\n"
    )
    rules = load_rules(tmp_path / "rules")
    for paths in ([OLD, NEW], [NEW, OLD]):
        result = analyze(paths, rules=rules)
        f = finding(result, "closed-fifo")
        assert result.engine_version == "27.4.1"
        assert f.confidence == "confirmed" and f.engine_version == "20.10.24+dfsg1", f.summary
        assert f.summary == "fifo errors (engine 20.10.24+dfsg1)"
    # --engine-version still decides for every finding
    assert (
        finding(analyze([OLD, NEW], engine_version="27.4.1", rules=rules), "closed-fifo").confidence
        == "not-affected"
    )


def test_docker_version_output_has_one_reader(tmp_path, rules):
    from forensics.parse.dockerversion import servers

    api = {
        "Version": "27.5.1",
        "ApiVersion": "1.47",
        "MinAPIVersion": "1.24",
        "GoVersion": "go1.22.11",
        "GitCommit": "4c9b3b0",
        "Os": "linux",
        "Arch": "amd64",
        "Platform": {"Name": "Docker Engine - Community"},
        "Components": [
            {"Name": "Engine", "Version": "27.5.1"},
            {"Name": "containerd", "Version": "1.7.25", "Details": {"GitCommit": "bcc810d"}},
        ],
    }
    rendered = tmp_path / "docker-version.txt"
    rendered.write_text(render_version(api))
    for path, version, go in (
        (REPRO / "docker-version.txt", "27.4.1", "go1.22.12"),
        (rendered, "27.5.1", "go1.22.11"),
    ):
        result = analyze([str(path)], rules=rules)
        events = result.evidence["events"]
        (server,) = servers(events[events["level"].isna()].itertuples())
        assert (
            server.get("Version")[0] == version and server.get("Go version")[0] == go
        )  # not containerd's
        report = to_dict(result)
        assert [d["version"] for d in report["environment"]["daemons"]] == [version]
        assert [g["version"] for g in report["environment"]["go_versions"]] == [go]


def test_findings_carry_their_containers_as_name_and_id(rules):
    from forensics.findings import Container

    result = analyze([str(REPRO)], rules=rules)
    f = finding(result, "moby-49227")
    assert f.containers == [Container("test", "d593da0690bf")]
    out = f.to_dict()
    assert out["containers"] == ["test (d593da0690bf)"]  # the label, as before
    assert out["container_refs"] == [{"name": "test", "id": "d593da0690bf"}]
    report = to_dict(result)
    assert report["timeline"]["containers"] == ["test"]
    # redaction reads the name from the data: the container's name is gone, its id kept
    hidden = redact({**report, "environment": {**report["environment"], "containers": []}})
    f = next(f for f in hidden["findings"] if f["id"] == "moby-49227")
    assert f["container_refs"] == [{"name": "container-1", "id": "d593da0690bf"}]
    assert f["containers"] == ["container-1 (d593da0690bf)"]


def test_severity_and_confidence_are_ordered_words():
    from forensics.findings import Confidence, Severity

    assert sorted(Severity(s) for s in ["critical", "high", "info", "medium", "low"]) == list(
        Severity
    )
    assert (
        sorted(SEVERITIES) != SEVERITIES and not Severity.HIGH > Severity.CRITICAL
    )  # by place, not alphabetically
    assert (
        Severity.MEDIUM >= "low"
        and Confidence.LIKELY < "confirmed"
        and not Confidence.INCONCLUSIVE.found
    )
    assert SEVERITIES == ["info", "low", "medium", "high", "critical"]
    assert CONFIDENCES == ["confirmed", "likely", "possible", "inconclusive", "not-affected"]
    assert json.dumps([Severity.HIGH, Confidence.NOT_AFFECTED]) == '["high", "not-affected"]'
    assert f"{Severity.LOW}/{Confidence.POSSIBLE}" == "low/possible"


def test_findings_sorted_by_severity_then_confidence(rules):
    from forensics.findings import Severity

    result = analyze([str(REPRO)], rules=rules)
    keys = [(f.severity.rank, f.confidence.rank) for f in result.found]
    assert keys == sorted(keys, reverse=True) and result.worst_severity() is Severity.CRITICAL


def _cli(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["analyze", str(REPRO)],
        ["rules", "list"],
        ["rules", "show", "moby-49227"],
        ["rules", "test"],
    ],
)
@pytest.mark.parametrize("where", ["/no/such/dir", "empty"])
def test_no_catalogue_is_an_error_not_a_verdict(tmp_path, command, where):
    directory = where if where.startswith("/") else str(tmp_path)
    proc = _cli(*command, "--rules", directory)
    assert proc.returncode == 2, proc.stdout
    assert (
        proc.stderr.count("\n") == 1
        and directory in proc.stderr
        and "VERDICT" not in proc.stdout.upper()
    )


def test_scan_without_a_catalogue_is_an_error(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from forensics.cli import app
    from forensics.engine import ruleset

    monkeypatch.setattr(ruleset, "rules_dir", lambda: tmp_path)
    out = CliRunner().invoke(app, ["scan", str(REPRO), "--out", str(tmp_path / "out"), "-q"])
    assert out.exit_code == 2 and not (tmp_path / "out" / "fleet.csv").exists()


def test_installed_package_finds_49227_from_another_directory(tmp_path):
    """pip install --target, then run from elsewhere: the catalogue is package data."""
    source, target, elsewhere = tmp_path / "src", tmp_path / "site", tmp_path / "cwd"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "samples", "tests", "bench", "build", "*.egg-info", "__pycache__", ".venv"
        ),
    )
    elsewhere.mkdir()
    pip = (
        [os.environ.get("FORENSICS_PIP", "/work/venv/bin/pip")]
        if os.path.exists(os.environ.get("FORENSICS_PIP", "/work/venv/bin/pip"))
        else [sys.executable, "-m", "pip"]
    )
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = _cli("analyze", str(REPRO), "-q", "--json", "-", cwd=elsewhere, env=env)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert any(
        f["id"] == "moby-49227" and f["confidence"] == "confirmed" for f in report["findings"]
    )
    proc = _cli("rules", "test", cwd=elsewhere, env=env)
    assert proc.returncode == 2 and "--rules <checkout>/rules" in proc.stderr, proc.stderr
    proc = _cli("rules", "test", "moby-49227", "--rules", str(ROOT / "rules"), cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout


def test_panic_site_frame_and_top_agree(rules):
    """The panics table's ``frame`` (where it was raised), ``site`` (what the reader sees) and
    ``top`` come from one definition of the panic's own frames: the 49227 panic is raised in the
    nil layer's Metadata called from getInspectData, below the recovering net/http and runtime
    frames."""
    panics = analyze([str(REPRO)], rules=rules).evidence["panics"]
    row = panics[panics["message"].str.contains("panic serving")].iloc[0]
    assert row["frame"].endswith("/layer.(*referencedRWLayer).Metadata")
    assert row["site"] == (
        "layer.(*referencedRWLayer).Metadata (<autogenerated>:1)"
        " <- daemon.(*Daemon).getInspectData (inspect.go:202)"
    )
    assert row["top"] == row["frame"]
