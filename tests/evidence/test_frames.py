"""The ``frames`` table (a row per frame of every goroutine) is built only when something reads it."""

import pytest
from conftest import FIXTURES, REPRO

from forensics.analyze import analyze
from forensics.engine.ruleset import load_rules
from forensics.report.data import to_dict
from forensics.report.facts import _GO_PATH, go_versions

GO_RUNTIME = FIXTURES / "dumps" / "go-runtime"
DUMP = REPRO / "goroutine-stacks-2026-11-29T122857Z.log"

FRAMES_RULE = """id: sample
title: a user rule on the frames table
severity: low
signals:
  inspect:
    table: frames
    where: {func: '\\.ContainerInspectCurrent$', file: '/daemon/inspect\\.go$'}
verdicts:
  - {confidence: likely, all: [inspect]}
"""


def _built(ev) -> set[str]:
    return set(getattr(ev.tables, "built", ev.tables))  # the tables made so far


def test_analyze_and_its_report_leave_the_frames_table_unbuilt_when_no_rule_reads_it(rules):
    assert not any(s.table == "frames" for r in rules for s in r.signals.values())
    result = analyze([str(DUMP)], rules=rules)
    report = to_dict(result)
    ev = result.evidence
    assert report["findings"] and ev.dumps  # a real dump, analysed
    assert "frames" not in _built(ev)
    assert list(ev.tables) == [
        "events", "daemons", "dumps", "goroutines", "frames", "panics", "locks", "containers"
    ]  # fmt: skip
    assert "frames" not in _built(ev)  # listing the tables built nothing
    frames = ev["frames"]  # built on first access, then kept
    assert "frames" in _built(ev) and ev["frames"] is frames
    assert len(frames) == sum(len(g.frames) for d in ev.dumps for g in d.goroutines)


def test_a_rule_on_the_frames_table_gets_it_and_matches(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "sample.yaml").write_text(FRAMES_RULE)
    result = analyze([str(DUMP)], rules=load_rules(tmp_path / "rules"))
    assert "frames" in _built(result.evidence)
    (found,) = [f for f in result.findings if f.id == "sample"]
    lines = DUMP.read_text().splitlines()
    assert found.evidence and all(
        c.source.endswith(DUMP.name) and ".ContainerInspectCurrent(" in lines[c.line - 1]
        for c in found.evidence
    )


@pytest.mark.parametrize(
    "path", [GO_RUNTIME / "go1.22" / "goroutine-stacks-1.log", GO_RUNTIME / "go1.19", GO_RUNTIME]
)
def test_go_version_from_the_dumps_is_the_first_runtime_path_of_the_frames_table(path, rules):
    """The version, source and line the frames table gives (its first row whose file lies in a Go
    release's tree), without building the table."""
    ev = analyze([str(path)], rules=rules).evidence
    found = go_versions(ev)
    assert "frames" not in _built(ev)
    frames = ev["frames"]
    row = frames[frames["file"].map(lambda f: bool(f and _GO_PATH.search(f)))].iloc[0]
    version = f"go{_GO_PATH.search(row['file'])['v']}"
    assert found == [
        {
            "version": version,
            "how": "runtime source paths in a goroutine dump",
            "source": row["source"],
            "line": int(row["line"]),
        }
    ]
