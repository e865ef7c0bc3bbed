"""Evaluate rules over the evidence tables: signals -> verdict -> finding.

A signal selects rows of one evidence table (or takes the finding of another rule).
It is *present* with enough rows, *absent* when the input that would show it was
read and it is not there, and *unknown* when that input is missing (no dump given).
The first verdict whose signals are present decides the confidence; the engine
version gates it. Usable without the CLI: ``evaluate(load_rules(), evidence)``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import regex

from forensics.engine import seen
from forensics.engine.dumpversion import DumpVersion
from forensics.engine.ruleset import FIELD_REF, PATTERN_TIMEOUT, Rule, Signal, Verdict
from forensics.engine.selection import (
    MAX_TIMEOUTS,
    column_mask,
    count,
    duration,
    follows,
    same_mask,
)
from forensics.engine.unexplained import RULE_ID as UNEXPLAINED
from forensics.engine.unexplained import explained_rows, unexplained_panics
from forensics.evidence import COVERAGE, Evidence, daemons_by_time, engine_version
from forensics.evidence.dumprows import fact
from forensics.findings import Citation, Confidence, Container, Finding, Outcome
from forensics.goroutines.completeness import HOW_TO_TAKE
from forensics.parse import versions

MAX_CITATIONS = 12  # rows cited per signal
CONTAINER_ID = regex.compile(r"[0-9a-f]{12,64}")  # a reference that is an id, not a name
WHAT_IS_MISSING = {
    "logs": "no log among the inputs",
    "dumps": "no goroutine dump among the inputs",
    "complete_dumps": "the goroutine dump given is partial",
    "debug_logs": "the log has no debug lines (dockerd runs without --debug)",
}


@dataclass
class Match:
    status: str  # present | absent | unknown
    rows: pd.DataFrame
    reason: str = ""
    need: str | None = None  # unknown for want of this kind of input (a WHAT_IS_MISSING key)
    seen: bool = False  # rows met its own conditions; only what it is joined with is unknown


@dataclass
class Context:
    evidence: Evidence
    engine_version: str | None = None
    results: dict[str, tuple[Outcome, Finding | None, pd.DataFrame]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    masks: dict[tuple, tuple[pd.Series, int]] = field(
        default_factory=dict
    )  # condition -> (rows meeting it, timeouts)
    # table -> column -> its distinct values (selection._each): found once for every condition
    distinct: dict[str, dict] = field(default_factory=dict)
    dump_version: DumpVersion | None = (
        None  # the release range the dumps fit: the gate when nothing else says
    )


def _absent(sig: Signal, rule: Rule, stages: list[tuple[str, int]], n: int) -> str:
    """Why a signal is not present, in the terms of the step that lost its rows."""
    for (_, before), (step, after) in zip(stages, stages[1:]):
        if before and not after:
            return f"{before} found, but {step}"
    if stages[-1][1] and (sig.min_rows > 1 or sig.window):
        what = f"distinct {sig.distinct} values" if sig.distinct else "rows"
        within = f" within {duration(sig.window)}" if sig.window else ""
        return f"{n} {what}{within}, {sig.min_rows} needed"
    return "not found in the inputs"


def _signal(sig: Signal, rule: Rule, ctx: Context, done: dict[str, Match]) -> Match:
    timeouts: Counter = Counter()
    if sig.rule:
        outcome, finding, rows = ctx.results[sig.rule]
        if outcome.status in ("inconclusive", "not-checked"):
            return Match(
                "unknown", rows, outcome.reason, outcome.needs[0] if outcome.needs else None
            )
        if finding is None or not finding.found:
            return Match("absent", rows.iloc[0:0], outcome.reason)
    else:
        rows = ctx.evidence[sig.table]
        mask = None  # no condition: the table itself, not a copy of it
        for cond in sig.where if not rows.empty else ():
            label, key = (
                f"signals.{sig.name}.where.{cond.column}",
                (sig.table, cond.column, cond.op, repr(cond.value)),
            )
            if key not in ctx.masks:  # rules often share a condition: evaluate it once per run
                distinct = ctx.distinct.setdefault(sig.table, {})
                ctx.masks[key] = column_mask(rows, cond, timeouts, label, distinct), timeouts[label]
            elif ctx.masks[key][1]:
                timeouts[label] = ctx.masks[key][
                    1
                ]  # a shared pattern that timed out is unknown here too
            mask = ctx.masks[key][0] if mask is None else mask & ctx.masks[key][0]
        if mask is not None:
            rows = rows[mask]
    stages = [("", len(rows))]  # below, no rows: nothing to order or join (spares pandas the work)
    # per join: the follows() value that drops a row, whether the other signal must come later, the label
    for join, dropped, before, label in (
        (sig.after, False, False, "none after"),
        (sig.before, False, True, "none before"),
        (sig.not_after, True, False, "all follow"),
    ):
        if rows.empty or not join or join[0] not in done:
            continue
        found = follows(
            rows, done[join[0]].rows, join[1], before, join[2], ctx.evidence["containers"]
        )
        rows = rows[found.map(lambda k, dropped=dropped: k is not dropped).astype(bool)]
        stages.append((f"{label} {rule.signals[join[0]].describe}", len(rows)))
    if not rows.empty and sig.same and sig.same[0] in done:
        rows = rows[
            same_mask(rows, done[sig.same[0]].rows, sig.same[1], ctx.evidence["containers"])
        ]
        stages.append(
            (
                f"none shares {', '.join(sig.same[1])} with {rule.signals[sig.same[0]].describe}",
                len(rows),
            )
        )
    if "fact" in rows and len(rows) > 1:  # views of one snapshot show a fact once
        again = fact(rows).duplicated()
        if again.any():
            rows = rows[~again]
    n, kept = count(rows, sig.min_rows, sig.window, sig.distinct)
    for label, times in timeouts.items():
        ctx.warnings.append(
            f"{rule.path}: rule {rule.id}: {label}: the pattern timed out on {times} value(s) "
            f"({PATTERN_TIMEOUT} s each){'; not run on the rest' if times >= MAX_TIMEOUTS else ''}"
        )
    if n >= sig.min_rows:
        return Match("present", kept)
    unknown = [done[ref] for _, ref in sig.uses() if ref in done and done[ref].status == "unknown"]
    if stages[0][1] and unknown:  # its rows were there; what decides whether they count is not
        return Match("unknown", rows, unknown[0].reason, unknown[0].need, seen=True)
    need = sig.needs or (COVERAGE[sig.table] if sig.table else None)
    if (
        need == "dumps"
        and ctx.evidence.coverage.get("dumps")
        and "complete_dumps" in ctx.evidence.coverage
    ):
        need = "complete_dumps"
    if need and not ctx.evidence.coverage.get(need):
        return Match("unknown", rows, WHAT_IS_MISSING[need], need)
    if timeouts:
        return Match("unknown", rows, f"its pattern timed out ({', '.join(timeouts)})")
    return Match("absent", rows, _absent(sig, rule, stages, n))


def _signals(rule: Rule, ctx: Context) -> dict[str, Match]:
    done: dict[str, Match] = {}
    pending = list(rule.signals.values())
    while pending:  # a signal waits for the signals it follows or joins (the loader refused cycles)
        sig = next(s for s in pending if all(ref in done for _, ref in s.uses()))
        pending.remove(sig)
        done[sig.name] = _signal(sig, rule, ctx, done)
    return done


def _state(verdict: Verdict, matches: dict[str, Match]) -> str:
    """present, absent (cannot hold whatever the missing inputs say) or unknown."""
    status = {s: matches[s].status for s in verdict.all + verdict.any}
    if any(status[s] == "absent" for s in verdict.all) or (
        verdict.any and all(status[s] == "absent" for s in verdict.any)
    ):
        return "absent"
    if all(status[s] == "present" for s in verdict.all) and (
        not verdict.any or any(status[s] == "present" for s in verdict.any)
    ):
        return "present"
    return "unknown"


def _known(value) -> bool:
    return value is not None and not (not isinstance(value, str) and pd.isna(value)) and value != ""


def _daemon_of(row, daemons: pd.DataFrame):
    """The daemon (a row of ``daemons``, oldest first) that wrote ``row``: the same host and pid;
    else the last one started before it in the same file; else the last one started before it
    (on the same host when both say). None when nothing tells."""
    host, pid, time = (
        getattr(row, "host", None),
        getattr(row, "pid", None),
        getattr(row, "time", None),
    )
    if _known(host) and _known(pid):
        same = daemons[(daemons["host"] == host) & (daemons["pid"] == pid)]
        if not same.empty:
            return same.iloc[-1]
    same_file = daemons[(daemons["source"] == row.source) & (daemons["line"] < row.line)]
    if not same_file.empty:
        return same_file.sort_values("line").iloc[-1]
    if _known(time):
        before = daemons[daemons["time"].notna() & (daemons["time"] <= time)]
        if _known(host):
            before = before[before["host"].isna() | (before["host"] == host)]
        if not before.empty:
            return before.iloc[-1]
    return None


def _engine_version(ctx: Context, cited: pd.DataFrame) -> str | None:
    """The version a finding is gated on: --engine-version, else that of the daemon whose rows it
    cites (the latest of them when they come from several), else the latest daemon's."""
    if ctx.engine_version:
        return ctx.engine_version
    daemons = daemons_by_time(ctx.evidence["daemons"])
    if daemons["version"].nunique() > 1 and {"source", "line"} <= set(cited.columns):
        found = [d for d in (_daemon_of(r, daemons) for r in cited.itertuples()) if d is not None]
        if found:
            return str(max(found, key=lambda d: daemons.index.get_loc(d.name))["version"])
    return engine_version(daemons)


