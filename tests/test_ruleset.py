"""Rule files are validated on load: errors name the file and the field."""
import shutil

import pytest
from conftest import ROOT

from forensics.ruleset import RuleError, load_rule, load_rules

GOOD = """id: sample
title: t
severity: high
signals:
  panic:
    table: panics
    where: {message: 'nil pointer'}
verdicts:
  - {confidence: confirmed, all: [panic]}
"""


def write(tmp_path, text, name="sample"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("change,field", [
    (("title: t", "title: t\ncolour: red"), "colour"),
    (("message: 'nil pointer'", "message: '(unclosed'"), "signals.panic.where.message.regex"),
    (("table: panics", "table: pancakes"), "signals.panic.table"),
    (("message:", "msg:"), "signals.panic.where.msg"),
    (("severity: high", "severity: urgent"), "severity"),
    (("confidence: confirmed", "confidence: certain"), "verdicts[0].confidence"),
    (("all: [panic]", "all: [nothing]"), "verdicts[0]"),
    (("{message: 'nil pointer'}", "{message: {like: x}}"), "signals.panic.where.message.like"),
])
def test_errors_name_file_and_field(tmp_path, change, field):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(RuleError) as err:
        load_rule(path)
    assert str(err.value).startswith(f"{path}: {field}")


def test_bad_version_range(tmp_path):
    path = write(tmp_path, GOOD + "versions: {affected: ['>=18.03, <<27']}\n")
    with pytest.raises(RuleError, match="versions.affected"):
        load_rule(path)


def test_id_must_match_file_name(tmp_path):
    with pytest.raises(RuleError, match="id"):
        load_rule(write(tmp_path, GOOD, name="other"))


def test_unknown_rule_reference(tmp_path):
    write(tmp_path, GOOD.replace("table: panics\n    where: {message: 'nil pointer'}", "rule: missing-rule"))
    with pytest.raises(RuleError, match="unknown rule 'missing-rule'"):
        load_rules(tmp_path)


def test_catalogue_loads_in_dependency_order(tmp_path):
    ids = [r.id for r in load_rules(ROOT / "rules")]
    assert ids.index("inspect-nil-panic") < ids.index("moby-49227")
    assert ids.index("removal-in-progress") < ids.index("moby-49227")


def test_cli_reports_rule_errors_in_one_line(tmp_path):
    import subprocess
    import sys
    shutil.copytree(ROOT / "rules", tmp_path / "rules", ignore=shutil.ignore_patterns("fixtures"))
    (tmp_path / "rules" / "inspect-nil-panic.yaml").write_text(GOOD.replace("id: sample", "id: inspect-nil-panic")
                                                               .replace("'nil pointer'", "'(bad'"))
    proc = subprocess.run([sys.executable, "-m", "forensics.cli", "rules", "list", "--rules", str(tmp_path / "rules")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "inspect-nil-panic.yaml: signals.panic.where.message.regex: bad regular expression" in proc.stderr
