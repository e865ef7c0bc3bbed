"""Render a Result: JSON (versioned schema), self-contained HTML, Markdown for tickets, terminal text.

Every format is rendered from the JSON document (``to_dict``), so a saved JSON re-renders
(``forensics report result.json --html out.html``) without the inputs. Each function takes a
``Result`` or that document.
"""
from __future__ import annotations

from .data import REVISION, SCHEMA_ID, SCHEMA_PATH, ReportError, load, normalize, to_dict
from .data import to_json as _json
from .html import templates_dir, to_html
from .markdown import MARKDOWN_LIMIT, to_markdown
from .text import print_text

__all__ = ["MARKDOWN_LIMIT", "REVISION", "SCHEMA_ID", "SCHEMA_PATH", "ReportError", "load", "normalize",
           "print_text", "templates_dir", "to_dict", "to_html", "to_json", "to_markdown"]


def to_json(result) -> str:
    return _json(result if isinstance(result, dict) else to_dict(result))