def _dump_gate(
    ctx: Context, rule: Rule, version: str | None
) -> tuple[str | None, bool | None, list[str]]:
    """(version, affected, notes) from the dumps' release range when no option or log gives the
    version: a range wholly inside or wholly outside the affected ranges decides, one that
    straddles them leaves the version unknown."""
    dv = ctx.dump_version
    if version is not None or dv is None or not dv.usable:
        return version, (versions.in_any(version, rule.affected) if rule.affected else True), []
    said = f"engine {dv.display} from the line numbers of the {dv.source}"
    if not rule.affected:
        return dv.display, True, []
    affected = versions.range_in_any(dv.candidates, rule.affected)
    if affected is None:
        return (
            dv.display,
            None,
            [
                f"the {dv.source} fits releases {dv.display}, which straddle the affected range "
                f"({'; '.join(rule.affected)}): the engine version is not known closely enough"
            ],
        )
    return dv.display, affected, [said]


def excerpt(table: str, row: pd.Series) -> str:
    def get(key):
        value = row.get(key)
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        return int(value) if isinstance(value, float) and value.is_integer() else value

    if table == "events":
        return f"level={get('level')} msg={get('msg')}" if get("level") else str(get("msg"))
    if table == "panics":
        return f"{get('message')} (at {get('site') or 'an unknown function'})"
    if table == "locks":
        return str(get("said"))
    if table == "goroutines":
        if str(get("gid")).startswith("-"):  # a pprof debug=1 group: its count, no id
            n = get("weight") or 1
            return f"{n} goroutine{'s' if n != 1 else ''} (a pprof debug=1 group, no ids): {get('top')}"
        return f"goroutine {get('gid')} [{get('state')}]: {get('top')}"
    if table == "daemons":
        return f"Docker daemon version={get('version')} storage-driver={get('storage_driver')}"
    if table == "dumps":
        return f"{get('kind')} dump with {get('goroutines')} goroutines"
    if table == "frames":
        return f"{get('func')} {get('file')}:{get('lineno')}"
    return str(get("text") or get("msg") or "")


