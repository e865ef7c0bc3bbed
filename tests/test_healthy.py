"""Healthy real daemons: nothing about 49227 or a lock pile-up may be reported."""

import pytest
from conftest import HEALTHY, SAMPLES, finding

from forensics.analyze import analyze

HEALTHY_INPUTS = sorted(p.name for p in HEALTHY.iterdir())


@pytest.mark.parametrize("name", HEALTHY_INPUTS)
def test_each_healthy_capture_is_clean(name, rules):
    result = analyze([str(HEALTHY / name)], rules=rules)
    assert not result.found, [f.summary for f in result.found]
    assert not result.problems


def test_healthy_daemon_all_inputs(rules):
    result = analyze([str(HEALTHY)], rules=rules)
    assert result.verdict == "clean"
    assert result.engine_version == "20.10.24+dfsg1"
    assert len(result.evidence["dumps"]) >= 6
    assert result.evidence["goroutines"].shape[0] > 200
    assert all(o.status == "not-matched" for o in result.outcomes)


def test_unmodified_27_4_1_control_run_is_clean(rules):
    result = analyze([str(SAMPLES / "49227-control")], rules=rules)
    assert result.engine_version == "27.4.1"  # read from the gzip-compressed log
    assert not result.found
    assert finding(result, "moby-49227") is None


def test_log_without_dump_is_no_known_problem_naming_the_unchecked_lock_rules(rules):
    """Was INCONCLUSIVE: every log without a dump got that verdict.  A readable healthy log with nothing
    matched is 'clean' (NO KNOWN PROBLEM FOUND); the lock rules are 'not-checked' for want of a dump,
    named on one line with how to take one."""
    result = analyze([str(HEALTHY / "dockerd-20.10.24-text-debug.log")], rules=rules)
    outcome = next(o for o in result.outcomes if o.rule == "container-mutex-pileup")
    assert (
        outcome.status == "not-checked"
        and outcome.needs == ["dumps"]
        and "no goroutine dump" in outcome.reason
    )
    assert result.verdict == "clean"
    assert not any(o.status == "inconclusive" for o in result.outcomes)
    assert set(result.not_checked) == {"dumps"}
    assert {"container-mutex-pileup", "moby-49227", "lock-deadlock"} <= set(
        result.not_checked["dumps"]
    )
