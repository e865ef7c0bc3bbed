"""The terminal summary: verdict, findings with evidence and remedy, coverage."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape as _escape

from forensics.findings import FOUND
from forensics.goroutines.calls import describe as describe_call
from forensics.report.data import as_report, several_versions
from forensics.report.html import visible

TERMINAL_CITATIONS = 3  # per signal; the HTML and JSON reports carry all of them
TERMINAL_DUMPS = 5  # dumps listed one a line; the rest in one line
SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
VERDICT = {
    "found": "[bold red]PROBLEMS FOUND[/]",
    "clean": "[bold green]NO KNOWN PROBLEM FOUND[/]",
    "inconclusive": "[bold yellow]INCONCLUSIVE[/] (some input could not be read, or signs were seen "
    "that the evidence given cannot decide)",
}


def escape(text: object) -> str:
    """Rich markup escaped, hidden characters shown (a terminal obeys bidi controls too)."""
    return _escape(visible(str(text)))


def where(item: dict) -> str:
    return f"{item['source']}:{item['line']}" if item.get("line") else item["source"]


def _finding(con: Console, f: dict) -> None:
    style = SEVERITY_STYLE.get(f["severity"], "")
    con.print()
    con.print(
        f"[{style or 'default'}]{escape(f['severity'].upper())}[/] [bold]{escape(f['id'])}[/] "
        f"({escape(f['confidence'])}): {escape(f['title'])}"
    )
    con.print(f"  {escape(f['summary'])}")
    if f.get("first_seen"):
        first, last = (
            str(f.get(k) or "")[:19].replace("T", " ") for k in ("first_seen", "last_seen")
        )
        span = f"{first} to {last}" if last and last != first else first
        con.print(f"  seen: {escape(span)} UTC")
    if f["containers"]:
        con.print(f"  containers: {escape(', '.join(f['containers']))}")
    shown: dict[str, int] = {}
    for c in f["evidence"]:
        shown[c["signal"]] = shown.get(c["signal"], 0) + 1
        if shown[c["signal"]] <= TERMINAL_CITATIONS:
            said, _, views = c["excerpt"].partition(
                "; seen in "
            )  # views of one moment: on a line of their own
            con.print(f"  [dim]{escape(where(c))}[/] {escape(said[:240])}")
            if views:
                con.print(f"    [dim]seen in {escape(views)}[/]")
    hidden = sum(max(0, n - TERMINAL_CITATIONS) for n in shown.values())
    if hidden:
        con.print(
            f"  [dim]… {hidden} more evidence line{'' if hidden == 1 else 's'} in the --html / --json report[/]"
        )
    for m in f["missing"]:
        con.print(f"  [yellow]missing:[/] {escape(m)}")
    if f["remedy"]:
        con.print("  [green]remedy:[/] " + escape(f["remedy"].replace("\n", " ")))
    if f["references"]:
        con.print("  references: " + escape(", ".join(r.get("url", "") for r in f["references"])))


def print_text(result, console: Console | None = None) -> None:
    report = as_report(result)
    con = console or Console(highlight=False, soft_wrap=True)
    con.print(
        f"forensics {escape(report['tool']['version'])} · engine {escape(report['engine_version'] or 'unknown')}"
        f" · verdict: {VERDICT[report['verdict']]}"
    )
    if several_versions(report):
        con.print(f"[yellow]{escape(several_versions(report))}[/]")
    if report.get("engine_version_source"):
        con.print(f"[dim]engine version from {escape(report['engine_version_source'])}[/]")
    for f in report["findings"]:
        if f["confidence"] in FOUND:
            _finding(con, f)
    for f in report["findings"]:
        if f["confidence"] not in FOUND:
            con.print(
                f"\n[dim]{escape(f['id'])} ({escape(f['confidence'])}):[/] {escape(f['summary'])}"
            )
    con.print()
    for o in report["rules"]:
        if o["status"] == "inconclusive":
            con.print(f"[yellow]inconclusive[/] {escape(o['rule'])}: {escape(o['reason'])}")
    for n in report.get("not_checked", []):
        con.print(f"[dim]not checked:[/] {escape(n['text'])}")
    for d in report["dumps"]:
        if d.get("complete") is False and d["kind"] != "panic":
            con.print(
                f"[yellow]partial dump[/] {escape(where(d))}: {escape(d.get('completeness') or '')}"
            )
    for p in report["problems"]:
        con.print(f"[yellow]could not read[/] {escape(where(p))}: {escape(p['message'])}")
    for w in report["warnings"][:20]:
        con.print(f"[yellow]warning[/] {escape(w)}")
    for d in report["dumps"][:TERMINAL_DUMPS]:
        con.print(
            f"[dim]dump #{d['dump']} {escape(d.get('program') or 'unknown program')} ({escape(d['kind'])}, "
            f"{d['goroutines']} goroutine{'' if d['goroutines'] == 1 else 's'}) {escape(where(d))}[/]"
        )
    if len(report["dumps"]) > TERMINAL_DUMPS:
        rest = report["dumps"][TERMINAL_DUMPS:]
        kinds = Counter(d["kind"] for d in rest)
        con.print(
            f"[dim]… {len(rest)} more dump{'' if len(rest) == 1 else 's'} "
            f"({escape(', '.join(f'{n} {k}' for k, n in kinds.most_common()))}, "
            f"{sum(d['goroutines'] for d in rest)} goroutines) in the --html / --json report[/]"
        )
    for c in report.get("calls", []):
        con.print("call: " + escape(describe_call(c)))
    read = ", ".join(
        f"{i['name']} ({i['kind']}, {i['lines']} line{'' if i['lines'] == 1 else 's'})"
        for i in report["inputs"]
    )
    con.print(f"[dim]inputs: {escape(read) or 'none'}[/]")
    if report["redaction"]["applied"]:
        con.print(
            f"[dim]redacted: {len(report['redaction']['tokens'])} names replaced by pseudonyms[/]"
        )
