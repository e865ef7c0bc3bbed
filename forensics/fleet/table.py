"""Fleet outputs from the scan table: CSV, Parquet, JSON and a summary HTML page."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from forensics import __version__, outputs
from forensics.engine.ruleset import Rule
from forensics.findings import FOUND
from forensics.parse import versions


def _found(cell) -> str | None:
    return cell if isinstance(cell, str) and cell in FOUND else None


def _affected(version, candidates, ranges: list[str]) -> bool:
    """A host's engine in the affected ranges: its version, or every release its dumps fit."""
    if isinstance(candidates, str) and candidates:
        return versions.range_in_any(candidates.split(), ranges) is True
    return versions.in_any(version if isinstance(version, str) else None, ranges) is True


def summary(table: pd.DataFrame, rules: list[Rule]) -> dict:
    """Hosts per finding, engine versions, and an upgrade plan per versioned rule."""
    rule_cols = [c for c in table.columns if c.startswith("rule:")]
    by_rule = []
    for col in rule_cols:
        hits = table[table[col].map(_found).notna()]
        if hits.empty:
            continue
        rule = next((r for r in rules if r.id == col[5:]), None)
        by_rule.append(
            {
                "rule": col[5:],
                "title": rule.title if rule else col[5:],
                "hosts": len(hits),
                "severity": str(rule.severity) if rule else "",
                "confidence": hits[col].value_counts().to_dict(),
                "names": hits["host"].tolist(),
                "versions": hits["engine_version"].fillna("unknown").value_counts().to_dict(),
            }
        )
    plan = []
    for rule in rules:
        col = f"rule:{rule.id}"
        if not rule.affected or col not in table:
            continue
        affected = table[
            [
                _affected(v, c, rule.affected)
                for v, c in zip(
                    table["engine_version"], table.get("engine_candidates", [None] * len(table))
                )
            ]
        ]
        hit = affected[affected[col].map(_found).notna()]
        if len(affected):
            plan.append(
                {
                    "rule": rule.id,
                    "fixed_in": rule.fixed_in,
                    "affected_hosts": len(affected),
                    "with_evidence": len(hit),
                    "hosts_with_evidence": hit["host"].tolist(),
                    "ranges": rule.affected,
                }
            )
    plan.sort(key=lambda p: -p["with_evidence"])
    templates: dict[tuple, dict] = {}  # the same masked template on many hosts
    for host, cell in zip(
        table["host"], table.get("log_templates", pd.Series([None] * len(table)))
    ):
        for t in json.loads(cell) if isinstance(cell, str) and cell else []:
            entry = templates.setdefault(
                (t["template"], t["level"]), {**t, "count": 0, "hosts": 0, "names": []}
            )
            entry["count"] += t["count"]
            entry["hosts"] += 1
            entry["names"].append(host)
    return {
        "hosts": len(table),
        "unreadable": int(table["error"].notna().sum()) if "error" in table else 0,
        "verdicts": table["verdict"].value_counts().to_dict() if "verdict" in table else {},
        "engine_versions": table.get("engine_version", pd.Series(dtype=str))
        .fillna("unknown")
        .value_counts()
        .to_dict(),
        "findings": sorted(by_rule, key=lambda r: -r["hosts"]),
        "upgrade_plan": plan,
        "log_templates": sorted(templates.values(), key=lambda t: (-t["hosts"], -t["count"]))[:30],
    }


def write(
    table: pd.DataFrame,
    out: Path,
    rules: list[Rule],
    per_host_reports: bool,
    redaction: dict | None = None,
) -> list[str]:
    """Write fleet.csv, fleet.parquet, fleet.json and fleet.html (through the one output writer);
    returns notes on what was skipped. ``redaction``: the tokens of a redacted scan, for fleet.json."""
    notes = []
    outputs.write(out / "fleet.csv", table.to_csv(index=False))
    try:
        outputs.write(
            out / "fleet.parquet",
            table.astype(
                {c: "string" for c in table.columns if table[c].dtype == object}
            ).to_parquet(index=False),
        )
    except ImportError:
        notes.append("fleet.parquet not written: install pyarrow (pip install pyarrow)")
    info = summary(table, rules)
    records = json.loads(table.to_json(orient="records"))
    document = {"schema": "forensics-fleet/1", "tool": __version__, "summary": info}
    if redaction:
        document["redaction"] = redaction
    outputs.write(out / "fleet.json", json.dumps({**document, "hosts": records}, indent=2))
    from forensics.report.html import environment

    page = (
        environment()
        .get_template("fleet.html.j2")
        .render(
            summary=info,
            hosts=records,
            per_host=per_host_reports,
            rule_columns=[c for c in table.columns if c.startswith("rule:")],
            version=__version__,
        )
    )
    outputs.write(out / "fleet.html", page)
    return notes
