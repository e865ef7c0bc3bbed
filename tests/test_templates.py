"""Warning, error and fatal lines grouped into templates (issue 16): JSON, HTML, Markdown."""
import json

import jsonschema
from conftest import FIXTURES

from forensics.analyze import analyze
from forensics.report import SCHEMA_PATH, to_dict, to_html, to_markdown

FAILURES = FIXTURES / "captured" / "failures-20.10"
DISK_FULL = "Failed to log msg \"\" for logger json-file: error writing log entry: write <PATH>: no space left on device"


def test_templates_mask_variable_parts_and_count(rules):
    report = to_dict(analyze([str(FAILURES)], rules=rules))
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    templates = report["log_templates"]
    top = templates[0]
    assert top["template"] == DISK_FULL and top["level"] == "error" and top["count"] == 80
    assert top["first"] < top["last"] and top["example"].startswith(str(FAILURES / "dockerd-disk-full-excerpt.log:"))
    counts = [t["count"] for t in templates]
    assert counts == sorted(counts, reverse=True)
    assert {t["level"] for t in templates} <= {"warning", "error", "fatal", "panic"}
    assert any(t["template"] == "Health check for container <ID> error: context deadline exceeded" for t in templates)


def test_templates_in_html_and_markdown(rules):
    report = to_dict(analyze([str(FAILURES)], rules=rules))
    html = to_html(report)
    assert 'id="templates"' in html and "no space left on device" in html and "<td>80</td>" in html
    md = to_markdown(report)
    assert "### Warnings and errors, by template" in md
    row = next(line for line in md.splitlines() if "no space left on device" in line and line.startswith("| 80 |"))
    assert row.count(" | ") == 5


def test_old_reports_render_without_templates(rules):
    report = to_dict(analyze([str(FAILURES)], rules=rules))
    del report["log_templates"]
    report["revision"] = 2
    from forensics.report import normalize

    assert "id=\"templates\"" in to_html(normalize(report))
