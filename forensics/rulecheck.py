"""Run each rule against its own fixtures (``rules/fixtures/<rule-id>/<case>/``).

A case is a folder with ``case.yaml`` and, optionally, input files of its own:

    expect: confirmed            # a confidence (confirmed, likely, possible, not-affected)
                                 # or an outcome (not-matched, inconclusive, not-checked)
    inputs:                      # optional: real captures elsewhere in the repository
      - samples/49227-repro/goroutine-stacks-2026-11-29T122857Z.log
      - {path: samples/49227-repro/dockerd.log, lines: 1-224}   # a slice of one
    engine_version: 27.5.0       # optional, as --engine-version
    severity: medium             # optional: the finding's expected severity
    summary_contains: live holder   # optional
    note: why this case exists

Positive and negative cases live side by side; a new rule brings its cases and no test code.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from forensics.analyze import analyze
from forensics.engine.ruleset import Rule, rules_dir
from forensics.findings import CONFIDENCES

CASE_KEYS = {"expect", "inputs", "engine_version", "severity", "summary_contains", "note"}


@dataclass
class CaseResult:
    rule: str
    case: str
    ok: bool
    expected: str
    got: str
    detail: str = ""


def cases(rule_id: str | None = None, directory: Path | None = None) -> list[Path]:
    base = (directory or rules_dir()) / "fixtures"
    pattern = f"{rule_id}/*/case.yaml" if rule_id else "*/*/case.yaml"
    return sorted(p.parent for p in base.glob(pattern))


def _inputs(case: Path, spec: dict, scratch: Path) -> list[str]:
    root = case.parents[3]  # rules/fixtures/<rule>/<case> -> repository root
    paths = [str(p) for p in sorted(case.iterdir()) if p.name != "case.yaml"]
    for item in spec.get("inputs") or []:
        item = {"path": item} if isinstance(item, str) else dict(item)
        source = root / item["path"]
        if "lines" not in item:
            paths.append(str(source))
            continue
        first, last = (int(n) for n in str(item["lines"]).split("-"))
        target = scratch / source.name
        lines = source.read_text(encoding="utf-8", errors="replace").splitlines()[first - 1 : last]
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(str(target))
    return paths


def run_case(case: Path, rules: list[Rule]) -> CaseResult:
    rule_id = case.parent.name
    try:
        spec = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        return CaseResult(
            rule_id, case.name, False, "?", "bad case.yaml", str(exc).replace("\n", " ")
        )
    if not isinstance(spec, dict):
        return CaseResult(rule_id, case.name, False, "?", "bad case.yaml", "must hold one mapping")
    unknown = set(spec) - CASE_KEYS
    expected = str(spec.get("expect", ""))
    if unknown or expected not in CONFIDENCES + ["not-matched", "not-checked"]:
        return CaseResult(
            rule_id,
            case.name,
            False,
            expected,
            "bad case.yaml",
            f"unknown keys {sorted(unknown)}"
            if unknown
            else "expect must be a confidence or outcome",
        )
    with tempfile.TemporaryDirectory() as scratch:
        result = analyze(
            _inputs(case, spec, Path(scratch)),
            engine_version=spec.get("engine_version"),
            rules=rules,
        )
    outcome = next((o for o in result.outcomes if o.rule == rule_id), None)
    finding = next((f for f in result.findings if f.id == rule_id), None)
    if outcome is None:
        return CaseResult(rule_id, case.name, False, expected, "no such rule")
    got = finding.confidence if finding else outcome.status
    problems = []
    if got != expected:
        problems.append(outcome.reason)
    if finding and spec.get("severity") and finding.severity != spec["severity"]:
        problems.append(f"severity {finding.severity}, expected {spec['severity']}")
    if finding and spec.get("summary_contains") and spec["summary_contains"] not in finding.summary:
        problems.append(f"summary lacks {spec['summary_contains']!r}: {finding.summary}")
    return CaseResult(rule_id, case.name, not problems, expected, got, "; ".join(problems))