def _views(row: pd.Series) -> str:
    """ "; seen in 5 dumps: a:1, b:2, ..." when views of one snapshot show this fact."""
    views = row.get("views")
    if not isinstance(views, str) or not views:
        return ""
    views = views.split("\n")
    folder = (
        str(row.get("source", "")).rpartition("/")[0] + "/"
    )  # views beside the cited one: by file name
    shown = [v.removeprefix(folder) if folder != "/" else v for v in views]
    return f"; seen in {len(views)} dumps of one moment: {', '.join(shown)}"


def _cited(rule: Rule, matches: dict[str, Match]):
    """(name, signal, match) of each present signal the rule cites."""
    return [
        (name, rule.signals[name], m)
        for name, m in matches.items()
        if m.status == "present" and rule.signals[name].cite
    ]


def _cite(
    rule: Rule, matches: dict[str, Match]
) -> tuple[list[Citation], pd.DataFrame, pd.DataFrame]:
    """The citations, every row of the cited signals, and the rows cited."""
    cites, frames, shown = [], [], []
    for name, sig, m in _cited(rule, matches):
        rows = m.rows
        if sig.table:
            rows = rows.assign(table=sig.table, signal=name)
        frames.append(rows)
        shown.append(rows.head(MAX_CITATIONS))
        for _, row in rows.head(MAX_CITATIONS).iterrows():
            t = row.get("time")
            cites.append(
                Citation(
                    str(row["source"]),
                    int(row["line"]),
                    excerpt(row["table"], row)[:500] + _views(row),
                    name,
                    None if t is None or pd.isna(t) else t.to_pydatetime(),
                )
            )
    rows = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["table", "signal"])
    )
    cited = pd.concat(shown, ignore_index=True) if shown else rows
    return cites, rows, cited


