"""The engine's general features: timeouts, windows, joins, time order, outcomes and reasons."""

import shutil
import time

import pandas as pd
import pytest
from conftest import FIXTURES, HEALTHY, ROOT

from forensics.analyze import analyze
from forensics.engine.ruleset import load_rule, load_rules
from forensics.engine.selection import count, follows, same_mask

FAILURES = FIXTURES / "captured" / "failures-20.10"


def one_rule(tmp_path, text, *copies):
    """A rules directory with ``text`` as rule ``sample`` plus copies of catalogue rules."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "sample.yaml").write_text(text)
    for name in copies:
        shutil.copy(ROOT / "rules" / f"{name}.yaml", tmp_path / "rules")
    return load_rules(tmp_path / "rules")


def outcome(result, rule_id):
    return next(o for o in result.outcomes if o.rule == rule_id)


def debug_log_slice(tmp_path, first: int, last: int):
    """Lines first..last (1-based) of the real failures capture, as its own file."""
    lines = (FAILURES / "dockerd-20.10.24-debug.log").read_text().splitlines()[first - 1 : last]
    path = tmp_path / "slice.log"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def only(rules, rule_id):
    return [r for r in rules if r.id == rule_id]


CATASTROPHIC = """id: sample
title: a user rule with a catastrophic pattern
severity: low
signals:
  evil:
    table: events
    where: {msg: '(a+)+$'}
verdicts:
  - {confidence: likely, all: [evil]}
"""


def test_catastrophic_pattern_times_out_names_the_rule_and_the_scan_completes(tmp_path):
    rules = one_rule(tmp_path, CATASTROPHIC, "no-space-left")
    log = tmp_path / "input.log"
    log.write_text(
        "".join("a" * n + "!\n" for n in range(5000, 5008))  # eight distinct long lines
        + (FAILURES / "cli-nospace.txt").read_text()
    )
    started = time.monotonic()
    result = analyze([str(log)], rules=rules)
    assert time.monotonic() - started < 60
    [warning] = [w for w in result.warnings if "timed out" in w]
    assert warning.startswith(
        f"{tmp_path / 'rules' / 'sample.yaml'}: rule sample: signals.evil.where.msg:"
    )
    assert (
        "timed out on 3 value(s)" in warning and "not run on the rest" in warning
    )  # stopped after three
    evil = outcome(result, "sample")
    assert evil.status == "inconclusive" and "timed out" in evil.reason
    assert [f.id for f in result.found] == ["no-space-left"]


def test_window_counts_the_fullest_window_of_distinct_values():
    t = pd.Timestamp("2026-11-29T13:14:28Z")
    rows = pd.DataFrame(
        {
            "time": [
                t,
                t + pd.Timedelta("10s"),
                t + pd.Timedelta("20s"),
                t + pd.Timedelta("20s"),
                t + pd.Timedelta("5min"),
                pd.NaT,
            ],
            "container": ["a", "b", "c", "c", "d", "e"],
        }
    )
    assert count(rows, 3, 60, "container")[0] == 3  # a b c within a minute; c twice counts once
    n, cited = count(rows, 3, 60, None)
    assert n == 4 and list(cited.index) == [0, 1, 2, 3]  # rows; the untimed row is not placed
    assert count(rows, 5, 60, "container")[1].index.tolist() == [
        0,
        1,
        2,
        3,
    ]  # fullest window when short
    assert count(rows, 1, None, "container")[0] == 5


def test_same_matches_a_container_by_name_short_and_full_id():
    full = "62b7fb107ceaa6aeb950245d5ea4b52273e0edeb9160ed34883beebfab43781a"
    containers = pd.DataFrame({"id": [full], "name": ["web5"]})
    rows = pd.DataFrame({"container": ["web5", full[:12], "web6", None]})
    other = pd.DataFrame({"container": [full]})
    assert same_mask(rows, other, {"container": "container"}, containers).tolist() == [
        True,
        True,
        False,
        False,
    ]


def test_same_matches_one_of_several_values_in_a_cell():
    rows = pd.DataFrame({"dump": [0, 0, 1], "gid": [345, 350, 345]})
    other = pd.DataFrame({"dump": [0], "holder_gids": ["12 345"]})
    mask = same_mask(
        rows, other, {"dump": "dump", "gid": "holder_gids"}, pd.DataFrame(columns=["id", "name"])
    )
    assert mask.tolist() == [True, False, False]


def test_follows_after_and_before_within_a_window():
    t = pd.Timestamp("2026-11-29T13:20:00Z")
    rows = pd.DataFrame({"time": [t, t + pd.Timedelta("30s"), t + pd.Timedelta("5min"), pd.NaT]})
    marks = pd.DataFrame({"time": [t + pd.Timedelta("20s")]})
    assert follows(rows, marks, 60).tolist() == [False, True, False, None]
    assert follows(rows, marks, 60, before=True).tolist() == [True, False, False, None]
    assert follows(rows, marks.iloc[0:0], 60).tolist() == [None] * 4  # nothing to compare with


def test_not_matched_reason_says_how_far_below_the_threshold(tmp_path, rules):
    result = analyze([debug_log_slice(tmp_path, 300, 420)], rules=only(rules, "force-kill-storm"))
    reason = outcome(result, "force-kill-storm").reason
    assert "1 distinct container values within 1m, 5 needed" in reason


def test_not_after_reason_names_the_clean_shutdown(tmp_path, rules):
    result = analyze(
        [debug_log_slice(tmp_path, 1400, 1810)], rules=only(rules, "dockerd-crash-loop")
    )
    assert (
        "2 found, but all follow a clean shutdown" in outcome(result, "dockerd-crash-loop").reason
    )


ANY_OR_ALL = """id: sample
title: t
severity: low
signals:
  panic:
    table: panics
    where: {message: 'nil pointer'}
  leak:
    table: locks
    where: {status: {eq: orphaned}}
