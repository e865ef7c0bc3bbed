"""Every rule against its own positive and negative fixtures (rules/fixtures/<rule>/<case>/).
Adding a rule and its cases needs no change here."""

import pytest
from conftest import ROOT

from forensics.rulecheck import cases, run_case

CASES = cases(directory=ROOT / "rules")


def test_every_rule_has_positive_and_negative_cases(rules):
    for rule in rules:
        mine = [c for c in CASES if c.parent.name == rule.id]
        expectations = {
            (c / "case.yaml").read_text().split("expect:", 1)[1].split()[0] for c in mine
        }
        assert expectations & {"confirmed", "likely", "possible"}, f"{rule.id} has no positive case"
        assert expectations & {"not-matched", "not-affected"}, f"{rule.id} has no negative case"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.parent.name}/{c.name}")
def test_rule_case(case, rules):
    result = run_case(case, rules)
    assert result.ok, f"expected {result.expected}, got {result.got}: {result.detail}"
