"""Markdown for tickets (within the size ticket systems accept, markup escaped) and the `report`
command that re-renders a saved JSON result without the inputs."""

import json
import re

import pytest
from conftest import REPRO, SAMPLES, forensics
from test_report import stuck_container_named

from forensics.analyze import analyze
from forensics.report import MARKDOWN_LIMIT, to_dict, to_html, to_markdown


@pytest.fixture(scope="module")
def report(rules):
    return to_dict(analyze([str(REPRO)], rules=rules))


def outside_code(markdown: str) -> str:
    """The Markdown with fenced blocks, code spans and autolinks taken out: what a renderer parses."""
    text = re.sub(r"^(`{3,})[^\n]*\n.*?^\1$", "", markdown, flags=re.S | re.M)
    text = re.sub(r"(`+).+?\1", "", text)
    return re.sub(r"<https?://[^\s<>]+>", "", text)


def test_49227_markdown_has_verdict_evidence_and_remedy(report):
    md = to_markdown(report)
    assert md.startswith("## forensics: PROBLEMS FOUND — moby/moby#49227")
    assert "**Diagnosis (critical, confirmed):** Container test (d593da0690bf) is wedged" in md
    assert (
        "**What to do:** Now: restart dockerd" in md and "What to do now: Now:" not in md
    )  # was doubled
    assert "samples/49227-repro/dockerd.log:171  [panic] http: panic serving @" in md
    assert (
        "  > 171  2026/11/29 12:28:12 http: panic serving @:" in md
    )  # the cited line among its neighbours
    assert "<https://github.com/moby/moby/issues/49227>" in md
    assert len(md) <= MARKDOWN_LIMIT and "Shortened" not in md


def test_markdown_shrinks_to_the_limit_and_stays_well_formed(report):
    full = to_markdown(report)
    for limit in (
        10_000,
        7_000,
        4_000,
    ):  # views of one moment are cited once: the full report is ~11k
        md = to_markdown(report, limit=limit)
        assert len(md) <= limit < len(full)
        assert md.count("\n```") % 2 == 0  # every fenced block closed
        assert "the HTML and JSON reports" in md  # says it was shortened and where the rest is


def test_markdown_of_every_sample_fits_a_ticket(rules):
    md = to_markdown(analyze([str(SAMPLES)], rules=rules))
    assert len(md) <= MARKDOWN_LIMIT and "PROBLEMS FOUND" in md


def test_markdown_escapes_markup_outside_code(tmp_path, rules):
    hostile = "<script>alert(1)</script> [x](javascript:alert(2)) **bold** `tick` <img src=x onerror=alert(3)>"
    md = to_markdown(analyze([stuck_container_named(tmp_path, hostile)], rules=rules))
    parsed = outside_code(md)
    assert (
        "\\<script\\>alert(1)\\</script\\>" in parsed and "\\[x\\](javascript:alert(2))" in parsed
    )
    assert not re.search(r"(?<!\\)[<\[]", parsed)  # no tag, no link can start
    assert "\u202e" not in md and "⟨U+202E⟩" in md
    assert (
        "``<script>alert(1)</script> [x](javascript:alert(2)) **bold** `tick`" in md
    )  # code span outfences `


run = forensics


def test_report_command_rerenders_a_saved_result(tmp_path):
    saved, md = tmp_path / "r.json", tmp_path / "a.md"
    assert (
        run(
            "analyze", REPRO, "-q", "--json", saved, "--markdown", md, "--html", tmp_path / "a.html"
        ).returncode
        == 1
    )
    proc = run("report", saved, "--html", tmp_path / "b.html", "--markdown", tmp_path / "b.md")
    assert (
        proc.returncode == 0
        and "PROBLEMS FOUND" in proc.stdout
        and "moby-49227 (confirmed)" in proc.stdout
    )
    assert (tmp_path / "b.html").read_text() == (tmp_path / "a.html").read_text()
    assert (tmp_path / "b.md").read_text() == md.read_text()
    assert run("report", "-", "-q", "--markdown", "-", stdin=saved.read_text()).stdout.startswith(
        "## forensics:"
    )


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "cannot read nope.json: No such file or directory"),
        ("{not json", "is not JSON"),
        (
            '{"schema": "forensics-report/9"}',
            "not a forensics-report/1 report (schema: 'forensics-report/9')",
        ),
        ('{"schema": "forensics-report/1", "findings": []}', "the report has no 'rules' list"),
    ],
)
def test_report_command_refuses_what_is_not_a_report(tmp_path, content, message):
    path = tmp_path / "nope.json"
    if content is not None:
        path.write_text(content)
    proc = run(
        "report", path if content is not None else "nope.json", "--html", tmp_path / "x.html"
    )
    assert (
        proc.returncode == 2
        and message in proc.stderr
        and len(proc.stderr.strip().splitlines()) == 1
    )
    assert not (tmp_path / "x.html").exists()


def test_report_of_a_truncated_document_is_one_line_not_a_traceback(tmp_path):
    full = json.loads(run("analyze", REPRO, "-q", "--json", "-").stdout)
    del full["findings"][0]["evidence"][0]["excerpt"]
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(full))
    proc = run("report", path, "--html", tmp_path / "x.html")
    assert proc.returncode == 2 and "not a complete forensics report" in proc.stderr


def test_html_and_markdown_agree_on_the_verdict(report):
    page, md = to_html(report), to_markdown(report)
    title = report["findings"][0]["title"]
    assert title in md and title in page and report["findings"][0]["confidence"] == "confirmed"