verdicts:
  - {confidence: confirmed, VERDICT: [panic, leak]}
"""


@pytest.mark.parametrize("verdict,expected", [("all", "not-matched"), ("any", "not-checked")])
def test_inconclusive_only_while_a_verdict_could_still_hold(tmp_path, verdict, expected):
    """A healthy log with no dump: the panic is absent; the leak is unknown. all: [panic, leak]
    cannot hold whatever a dump would show; any: [panic, leak] still could, but nothing of it was seen:
    not checked (was inconclusive, which made every log without a dump INCONCLUSIVE)."""
    rules = one_rule(tmp_path, ANY_OR_ALL.replace("VERDICT", verdict))
    result = analyze([str(HEALTHY / "dockerd-20.10.24-text-debug.log")], rules=rules)
    o = outcome(result, "sample")
    assert o.status == expected
    assert ("no goroutine dump" in o.reason) == (expected == "not-checked")


NEEDS_DEBUG = """id: sample
title: t
severity: low
signals:
  calls:
    table: events
    where: {msg: '^Calling DELETE'}
    needs: debug_logs
verdicts:
  - {confidence: likely, all: [calls]}
"""


def test_a_signal_needing_debug_lines_is_unknown_on_an_info_log(tmp_path):
    rules = one_rule(tmp_path, NEEDS_DEBUG)
    info = analyze([str(FAILURES / "dockerd-20.10.24-info.log")], rules=rules)
    assert outcome(info, "sample").status == "not-checked" and outcome(info, "sample").needs == [
        "debug_logs"
    ]
    assert "without --debug" in outcome(info, "sample").reason
    debug = analyze([str(HEALTHY / "dockerd-20.10.24-text-debug.log")], rules=rules)
    assert outcome(debug, "sample").status == "matched"


def test_summary_fills_a_column_of_the_first_row(rules):
    result = analyze(
        [str(FAILURES / "lockdemo-leak-sigquit.txt")], rules=only(rules, "orphaned-lock")
    )
    [finding] = result.found
    assert (
        finding.summary == "A recovered panic in main.(*Store).Inspect left a lock locked; "
        "3 goroutines wait on it forever."
    )


def test_missing_lists_only_stronger_verdicts(tmp_path, rules):
    """force-kill-storm's two verdicts are both 'confirmed' (different failures): a storm is not
    told that a failed SIGKILL would raise its confidence."""
    result = analyze([debug_log_slice(tmp_path, 1, 300)], rules=only(rules, "force-kill-storm"))
    [finding] = result.found
    assert finding.missing == [] and finding.severity == "low"


def test_rule_file_loads_alone():
    rule = load_rule(ROOT / "rules" / "lock-held-by-containerd-call.yaml")
    assert rule.signals["holder_in_containerd"].same == (
        "held",
        {"dump": "dump", "gid": "holder_gids"},
    )


def test_follows_only_rows_with_the_same_values_when_asked():
    t = pd.Timestamp("2026-11-29T13:20:00Z")
    full = "62b7fb107ceaa6aeb950245d5ea4b52273e0edeb9160ed34883beebfab43781a"
    rows = pd.DataFrame({"time": [t, t], "container": ["web5", "web6"], "host": [None, None]})
    marks = pd.DataFrame({"time": [t - pd.Timedelta("5s")], "container": [full], "host": [None]})
    containers = pd.DataFrame({"id": [full], "name": ["web5"]})
    assert follows(rows, marks, 60, False, ("container",), containers).tolist() == [True, False]
    assert follows(rows, marks, 60, False, ("host",), containers).tolist() == [
        True,
        True,
    ]  # empty equals empty
