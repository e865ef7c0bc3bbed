"""The report as plain data: the JSON document (schema forensics-report/1). Every renderer reads
only this, so a saved JSON re-renders to the same HTML, Markdown and text without the inputs."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from forensics.evidence import templates
from forensics.goroutines.completeness import HOW_TO_TAKE
from forensics.report import facts, timeline

if TYPE_CHECKING:
    from forensics.analyze import Result

SCHEMA_ID = "forensics-report/1"
REVISION = 3  # additive changes within forensics-report/1: 1 = first release, 2 = report issue (timeline...),
# 3 = engine version from the goroutine dumps (engine_version_source, engine_from_dumps, bucket links),
#     log_templates, findings' first_seen / last_seen / restarted_after, the program that wrote each
#     dump (dumps[].program, locks[].program) and calls joined across programs
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "report.schema.json"


class ReportError(ValueError):
    """A saved report that cannot be read back."""


def records(df: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Rows as JSON-ready dicts: NaN/NaT -> None, timestamps -> ISO 8601, numpy scalars -> Python."""
    out = []
    for row in df[columns].itertuples(index=False):
        item = {}
        for col, value in zip(columns, row):
            if value is None or (not isinstance(value, (str, list)) and pd.isna(value)):
                value = None
            elif isinstance(value, pd.Timestamp):
                value = value.isoformat()
            elif hasattr(value, "item"):
                value = value.item()
            item[col] = value
        out.append(item)
    return out


LOCK_KEYS = [
    "dump",
    "key",
    "kind",
    "status",
    "waiters",
    "longest_wait",
    "sites",
    "waiter_gids",
    "holders",
    "holder_gids",
    "source",
    "line",
    "waiting",
    "holding",
]  # of Lock.to_dict: the report's lock


def _locks(result: Result) -> list[dict]:
    ev, rows = result.evidence, []
    for index, lock in ev.locks:
        d = ev.dumps[index]
        full = lock.to_dict(index, d.source, lock.line or d.line)
        rows.append(
            {key: full[key] for key in LOCK_KEYS}
            | {"holders": full["holders"] or "", "program": d.program}
        )
    return rows


# What could not be checked for want of a kind of input, and how to get it, one sentence each.
NOT_CHECKED = {
    "dumps": ("without a goroutine dump", f"To take one: {HOW_TO_TAKE}."),
    "complete_dumps": ("from a partial goroutine dump", f"Give the whole dump: {HOW_TO_TAKE}."),
    "logs": (
        "without a daemon log",
        "Give the daemon's log: journalctl -u docker.service, or /var/log/docker.log.",
    ),
    "debug_logs": (
        "without debug log lines",
        'They need debug logging ("debug": true in daemon.json, or dockerd --debug).',
    ),
}


def not_checked(missing: dict[str, list[str]]) -> list[dict]:
    """One entry per kind of input missing: the rules it leaves unchecked and a sentence saying how to get it."""
    out = []
    for need, rules in missing.items():
        what, how = NOT_CHECKED.get(need, (f"without {need}", ""))
        n = len(rules)
        text = f"{n} rule{'s' if n != 1 else ''} could not be checked {what} ({', '.join(rules)}). {how}".strip()
        out.append({"needs": need, "rules": rules, "text": text})
    return out


def _finding(f, context: dict) -> dict:
    out = f.to_dict()
    for cite in out["evidence"]:
        lines = context.get((cite["source"], cite["line"]))
        cite["context"] = [{"line": n, "text": t} for n, t in lines] if lines else None
    return out


def _dumps(ev) -> list[dict]:
    rows = records(
        ev["dumps"],
        [
            "dump",
            "program",
            "kind",
            "time",
            "goroutines",
            "truncated",
            "panic_message",
            "source",
            "line",
            "complete",
            "completeness",
            "snapshot",
        ],
    )
    for row in rows:
        row["snapshot"] = None if row["snapshot"] is None else int(row["snapshot"])
    return rows


