"""The self-contained HTML report (jinja2, autoescaped; inline CSS and SVG, no script, no network)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2
import regex
from markupsafe import Markup

from forensics import data_dir
from forensics.findings import FOUND
from forensics.report import svg
from forensics.report.data import as_report, several_versions

# Invisible or reordering characters (Unicode bidi controls, zero-width, C0/C1 controls) are shown as
# ⟨U+XXXX⟩ so that a log line cannot hide or reorder what a reader sees ("Trojan Source").
_HIDDEN = regex.compile(r"[\p{Cc}\p{Cf}\u2028\u2029](?<![\t\n])")
_WEB = regex.compile(r"https?://[^\s<>\"'`]+", regex.IGNORECASE)


def visible(text: str) -> str:
    return _HIDDEN.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)


def _finalize(value):
    """Applied to every ``{{ … }}`` before escaping."""
    if value is None:
        return ""
    if isinstance(value, Markup):  # a macro's output, already escaped
        return value
    return visible(value) if isinstance(value, str) else value


def web_url(url: object) -> bool:
    """Only http(s) addresses become links; anything else (javascript:, data:, file:) stays text."""
    return isinstance(url, str) and bool(_WEB.fullmatch(url.strip()))


def templates_dir() -> Path:
    return data_dir("templates")


@lru_cache(maxsize=4)
def environment(autoescape: bool = True, finalize=_finalize) -> jinja2.Environment:
    """The jinja2 environment of every report page (HTML autoescaped; Markdown passes its own finalize),
    made once per process so that each template is compiled once."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["web_url"] = web_url
    env.globals["several_versions"] = several_versions
    env.filters["short"] = lambda func: str(func).rsplit("/", 1)[-1]
    env.filters["clip"] = svg.clip
    env.filters["hhmmss"] = lambda t: (t or "")[11:19] or "time unknown"
    env.filters["when"] = lambda t: f"{t[:10]} {t[11:19]} UTC" if t and len(t) >= 19 else (t or "")
    env.filters["count"] = count
    return env


def count(n, word: str) -> str:
    """ "1 goroutine", "3 goroutines": a number and its noun, agreeing."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def to_html(result) -> str:
    report = as_report(result)
    found = [f for f in report["findings"] if f["confidence"] in FOUND]
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            found=found,
            others=[f for f in report["findings"] if f not in found],
            timeline=svg.timeline(report["timeline"]),
            graphs=svg.lock_graphs(report["locks"]),
            inconclusive=[r for r in report["rules"] if r["status"] == "inconclusive"],
        )
    )
