"""Render a Result: JSON (versioned schema), self-contained HTML, Markdown for tickets, terminal text.

Every format is rendered from the JSON document (``to_dict``), so a saved JSON re-renders
(``forensics report result.json --html out.html``) without the inputs. Each function takes a
``Result`` or that document.
"""

from __future__ import annotations

from forensics.report.data import (
    REVISION,
    SCHEMA_ID,
    SCHEMA_PATH,
    ReportError,
    load,
    normalize,
    to_dict,
)
from forensics.report.data import to_json as _json
from forensics.report.html import templates_dir, to_html
from forensics.report.markdown import MARKDOWN_LIMIT, to_markdown
from forensics.report.text import print_text

__all__ = [
    "MARKDOWN_LIMIT",
    "REVISION",
    "SCHEMA_ID",
    "SCHEMA_PATH",
    "ReportError",
    "load",
    "normalize",
    "print_text",
    "templates_dir",
    "to_dict",
    "to_html",
    "to_json",
    "to_markdown",
]


def to_json(result) -> str:
    return _json(result if isinstance(result, dict) else to_dict(result))
