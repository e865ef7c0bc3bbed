"""Report outputs: JSON against its schema, HTML self-contained and escaped."""
import json

import jsonschema
import pytest
from conftest import HEALTHY, REPRO, write_lines

from forensics.analyze import analyze
from forensics.report import SCHEMA_PATH, to_dict, to_html

SCHEMA = json.loads(SCHEMA_PATH.read_text())


@pytest.mark.parametrize("paths", [[REPRO], [HEALTHY], [REPRO / "docker-ps-a.txt"]])
def test_json_validates_against_schema(paths, rules):
    report = to_dict(analyze([str(p) for p in paths], rules=rules))
    jsonschema.validate(json.loads(json.dumps(report)), SCHEMA)


def test_confidence_vocabulary_is_fixed(rules):
    report = to_dict(analyze([str(REPRO)], rules=rules))
    allowed = set(SCHEMA["$defs"]["confidence"]["enum"])
    assert allowed == {"confirmed", "likely", "possible", "inconclusive", "not-affected"}
    assert {f["confidence"] for f in report["findings"]} <= allowed


def test_html_is_self_contained(rules):
    page = to_html(analyze([str(REPRO)], rules=rules))
    assert "moby/moby#49227" in page and "Removal In Progress" in page
    for external in ("<script", "src=\"http", "href=\"http", "@import", "url("):
        assert external not in page


def test_hostile_strings_are_escaped(tmp_path, rules):
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    ps = write_lines(tmp_path / "ps.txt", [
        "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS                PORTS     NAMES",
        f"d593da0690bf   img       \"x\"       1 s       Removal In Progress             {hostile}",
    ])
    page = to_html(analyze([ps], rules=rules))
    assert hostile not in page and "<img" not in page and "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
