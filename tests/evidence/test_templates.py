"""Warning, error and fatal lines grouped into templates (issue 16): JSON, HTML, Markdown."""

import json

import jsonschema
from conftest import FIXTURES

from forensics.analyze import analyze
from forensics.report import SCHEMA_PATH, to_dict, to_html, to_markdown

FAILURES = FIXTURES / "captured" / "failures-20.10"
DISK_FULL = 'Failed to log msg "" for logger json-file: error writing log entry: write <PATH>: no space left on device'


def test_templates_mask_variable_parts_and_count(rules):
    report = to_dict(analyze([str(FAILURES)], rules=rules))
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    templates = report["log_templates"]
    top = templates[0]
    assert top["template"] == DISK_FULL and top["level"] == "error" and top["count"] == 80
    assert top["first"] < top["last"] and top["example"].startswith(
        str(FAILURES / "dockerd-disk-full-excerpt.log:")
    )
    counts = [t["count"] for t in templates]
    assert counts == sorted(counts, reverse=True)
    assert {t["level"] for t in templates} <= {"warning", "error", "fatal", "panic"}
    assert any(
        t["template"] == "Health check for container <ID> error: context deadline exceeded"
        for t in templates
    )


def test_templates_in_html_and_markdown(rules):
    report = to_dict(analyze([str(FAILURES)], rules=rules))
    html = to_html(report)
    assert 'id="templates"' in html and "no space left on device" in html and "<td>80</td>" in html
    md = to_markdown(report)
    assert "### Warnings and errors, by template" in md
    row = next(
        line
        for line in md.splitlines()
        if "no space left on device" in line and line.startswith("| 80 |")
    )
    assert row.count(" | ") == 5


def test_old_reports_render_without_templates(rules):
    report = to_dict(analyze([str(FAILURES)], rules=rules))
    del report["log_templates"]
    report["revision"] = 2
    from forensics.report import normalize

    assert 'id="templates"' in to_html(normalize(report))


def test_fleet_counts_hosts_per_template(tmp_path, rules):
    from forensics.fleet import table as fleet
    from forensics.fleet.scan import hosts_from, scan

    disk = FAILURES / "dockerd-disk-full-excerpt.log"
    for name in ("h1", "h2", "h3"):
        (tmp_path / name).mkdir()
    (tmp_path / "h1" / "dockerd.log").write_text(disk.read_text())
    (tmp_path / "h2" / "dockerd.log").write_text(disk.read_text())
    (tmp_path / "h3" / "dockerd.log").write_text(
        (FIXTURES / "crashes" / "reports" / "for-linux-159-syslog-driver-sigsegv.log").read_text()
    )
    out = tmp_path / "out"
    table = scan(hosts_from([str(tmp_path / n) for n in ("h1", "h2", "h3")]), out)
    fleet.write(table, out, rules, False)
    summary = json.loads((out / "fleet.json").read_text())["summary"]
    top = summary["log_templates"][0]
    assert top["template"] == DISK_FULL and top["hosts"] == 2 and top["names"] == ["h1", "h2"]
    assert "on 2 of 3 hosts" in (out / "fleet.html").read_text()
    assert table.set_index("host").loc["h3", "rule:unexplained-panic"] == "confirmed"
