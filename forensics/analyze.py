"""The whole pipeline as one plain function: ``analyze(paths) -> Result``."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from forensics import __version__
from forensics.ingest import archives
from forensics.ingest import envelopes
from forensics.ingest import excerpts
from forensics.ingest import sources
from forensics.engine.evaluate import evaluate
from forensics.evidence import Evidence, build
from forensics.findings import Finding, Outcome, severity_rank
from forensics.parse import Parsed, date_dumps, parse_records
from forensics.engine.prefilter import every_line_skim, skim_for
from forensics.engine.ruleset import Rule, load_rules


@dataclass
class InputSummary:
    name: str
    lines: int = 0
    events: int = 0
    dumps: int = 0
    goroutines: int = 0
    readable: bool = True
    format: str = ""  # the envelope most of its records came in (journal-json, syslog-5424, plain, ...)
    notes: list[str] = field(default_factory=list)  # what was not understood, aggregated, inferred

    @property
    def kind(self) -> str:
        if not self.readable:
            return "unreadable"
        parts = [p for p, n in (("log", self.events), ("goroutine dump", self.dumps)) if n]
        detail = "; ".join(([self.format] if self.format else []) + self.notes)
        return (" + ".join(parts) or "nothing recognised") + (f" [{detail}]" if detail else "")


@dataclass
class Result:
    findings: list[Finding]
    outcomes: list[Outcome]
    problems: list[sources.Problem]
    inputs: list[InputSummary]
    evidence: Evidence
    warnings: list[str] = field(default_factory=list)
    engine_version: str | None = None
    tool_version: str = __version__
    generated: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    context: dict = field(default_factory=dict)  # (source, line) -> [(line, text)] around each citation

    @property
    def found(self) -> list[Finding]:
        """Findings that stand (confirmed, likely, possible), most severe first."""
        return sorted((f for f in self.findings if f.found),
                      key=lambda f: (-severity_rank(f.severity), ["confirmed", "likely", "possible"].index(f.confidence)))

    @property
    def verdict(self) -> str:
        """'found', or 'inconclusive' when something could not be read or decided, else 'clean'."""
        if self.found:
            return "found"
        if self.problems or any(o.status == "inconclusive" for o in self.outcomes) or not self.evidence.coverage["logs"]:
            return "inconclusive"
        return "clean"

    @property
    def nothing_read(self) -> bool:
        return not any(i.readable and i.lines for i in self.inputs)

    def worst_severity(self) -> int:
        return max((severity_rank(f.severity) for f in self.found), default=-1)


def analyze(paths: list[str], engine_version: str | None = None, rules: list[Rule] | None = None,
            input_format: str = "auto", max_input_bytes: int = archives.DEFAULT_MAX_INPUT_BYTES,
            every_line: bool = False) -> Result:
    """Read every path (files, directories, compressed files, archives, ``-``) and run the rules.

    At most ``max_input_bytes`` decompressed bytes are read in the whole run (all compressed
    inputs and archives together); past it an input stops with a Problem naming it. Routine
    stretches of large logs are skimmed (see :mod:`forensics.skim`) unless ``every_line``."""
    token = archives.budget.set(archives.Budget(max_input_bytes))
    try:
        return _analyze(paths, engine_version, rules, input_format, every_line)
    finally:
        archives.budget.reset(token)


def _analyze(paths: list[str], engine_version: str | None, rules: list[Rule] | None, input_format: str,
             every_line: bool) -> Result:
    rules = rules if rules is not None else load_rules()
    skim = every_line_skim() if every_line else skim_for(rules)
    problems: list[sources.Problem] = []
    inputs: list[sources.Input] = []
    parsed = Parsed()
    summaries = []
    for inp in sources.walk(paths, problems):  # opened one at a time, streamed
        inputs.append(inp)
        summary = InputSummary(inp.name)
        before = (len(parsed.events), parsed.records)
        known = len(problems)
        parse_records(envelopes.read(inp, problems, input_format, skim=skim), into=parsed)
        if inp.name in parsed.coverage:
            summary.format, summary.notes = parsed.coverage[inp.name].format, parsed.coverage[inp.name].notes()
        summary.lines = parsed.records - before[1]
        summary.events = len(parsed.events) - before[0]
        summary.readable = not any(p.fatal for p in problems[known:])
        summaries.append(summary)
    for d in parsed.dumps:
        s = next((s for s in summaries if s.name == d.source), None)
        if s is not None:
            s.dumps += 1
            s.goroutines += len(d.goroutines)
    for inp, summary in zip(inputs, summaries):
        if summary.readable and not summary.lines:
            summary.readable = False
            problems.append(sources.Problem(inp.name, None, "empty input", fatal=True))
        elif summary.readable and not summary.events and not summary.dumps:
            problems.append(sources.Problem(inp.name, None, "no log line or goroutine dump recognised"))
    for d in parsed.dumps:  # a damaged dump is a partial read: say where
        for w in d.warnings:
            line, _, message = w.removeprefix(f"{d.source}:").partition(": ")
            problems.append(sources.Problem(d.source, int(line) if line.isdigit() else None, message or w))
    date_dumps(parsed)
    evidence = build(parsed)
    findings, outcomes, warnings = evaluate(rules, evidence, engine_version)
    version = engine_version or next(iter(evidence["daemons"]["version"].tolist()[-1:]), None)
    cap = archives.budget.get()
    if cap is not None:  # re-reading the cited lines gets its own allowance, not what the first pass left
        archives.budget.set(archives.Budget(cap.limit))
    context = excerpts.around(paths, [(c.source, c.line) for f in findings for c in f.evidence])
    return Result(findings, outcomes, problems, summaries, evidence, warnings, version, context=context)