def _no_rows(rule: Rule, matches: dict[str, Match]) -> pd.DataFrame:
    """The empty table _cite would give a rule without a verdict (same columns), without citing."""
    columns: dict[str, None] = {}
    for _, sig, m in _cited(rule, matches):
        columns.update(dict.fromkeys(m.rows.columns))
        if sig.table:
            columns.update(dict.fromkeys(["table", "signal"]))
    return pd.DataFrame(columns=list(columns) or ["table", "signal"])


def _containers(rows: pd.DataFrame, ev: Evidence) -> list[Container]:
    """The containers the rows name, each with its name and id as far as the containers table knows them."""
    if "container" not in rows:
        return []
    refs = [c for c in rows["container"].dropna().astype(str).unique() if c]
    names = {}
    table = ev["containers"]
    for i, name in zip(table["id"].tolist(), table["name"].tolist(), strict=True):
        if isinstance(i, str) and isinstance(name, str) and name:
            names[i] = name
    out: list[Container] = []
    for ref in refs:
        name = next((n for i, n in names.items() if i.startswith(ref) or ref.startswith(i)), None)
        if name and any(o.name == name for o in out):
            continue
        if name:
            found = Container(name, ref)
        elif ref in names.values():
            found = Container(ref, next(i for i, n in names.items() if n == ref))
        else:
            found = Container(id=ref) if CONTAINER_ID.fullmatch(ref) else Container(name=ref)
        if found.label not in (o.label for o in out):
            out.append(found)
    return out


def _first(matches: dict[str, Match], signal: str, column: str) -> str:
    """{signal.column} in a summary: that column of the signal's first row."""
    m = matches.get(signal)
    if m is None or m.status != "present" or m.rows.empty or column not in m.rows:
        return "?"
    value = m.rows.iloc[0][column]
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "?"
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return ", ".join(text.split("\n")).replace("{", "(").replace("}", ")")


