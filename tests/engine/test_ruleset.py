"""Rule files are validated on load: errors name the file and the field."""

import shutil

import pytest
from conftest import ROOT

from forensics.engine.ruleset import RuleError, load_rule, load_rules

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


ORIGINAL = [
    (("title: t", "title: t\ncolour: red"), "colour"),
    (("message: 'nil pointer'", "message: '(unclosed'"), "signals.panic.where.message.regex"),
    (("table: panics", "table: pancakes"), "signals.panic.table"),
    (("message:", "msg:"), "signals.panic.where.msg"),
    (("severity: high", "severity: urgent"), "severity"),
    (("confidence: confirmed", "confidence: certain"), "verdicts[0].confidence"),
    (("all: [panic]", "all: [nothing]"), "verdicts[0]"),
    (("{message: 'nil pointer'}", "{message: {like: x}}"), "signals.panic.where.message.like"),
]


def refusal(tmp_path, text):
    """The one error a rule file with ``text`` is refused with."""
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as err:
        load_rule(path)
    return path, str(err.value)


def test_bad_version_range(tmp_path):
    path = write(tmp_path, GOOD + "versions: {affected: ['>=18.03, <<27']}\n")
    with pytest.raises(RuleError, match="versions.affected"):
        load_rule(path)


def test_id_must_match_file_name(tmp_path):
    with pytest.raises(RuleError, match="id"):
        load_rule(write(tmp_path, GOOD, name="other"))


def test_unknown_rule_reference(tmp_path):
    write(
        tmp_path,
        GOOD.replace("table: panics\n    where: {message: 'nil pointer'}", "rule: missing-rule"),
    )
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
    (tmp_path / "rules" / "inspect-nil-panic.yaml").write_text(
        GOOD.replace("id: sample", "id: inspect-nil-panic").replace("'nil pointer'", "'(bad'")
    )
    proc = subprocess.run(
        [sys.executable, "-m", "forensics", "rules", "list", "--rules", str(tmp_path / "rules")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        "inspect-nil-panic.yaml: signals.panic.where.message.regex: bad regular expression"
        in proc.stderr
    )


TWO = """id: sample
title: t
severity: high
signals:
  start:
    table: events
    where: {msg: '^Starting up$'}
  stop:
    table: events
    where: {msg: 'shutdown complete'}
verdicts:
  - {confidence: confirmed, all: [start], summary: "started"}
"""


START = "    where: {msg: '^Starting up$'}"


def to_start(line):
    """A change that adds ``line`` to the signal ``start``."""
    return START, f"{START}\n    {line}"


NEW_KEYS = [
    (to_start("window: 5 minutes"), "signals.start.window"),
    (to_start("distinct: colour"), "signals.start.distinct"),
    (to_start("min_rows: many"), "signals.start.min_rows"),
    (to_start("needs: coffee"), "signals.start.needs"),
    (to_start("after: {signal: nothing}"), "signals.start.after.signal"),
    (to_start("not_after: {signal: stop, within: soon}"), "signals.start.not_after.within"),
    (to_start("before: {signal: stop, columns: [colour]}"), "signals.start.before.columns.colour"),
    (to_start("same: {signal: stop, columns: [colour]}"), "signals.start.same.columns.colour"),
    (to_start("same: {signal: stop, columns: {pid: colour}}"), "signals.start.same.columns.pid"),
    (to_start("same: {signal: stop, on: [pid]}"), "signals.start.same"),
    (('summary: "started"', 'summary: "started {stop.colour}"'), "verdicts[0].summary"),
    (('summary: "started"', 'summary: "started", confirmed: yes'), "verdicts[0].confirmed"),
    (("title: t", "title: t\nreferences: [{title: x, url: not-a-url}]"), "references[0]"),
    (("title: t", "title: t\nversions: {affected: ['>=1.0'], fixd_in: x}"), "versions"),
]


@pytest.mark.parametrize(
    "template,change,field", [(GOOD, *c) for c in ORIGINAL] + [(TWO, *c) for c in NEW_KEYS]
)
def test_errors_name_file_and_field(tmp_path, template, change, field):
    path, message = refusal(tmp_path, template.replace(*change))
    assert message.startswith(f"{path}: {field}") and "\n" not in message, message


def test_signals_that_follow_each_other_in_a_cycle_are_refused(tmp_path):
    text = TWO.replace(*to_start("after: {signal: stop}")).replace(
        "    where: {msg: 'shutdown complete'}",
        "    where: {msg: 'shutdown complete'}\n    before: {signal: start}",
    )
    path, message = refusal(tmp_path, text)
    assert message == f"{path}: signals.start: signals follow each other in a cycle"


def test_a_yaml_typo_is_one_line_naming_the_place(tmp_path):
    path, message = refusal(
        tmp_path, TWO.replace("title: t", "title: readlink /x/l: invalid argument")
    )
    assert (
        message == f"{path}: line 2 column 21: not valid YAML: mapping values are not allowed here"
    )


def test_readme_catalogue_is_the_generated_table(rules):
    from forensics.engine.ruleset import catalogue_table

    assert catalogue_table(rules) in (ROOT / "rules" / "README.md").read_text(encoding="utf-8")


def test_top_readme_rule_catalogue_is_the_commands_output():
    """README.md's "Rule catalogue" table is exactly `forensics rules list --format markdown`
    (and `--markdown`, the older spelling, prints the same)."""
    from typer.testing import CliRunner

    from forensics.cli import app

    printed = CliRunner().invoke(app, ["rules", "list", "--format", "markdown"])
    assert printed.exit_code == 0, printed.output
    assert CliRunner().invoke(app, ["rules", "list", "--markdown"]).output == printed.output
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Rule catalogue\n", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    assert table == printed.output.strip()
    assert table.count("\n") - 1 == len(list((ROOT / "rules").glob("*.yaml")))
