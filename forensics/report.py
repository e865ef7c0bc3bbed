"""Render a Result: JSON (versioned schema), self-contained HTML (jinja2), terminal text."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jinja2
import pandas as pd
from rich.console import Console
from rich.markup import escape

from .analyze import Result
from .findings import FOUND

SCHEMA_ID = "forensics-report/1"
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")
TERMINAL_CITATIONS = 3  # per signal; the HTML and JSON reports carry all of them
SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def _records(df: pd.DataFrame, columns: list[str]) -> list[dict]:
    out = []
    for row in df[columns].itertuples(index=False):
        item = {}
        for col, value in zip(columns, row):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                value = None
            elif isinstance(value, pd.Timestamp):
                value = value.isoformat()
            elif hasattr(value, "item"):
                value = value.item()
            item[col] = value
        out.append(item)
    return out


def to_dict(result: Result) -> dict:
    ev = result.evidence
    locks = _records(ev["locks"], ["dump", "key", "kind", "status", "waiters", "longest_wait", "sites",
                                   "waiter_gids", "holders", "source", "line"])
    for lock in locks:
        lock["sites"] = [s for s in (lock["sites"] or "").split("\n") if s]
        lock["waiter_gids"] = [int(g) for g in (lock["waiter_gids"] or "").split()]
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "forensics", "version": result.tool_version},
        "generated": result.generated.isoformat(),
        "verdict": result.verdict,
        "engine_version": result.engine_version,
        "findings": [f.to_dict() for f in result.found]
        + [f.to_dict() for f in result.findings if not f.found],
        "rules": [{"rule": o.rule, "status": o.status, "reason": o.reason, "confidence": o.confidence}
                  for o in result.outcomes],
        "inputs": [{"name": i.name, "kind": i.kind, "lines": i.lines, "events": i.events, "dumps": i.dumps,
                    "goroutines": i.goroutines, "readable": i.readable} for i in result.inputs],
        "problems": [{"source": p.source, "line": p.line, "message": p.message, "fatal": p.fatal}
                     for p in result.problems],
        "warnings": list(result.warnings),
        "environment": {"daemons": _records(ev["daemons"], ["time", "host", "pid", "version", "commit",
                                                             "storage_driver", "snapshotter", "source", "line"])},
        "dumps": _records(ev["dumps"], ["dump", "kind", "time", "goroutines", "truncated", "panic_message",
                                        "source", "line"]),
        "locks": locks,
    }


def to_json(result: Result) -> str:
    return json.dumps(to_dict(result), indent=2, ensure_ascii=False)


def templates_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "templates"
    return here if here.is_dir() else Path(sys.prefix) / "share" / "forensics" / "templates"


def to_html(result: Result) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                             undefined=jinja2.StrictUndefined)
    return env.get_template("report.html.j2").render(report=to_dict(result))


def print_text(result: Result, console: Console | None = None) -> None:
    """The terminal summary: verdict, findings with evidence and remedy, coverage."""
    con = console or Console(highlight=False, soft_wrap=True)
    verdict = {"found": "[bold red]PROBLEMS FOUND[/]", "clean": "[bold green]NO KNOWN PROBLEM FOUND[/]",
               "inconclusive": "[bold yellow]INCONCLUSIVE[/] (some input could not be read or decided)"}
    con.print(f"forensics {escape(result.tool_version)} · engine {escape(result.engine_version or 'unknown')}"
              f" · verdict: {verdict[result.verdict]}")
    for f in result.found:
        style = SEVERITY_STYLE.get(f.severity, "")
        con.print()
        con.print(f"[{style}]{f.severity.upper()}[/] [bold]{escape(f.id)}[/] ({f.confidence}): {escape(f.title)}")
        con.print(f"  {escape(f.summary)}")
        if f.containers:
            con.print(f"  containers: {escape(', '.join(f.containers))}")
        shown: dict[str, int] = {}
        for c in f.evidence:
            shown[c.signal] = shown.get(c.signal, 0) + 1
            if shown[c.signal] <= TERMINAL_CITATIONS:
                con.print(f"  [dim]{escape(c.source)}:{c.line}[/] {escape(c.excerpt[:240])}")
        hidden = sum(max(0, n - TERMINAL_CITATIONS) for n in shown.values())
        if hidden:
            con.print(f"  [dim]… {hidden} more evidence lines in the --html / --json report[/]")
        for m in f.missing:
            con.print(f"  [yellow]missing:[/] {escape(m)}")
        if f.remedy:
            con.print("  [green]remedy:[/] " + escape(f.remedy.replace("\n", " ")))
        if f.references:
            con.print("  references: " + escape(", ".join(r.get("url", "") for r in f.references)))
    other = [f for f in result.findings if f.confidence not in FOUND]
    for f in other:
        con.print(f"\n[dim]{escape(f.id)} ({f.confidence}):[/] {escape(f.summary)}")
    con.print()
    for o in result.outcomes:
        if o.status == "inconclusive":
            con.print(f"[yellow]inconclusive[/] {escape(o.rule)}: {escape(o.reason)}")
    for p in result.problems:
        con.print(f"[yellow]could not read[/] {escape(str(p))}")
    for w in result.warnings[:20]:
        con.print(f"[yellow]warning[/] {escape(w)}")
    read = ", ".join(f"{i.name} ({i.kind}, {i.lines} lines)" for i in result.inputs)
    con.print(f"[dim]inputs: {escape(read) or 'none'}[/]")