class _Safe(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _evaluate(rule: Rule, ctx: Context) -> tuple[Outcome, Finding | None, pd.DataFrame]:
    matches = _signals(rule, ctx)
    states = [_state(v, matches) for v in rule.verdicts]
    verdict = next((v for v, st in zip(rule.verdicts, states) if st == "present"), None)
    if verdict is None:
        rows = _no_rows(rule, matches)
        undecided = [v for v, st in zip(rule.verdicts, states) if st == "unknown"]
        unknown = [
            f"{rule.signals[s].describe}: {matches[s].reason}"
            for s in dict.fromkeys(s for v in undecided for s in v.all + v.any)
            if matches[s].status == "unknown"
        ]
        if unknown:
            seen = any(
                matches[s].status == "present" or matches[s].seen
                for v in undecided
                for s in v.all + v.any
            )
            needs = list(
                dict.fromkeys(
                    matches[s].need
                    for v in undecided
                    for s in v.all + v.any
                    if matches[s].status == "unknown" and matches[s].need
                )
            )
            if (
                "logs" in needs and "debug_logs" in needs
            ):  # no log at all: the debug lines are not the point
                needs.remove("debug_logs")
            status = "inconclusive" if seen or not needs else "not-checked"
            return Outcome(rule.id, status, "; ".join(unknown), needs=needs), None, rows.iloc[0:0]
        absent = [
            f"{rule.signals[s].describe} ({matches[s].reason})"
            for s in dict.fromkeys(s for v in rule.verdicts for s in v.all + v.any)
            if matches[s].status == "absent"
        ]
        return (
            Outcome(rule.id, "not-matched", "not found: " + "; ".join(absent)),
            None,
            rows.iloc[0:0],
        )
    cites, rows, cited = _cite(rule, matches)
    version = _engine_version(ctx, cited)
    confidence, notes = verdict.confidence, []
    excluded = [
        reason
        for sig, reason in rule.not_affected_if
        if _signal(sig, rule, ctx, matches).status == "present"
    ]
    version, affected, dump_notes = _dump_gate(ctx, rule, version)
    if affected is False or excluded:
        confidence = Confidence.NOT_AFFECTED
        notes = excluded or [
            f"engine {version} is outside the affected range "
            f"({'; '.join(rule.affected)}){'; fixed in ' + rule.fixed_in if rule.fixed_in else ''}"
        ]
    elif affected is None:
        notes = dump_notes or [
            "the engine version is unknown (no 'Docker daemon' start line; pass --engine-version)"
        ]
        confidence = min(confidence, rule.unknown_version)
    stronger = [
        v
        for v in rule.verdicts[: rule.verdicts.index(verdict)]
        if v.confidence > verdict.confidence
    ]
    missing = []
    for name in dict.fromkeys(s for v in stronger for s in v.all + v.any):
        if matches[name].status != "present":
            missing.append(f"{rule.signals[name].describe} ({matches[name].reason})")
    partial = "complete" in rows and rows["complete"].eq(False).any()
    if partial or any(WHAT_IS_MISSING["complete_dumps"] in m for m in missing):
        missing.append(f"the whole goroutine dump, for a firm answer: {HOW_TO_TAKE}")
    containers = _containers(rows, ctx.evidence)
    values = _Safe(
        version=version or "unknown",
        containers=", ".join(c.label for c in containers) or "unknown",
        fixed_in=rule.fixed_in,
        **{f"n_{k}": len(m.rows) for k, m in matches.items()},
    )
    summary = FIELD_REF.sub(lambda m: _first(matches, *m.groups()), verdict.summary).format_map(
        values
    )
    if confidence is Confidence.NOT_AFFECTED:
        summary = f"Signs of {rule.title} were seen, but this daemon is not affected: {notes[0]}."
    explanation = "\n\n".join(
        p for p in [rule.description, *notes, *(dump_notes if affected is not None else [])] if p
    )
    finding = Finding(
        rule.id,
        rule.title,
        verdict.severity or rule.severity,
        confidence,
        summary,
        explanation,
        rule.remedy,
        rule.references,
        containers,
        cites,
        missing,
        version,
    )
    status = "not-applicable" if confidence is Confidence.NOT_AFFECTED else "matched"
    return Outcome(rule.id, status, summary, confidence), finding, rows


def evaluate(
    rules: list[Rule],
    evidence: Evidence,
    engine_version: str | None = None,
    dump_version: DumpVersion | None = None,
) -> tuple[list[Finding], list[Outcome], list[str]]:
    """Run ``rules`` (ordered by load_rules) and return findings, outcomes and warnings.
    ``dump_version`` (:func:`forensics.engine.dumpversion.infer`) gates the rules when neither
    ``engine_version`` nor a log says the version."""
    ctx = Context(evidence, engine_version, dump_version=dump_version)
    for rule in rules:
        ctx.results[rule.id] = _evaluate(rule, ctx)
    outcomes = [ctx.results[r.id][0] for r in rules]
    findings = [f for _, f, _ in ctx.results.values() if f is not None]
    for _, f, rows in ctx.results.values():
        if f is not None:
            seen.annotate(f, rows, evidence)
    latest = _engine_version(ctx, evidence["panics"].iloc[0:0])  # no cited row: the latest daemon
    extra = unexplained_panics(evidence, explained_rows(ctx.results, rules), latest)
    for f in extra:
        seen.annotate(f, evidence["panics"].iloc[0:0], evidence)
        findings.append(f)
    outcomes.append(_unexplained_outcome(evidence, extra))
    return findings, outcomes, ctx.warnings


def _unexplained_outcome(evidence: Evidence, found: list[Finding]) -> Outcome:
    """The rules-table row of the check that runs after the catalogue: panics no rule explains."""
    if found:
        n = sum(len(f.evidence) for f in found)
        return Outcome(
            UNEXPLAINED,
            "matched",
            f"{len(found)} kind{'s' if len(found) != 1 else ''} of panic no catalogue rule explains"
            f" ({n} cited)",
            max(f.confidence for f in found),
        )
    if not (evidence.coverage.get("logs") or evidence.coverage.get("dumps")):
        return Outcome(UNEXPLAINED, "not-checked", WHAT_IS_MISSING["logs"], needs=["logs"])
    panics = len(evidence["panics"])
    return Outcome(
        UNEXPLAINED,
        "not-matched",
        f"every panic in the inputs ({panics}) is explained by a catalogue rule"
        if panics
        else "no panic or fatal error in the inputs",
    )
