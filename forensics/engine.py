"""Evaluate rules over the evidence tables: signals -> verdict -> finding.

A signal selects rows of one evidence table (or takes the finding of another rule).
It is *present* with enough rows, *absent* when the input that would show it was
read and it is not there, and *unknown* when that input is missing (no dump given).
The first verdict whose signals are present decides the confidence; the engine
version gates it. Usable without the CLI: ``evaluate(load_rules(), evidence)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from . import versions
from .evidence import COVERAGE, Evidence
from .findings import FOUND, Citation, Finding, Outcome
from .ruleset import PATTERN_TIMEOUT, Condition, Rule, Signal

MAX_CITATIONS = 12  # rows cited per signal
WHAT_IS_MISSING = {"logs": "no dockerd log among the inputs", "dumps": "no goroutine dump among the inputs",
                   "debug_logs": "the log has no debug lines (dockerd runs without --debug)"}


@dataclass
class Match:
    status: str  # present | absent | unknown
    rows: pd.DataFrame
    reason: str = ""


@dataclass
class Context:
    evidence: Evidence
    engine_version: str | None = None
    results: dict[str, tuple[Outcome, Finding | None, pd.DataFrame]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _column_mask(df: pd.DataFrame, cond: Condition, ctx: Context, rule: Rule) -> pd.Series:
    col = df[cond.column]
    if cond.op in ("regex", "not"):
        def test(value) -> bool:
            text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
            try:
                return cond.pattern.search(text, timeout=PATTERN_TIMEOUT) is not None
            except TimeoutError:
                ctx.warnings.append(f"{rule.path}: pattern for {cond.column} timed out; row skipped")
                return False
        hits = col.map(test).astype(bool)
        return ~hits if cond.op == "not" else hits
    if cond.op == "eq":
        return col.map(lambda v: str(v).lower() == str(cond.value).lower()).astype(bool)
    if cond.op == "in":
        wanted = {str(v).lower() for v in cond.value}
        return col.map(lambda v: str(v).lower() in wanted).astype(bool)
    numbers = pd.to_numeric(col, errors="coerce")
    return (numbers >= cond.value) if cond.op == "min" else (numbers <= cond.value)


def _follows(rows: pd.DataFrame, earlier: pd.DataFrame, within: float | None) -> pd.DataFrame:
    """Rows that come at or after some row of ``earlier`` (within the window). Untimed rows stay."""
    if rows.empty or "time" not in rows or "time" not in earlier:
        return rows
    starts = earlier["time"].dropna()
    if starts.empty:
        return rows

    def ok(t) -> bool:
        if pd.isna(t):
            return True
        gaps = (t - starts).dt.total_seconds()
        return bool(((gaps >= 0) & ((gaps <= within) if within else True)).any())
    return rows[rows["time"].map(ok).astype(bool)]


def _signal(sig: Signal, rule: Rule, ctx: Context, done: dict[str, Match]) -> Match:
    if sig.rule:
        outcome, finding, rows = ctx.results[sig.rule]
        if outcome.status == "inconclusive":
            return Match("unknown", rows, outcome.reason)
        if finding is None or not finding.found:
            return Match("absent", rows.iloc[0:0], outcome.reason)
    else:
        rows = ctx.evidence[sig.table]
        mask = pd.Series(True, index=rows.index)
        for cond in sig.where:
            if rows.empty:
                break
            mask &= _column_mask(rows, cond, ctx, rule)
        rows = rows[mask]
    if sig.after and sig.after[0] in done:
        rows = _follows(rows, done[sig.after[0]].rows, sig.after[1])
    if len(rows) >= sig.min_rows:
        return Match("present", rows)
    if sig.table and not ctx.evidence.coverage.get(COVERAGE[sig.table]):
        return Match("unknown", rows, WHAT_IS_MISSING[COVERAGE[sig.table]])
    return Match("absent", rows, "not found in the inputs" if not sig.after else
                 f"not found after {rule.signals[sig.after[0]].describe}")


def _signals(rule: Rule, ctx: Context) -> dict[str, Match]:
    done: dict[str, Match] = {}
    pending = list(rule.signals.values())
    while pending:  # a signal with `after` waits for the signal it follows
        sig = next((s for s in pending if not s.after or s.after[0] in done), pending[0])
        pending.remove(sig)
        done[sig.name] = _signal(sig, rule, ctx, done)
    return done


def _engine_version(ctx: Context) -> str | None:
    if ctx.engine_version:
        return ctx.engine_version
    daemons = ctx.evidence["daemons"]
    if daemons.empty:
        return None
    return str(daemons.sort_values("time", na_position="first").iloc[-1]["version"])


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
        sites = ", ".join(s.rsplit("/", 1)[-1] for s in str(get("sites")).split("\n") if s)
        holder = "no goroutine holds it (holder gone)" if get("status") == "orphaned" else \
            f"{get('status')}: {get('holders')}"
        wait = f", longest wait {int(get('longest_wait'))} min" if get("longest_wait") != "" else ""
        return (f"{get('kind')} {get('key')}: {get('waiters')} goroutines waiting "
                f"(goroutines {get('waiter_gids')}) in {sites}{wait}; {holder}")
    if table == "goroutines":
        return f"goroutine {get('gid')} [{get('state')}]: {get('top')}"
    if table == "daemons":
        return f"Docker daemon version={get('version')} storage-driver={get('storage_driver')}"
    if table == "dumps":
        return f"{get('kind')} dump with {get('goroutines')} goroutines"
    if table == "frames":
        return f"{get('func')} {get('file')}:{get('lineno')}"
    return str(get("text") or get("msg") or "")


def _cite(rule: Rule, matches: dict[str, Match]) -> tuple[list[Citation], pd.DataFrame]:
    cites, frames = [], []
    for name, m in matches.items():
        sig = rule.signals[name]
        if m.status != "present" or not sig.cite:
            continue
        rows = m.rows
        if sig.table:
            rows = rows.assign(table=sig.table, signal=name)
        frames.append(rows)
        for _, row in rows.head(MAX_CITATIONS).iterrows():
            t = row.get("time")
            cites.append(Citation(str(row["source"]), int(row["line"]), excerpt(row["table"], row)[:500],
                                  name, None if t is None or pd.isna(t) else t.to_pydatetime()))
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["table", "signal"])
    return cites, rows


def _containers(rows: pd.DataFrame, ev: Evidence) -> list[str]:
    if "container" not in rows:
        return []
    refs = [c for c in rows["container"].dropna().astype(str).unique() if c]
    names = {}
    for _, r in ev["containers"].iterrows():
        if isinstance(r["id"], str) and isinstance(r["name"], str) and r["name"]:
            names[r["id"]] = r["name"]
    out = []
    for ref in refs:
        name = next((n for i, n in names.items() if i.startswith(ref) or ref.startswith(i)), None)
        label = f"{name} ({ref[:12]})" if name else ref
        if name and any(o.startswith(name + " ") for o in out):
            continue
        if not name and ref in names.values():
            ids = [i for i, n in names.items() if n == ref]
            label = f"{ref} ({ids[0][:12]})"
        if label not in out:
            out.append(label)
    return out


class _Safe(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _evaluate(rule: Rule, ctx: Context) -> tuple[Outcome, Finding | None, pd.DataFrame]:
    matches = _signals(rule, ctx)
    version = _engine_version(ctx)
    verdict = next((v for v in rule.verdicts
                    if all(matches[s].status == "present" for s in v.all)
                    and (not v.any or any(matches[s].status == "present" for s in v.any))), None)
    cites, rows = _cite(rule, matches)
    if verdict is None:
        strongest = rule.verdicts[0] if rule.verdicts else None
        unknown = [f"{rule.signals[s].describe}: {matches[s].reason}"
                   for s in (strongest.all + strongest.any if strongest else []) if matches[s].status == "unknown"]
        if unknown:
            return Outcome(rule.id, "inconclusive", "; ".join(unknown)), None, rows.iloc[0:0]
        absent = [rule.signals[s].describe for s in (strongest.all + strongest.any if strongest else [])
                  if matches[s].status == "absent"]
        return Outcome(rule.id, "not-matched", "not found: " + "; ".join(absent)), None, rows.iloc[0:0]
    confidence, notes = verdict.confidence, []
    excluded = [reason for sig, reason in rule.not_affected_if
                if _signal(sig, rule, ctx, matches).status == "present"]
    affected = versions.in_any(version, rule.affected) if rule.affected else True
    if affected is False or excluded:
        confidence = "not-affected"
        notes = excluded or [f"engine {version} is outside the affected range "
                             f"({'; '.join(rule.affected)}){'; fixed in ' + rule.fixed_in if rule.fixed_in else ''}"]
    elif affected is None:
        notes = ["the engine version is unknown (no 'Docker daemon' start line; pass --engine-version)"]
        if FOUND.index(confidence) < FOUND.index(rule.unknown_version):
            confidence = rule.unknown_version
    stronger = rule.verdicts[:rule.verdicts.index(verdict)]
    missing = []
    for name in dict.fromkeys(s for v in stronger for s in v.all + v.any):
        if matches[name].status != "present":
            missing.append(f"{rule.signals[name].describe} ({matches[name].reason})")
    containers = _containers(rows, ctx.evidence)
    values = _Safe(version=version or "unknown", containers=", ".join(containers) or "unknown",
                   fixed_in=rule.fixed_in, **{f"n_{k}": len(m.rows) for k, m in matches.items()})
    summary = verdict.summary.format_map(values)
    if confidence == "not-affected":
        summary = f"Signs of {rule.title} were seen, but this daemon is not affected: {notes[0]}."
    explanation = "\n\n".join(p for p in [rule.description, *notes] if p)
    finding = Finding(rule.id, rule.title, verdict.severity or rule.severity, confidence, summary, explanation, rule.remedy,
                      rule.references, containers, cites, missing, version)
    status = "not-applicable" if confidence == "not-affected" else "matched"
    return Outcome(rule.id, status, summary, confidence), finding, rows


def evaluate(rules: list[Rule], evidence: Evidence, engine_version: str | None = None,
             ) -> tuple[list[Finding], list[Outcome], list[str]]:
    """Run ``rules`` (ordered by load_rules) and return findings, outcomes and warnings."""
    ctx = Context(evidence, engine_version)
    for rule in rules:
        ctx.results[rule.id] = _evaluate(rule, ctx)
    outcomes = [ctx.results[r.id][0] for r in rules]
    findings = [f for _, f, _ in ctx.results.values() if f is not None]
    return findings, outcomes, ctx.warnings