def to_dict(result: Result) -> dict:
    ev = result.evidence
    context = getattr(result, "context", None) or {}
    from_dumps = getattr(result, "dump_version", None)
    daemons = records(
        ev["daemons"],
        [
            "time",
            "host",
            "pid",
            "version",
            "commit",
            "storage_driver",
            "snapshotter",
            "source",
            "line",
        ],
    )
    return {
        "schema": SCHEMA_ID,
        "revision": REVISION,
        "tool": {"name": "forensics", "version": result.tool_version},
        "generated": result.generated.isoformat(),
        "verdict": result.verdict,
        "engine_version": result.engine_version,
        "engine_versions": list(result.engine_versions),
        "engine_version_source": getattr(result, "engine_version_source", None),
        "engine_from_dumps": from_dumps.to_dict() if from_dumps is not None else None,
        "findings": [_finding(f, context) for f in result.found]
        + [_finding(f, context) for f in result.findings if not f.found],
        "rules": [
            {
                "rule": o.rule,
                "status": o.status,
                "reason": o.reason,
                "confidence": o.confidence,
                "needs": list(o.needs),
            }
            for o in result.outcomes
        ],
        "not_checked": not_checked(result.not_checked),
        "inputs": [
            {
                "name": i.name,
                "kind": i.kind,
                "lines": i.lines,
                "events": i.events,
                "dumps": i.dumps,
                "goroutines": i.goroutines,
                "readable": i.readable,
            }
            for i in result.inputs
        ],
        "problems": [
            {"source": p.source, "line": p.line, "message": p.message, "fatal": p.fatal}
            for p in result.problems
        ],
        "warnings": list(result.warnings),
        "coverage": {k: bool(v) for k, v in ev.coverage.items()},
        "environment": {"daemons": daemons, **facts.environment(ev)},
        "dumps": _dumps(ev),
        "locks": _locks(result),
        "calls": [c.to_dict() for c in getattr(ev, "calls", [])],
        "goroutines": facts.buckets(ev, from_dumps.per_dump if from_dumps is not None else {}),
        "timeline": timeline.build(ev, [f.containers for f in result.found]),
        "log_templates": templates.cached(ev),
        "redaction": {"applied": False, "tokens": []},
    }


def several_versions(report: dict) -> str | None:
    """The line every report format prints when the inputs hold daemons of more than one version."""
    seen = report.get("engine_versions") or []
    if len(seen) < 2:
        return None
    return (
        f"the inputs hold daemons of {len(seen)} versions ({', '.join(seen)}, oldest first): "
        "each finding is checked against the version of the daemon its evidence comes from"
    )


def as_report(result) -> dict:
    """The report document of a Result; a document (e.g. loaded from JSON) is taken as it is."""
    return result if isinstance(result, dict) else to_dict(result)


def to_json(report: dict) -> str:
    """``json.dumps(report, indent=2, ensure_ascii=False)``, its pieces joined a batch at a time:
    an indented dump is encoded in Python, a piece per key, value and bracket, and all of them held
    at once before the join took ~30 MB more for the report of a 200 MB dump."""
    pieces = json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(report)
    return "".join(["".join(batch) for batch in iter(lambda: list(islice(pieces, 8192)), [])])


# What a revision-1 report lacks, filled so that every renderer can rely on it.
DEFAULTS = {
    "revision": 1,
    "engine_versions": [],
    "engine_version_source": None,
    "engine_from_dumps": None,
    "coverage": {},
    "goroutines": [],
    "timeline": None,
    "log_templates": [],
    "calls": [],
    "not_checked": [],
    "redaction": {"applied": False, "tokens": []},
}
ENV_DEFAULTS = {
    "daemons": [],
    "go_versions": [],
    "hosts": [],
    "pids": [],
    "containers": [],
    "images": [],
}


def normalize(report: object) -> dict:
    """A saved report checked for its schema id and completed with what older revisions lack."""
    if not isinstance(report, dict) or report.get("schema") != SCHEMA_ID:
        found = report.get("schema") if isinstance(report, dict) else type(report).__name__
        raise ReportError(f"not a {SCHEMA_ID} report (schema: {found!r})")
    out = {**DEFAULTS, **report}
    out["environment"] = {**ENV_DEFAULTS, **(report.get("environment") or {})}
    for key in ("findings", "rules", "inputs", "problems", "warnings", "dumps", "locks"):
        if not isinstance(out.get(key), list):
            raise ReportError(f"the report has no {key!r} list")
    from forensics.findings import CONFIDENCES, SEVERITIES

    if out.get("verdict") not in ("found", "clean", "inconclusive"):
        raise ReportError(
            f"verdict {out.get('verdict')!r} is not one of found, clean, inconclusive"
        )
    for f in out["findings"] + out["rules"]:
        if not isinstance(f, dict):
            raise ReportError("a finding or rule is not an object")
        for key, vocabulary in (("severity", SEVERITIES), ("confidence", CONFIDENCES)):
            if key in f and f[key] not in vocabulary and not (f[key] is None and f in out["rules"]):
                raise ReportError(
                    f"{f.get('id')!r}: {key} {f[key]!r} is not one of {', '.join(vocabulary)}"
                )
    for f in out["findings"]:
        for key in ("first_seen", "last_seen", "restarted_after"):
            f.setdefault(key, None)
        for cite in f.get("evidence", []):
            cite.setdefault("context", None)
    for lock in out["locks"]:
        lock.setdefault("holder_gids", [])
        lock.setdefault(
            "waiting",
            [
                {"gid": g, "site": "", "wait_minutes": None, "weight": 1}
                for g in lock.get("waiter_gids", [])
            ],
        )
        lock.setdefault("holding", [])
    return out


def load(path: str) -> dict:
    """Read a report written by ``analyze --json`` (``-`` for standard input)."""
    import sys

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return normalize(json.loads(text))
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path} is not JSON: {exc}") from None
