"""Markdown for pasting into a ticket (GitHub, GitLab, Jira): verdict, findings, evidence.

Ticket systems cap a comment's size: Jira's default text field limit is 32,767 characters and
GitHub's comment limit 65,536. The Markdown is kept within ``MARKDOWN_LIMIT`` characters by
showing less detail: no surrounding lines, then fewer evidence lines per signal, then no evidence
lines, a few containers per finding and summaries cut short, so that the verdict and every finding's
title, confidence and remedy stay; as a last resort it is cut with a note. The HTML and JSON reports
always carry everything.
"""

from __future__ import annotations

import regex
from markupsafe import Markup

from forensics.findings import FOUND
from forensics.report.data import as_report
from forensics.report.html import environment, visible, web_url

MARKDOWN_LIMIT = 30_000  # characters, under Jira's default 32,767 and GitHub's 65,536
# (surrounding lines, citations per signal, containers and listed inputs/problems, characters of a summary)
DETAIL = [
    (True, None, None, None),
    (False, None, None, None),
    (False, 3, None, None),
    (False, 1, None, None),
    (False, 0, 5, 600),
    (False, 0, 3, 200),
    (False, 0, 1, 80),
]
_SPECIAL = regex.compile(r"([\\`*_\[\]<>|~]|&(?=[#\w]+;)|^[#>+-](?= ))")
_TICKS = regex.compile(r"`+")


def md(value) -> str:
    """Inline text: Markdown and HTML syntax escaped, on one line."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return _SPECIAL.sub(r"\\\1", " ".join(visible(str(value)).split()))


def code(value) -> Markup:
    """An inline code span, fenced with more backticks than the text holds."""
    text = " ".join(visible(str(value)).split())
    ticks = "`" * (max((len(t) for t in _TICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markup(f"{ticks}{pad}{text}{pad}{ticks}")


def fence(lines: list[str]) -> Markup:
    """A fenced block whose fence no line of the text can close."""
    text = "\n".join(visible(line) for line in lines)
    ticks = "`" * max(3, max((len(t) for t in _TICKS.findall(text)), default=0) + 1)
    return Markup(f"{ticks}text\n{text}\n{ticks}")


def autolink(url) -> Markup:
    """A web address as a Markdown autolink; anything else (javascript:, data:...) as code."""
    return Markup(f"<{url.strip()}>") if web_url(url) else code(url)


def _per_signal(evidence: list[dict], limit: int | None) -> list[dict]:
    seen: dict[str, int] = {}
    out = []
    for c in evidence:
        seen[c["signal"]] = seen.get(c["signal"], 0) + 1
        if limit is None or seen[c["signal"]] <= limit:
            out.append(c)
    return out


def _clip(text, chars: int | None):
    if chars is None or not isinstance(text, str) or len(text) <= chars:
        return text
    return text[:chars].rstrip() + " … (cut; the HTML and JSON reports hold all of it)"


def _shorter(report: dict, listed: int | None, chars: int | None) -> dict:
    """The report with at most ``listed`` containers per finding (and inputs, problems) and summaries
    of at most ``chars`` characters; what is left out is counted (``*_more``)."""
    if listed is None and chars is None:
        return report
    findings = [
        {
            **f,
            "summary": _clip(f["summary"], chars),
            "containers": f["containers"][:listed],
            "containers_more": max(len(f["containers"]) - listed, 0),
        }
        for f in report["findings"]
    ]
    return {
        **report,
        "findings": findings,
        "inputs": report["inputs"][: listed * 4],
        "inputs_more": max(len(report["inputs"]) - listed * 4, 0),
        "problems": report["problems"][: listed * 4],
        "problems_more": max(len(report["problems"]) - listed * 4, 0),
    }


def _render(
    report: dict,
    context: bool,
    per_signal: int | None,
    listed: int | None = None,
    chars: int | None = None,
) -> str:
    env = environment(autoescape=False, finalize=md)
    env.filters.update(code=code, fence=fence, autolink=autolink)
    report = _shorter(report, listed, chars)
    found = [f for f in report["findings"] if f["confidence"] in FOUND]
    shown = [_per_signal(f["evidence"], per_signal) if per_signal != 0 else [] for f in found]
    return env.get_template("report.md.j2").render(
        report=report,
        found=found,
        others=[f for f in report["findings"] if f not in found],
        shown=shown,
        context=context,
        per_signal=per_signal,
    )


def to_markdown(result, limit: int = MARKDOWN_LIMIT) -> str:
    report = as_report(result)
    text = ""
    for detail in DETAIL:
        text = _render(report, *detail)
        if len(text) <= limit:
            return text
    note = "\n… (cut to fit a ticket; the HTML and JSON reports hold everything)\n"
    kept = text[: limit - len(note) - 40].rsplit("\n", 1)[0]
    fences = [line for line in kept.splitlines() if line.startswith("```")]
    if len(fences) % 2:  # cut inside a fenced block: close it
        kept += "\n" + _TICKS.match(fences[-1]).group()
    return kept + "\n" + note
