"""The whole pipeline as one plain function: ``analyze(paths) -> Result``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from forensics import __version__
from forensics.engine.dumpversion import DumpVersion, disagreement, infer
from forensics.engine.evaluate import evaluate
from forensics.engine.prefilter import every_line_skim, skim_for
from forensics.engine.ruleset import Rule, load_rules
from forensics.evidence import Evidence, build, engine_versions
from forensics.evidence import engine_version as latest_version
from forensics.findings import Confidence, Finding, Outcome, Severity
from forensics.ingest import archives, envelopes, excerpts, sources
from forensics.parse import Parsed, date_dumps, parse_dump_file, parse_records, scope


@dataclass
class InputSummary:
    name: str
    lines: int = 0
    events: int = 0
    dumps: int = 0
    goroutines: int = 0
    readable: bool = True
    format: str = (
        ""  # the envelope most of its records came in (journal-json, syslog-5424, plain, ...)
    )
    notes: list[str] = field(default_factory=list)  # what was not understood, aggregated, inferred
    skipped: str = ""  # why it was not read at all

    @property
    def kind(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
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
    engine_versions: list[str] = field(
        default_factory=list
    )  # every daemon version the inputs show, oldest first
    tool_version: str = __version__
    generated: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    context: dict = field(
        default_factory=dict
    )  # (source, line) -> [(line, text)] around each citation
    engine_version_source: str | None = (
        None  # option, log <file>, docker version <file>, goroutine dump <file>
    )
    dump_version: DumpVersion | None = None  # the release range the goroutine dumps fit

    @property
    def found(self) -> list[Finding]:
        """Findings that stand (confirmed, likely, possible), most severe first."""
        return sorted(
            (f for f in self.findings if f.found),
            key=lambda f: (-Severity(f.severity).rank, -Confidence(f.confidence).rank),
        )

    @property
    def verdict(self) -> str:
        """'found'; else 'inconclusive' when some input could not be read, or a rule saw signs it could not
        decide for want of evidence; else 'clean' (no known problem found), even when rules that read a
        kind of input not given (a goroutine dump, a log) could not be checked: see :attr:`not_checked`."""
        if self.found:
            return "found"
        if self.problems or any(o.status == "inconclusive" for o in self.outcomes):
            return "inconclusive"
        return "clean"

    @property
    def not_checked(self) -> dict[str, list[str]]:
        """Kind of input missing -> the rules that could not be checked without it."""
        out: dict[str, list[str]] = {}
        for o in self.outcomes:
            if o.status == "not-checked":
                for need in o.needs:
                    out.setdefault(need, []).append(o.rule)
        return out

    @property
    def nothing_read(self) -> bool:
        return not any(i.readable and i.lines for i in self.inputs)

    def worst_severity(self) -> Severity | None:
        return max((Severity(f.severity) for f in self.found), default=None)


def analyze(
    paths: list[str],
    engine_version: str | None = None,
    rules: list[Rule] | None = None,
    input_format: str = "auto",
    max_input_bytes: int = archives.DEFAULT_MAX_INPUT_BYTES,
    every_line: bool = False,
    window: scope.Window | None = None,
) -> Result:
    """Read every path (files, directories, compressed files, archives, ``-``) and run the rules.

    At most ``max_input_bytes`` decompressed bytes are read in the whole run (all compressed
    inputs and archives together); past it an input stops with a Problem naming it. Routine
    stretches of large logs are skimmed (see :mod:`forensics.skim`) unless ``every_line``."""
    token = archives.budget.set(archives.Budget(max_input_bytes))
    try:
        return _analyze(
            paths, engine_version, rules, input_format, every_line, window or scope.Window()
        )
    finally:
        archives.budget.reset(token)


def _analyze(
    paths: list[str],
    engine_version: str | None,
    rules: list[Rule] | None,
    input_format: str,
    every_line: bool,
    window: scope.Window,
) -> Result:
    rules = rules if rules is not None else load_rules()
    skim = every_line_skim() if every_line else skim_for(rules)
    problems: list[sources.Problem] = []
    inputs: list[sources.Input] = []
    parsed = Parsed()
    summaries = []
    skipped: list[tuple[str, str]] = []
    for inp in sources.walk(paths, problems, skipped):  # opened one at a time, streamed
        inputs.append(inp)
        summary = InputSummary(inp.name)
        before = (len(parsed.events), parsed.records)
        known = len(problems)
        if input_format != "auto" or not parse_dump_file(
            inp, parsed
        ):  # a plain dump file: read in bulk
            parse_records(envelopes.read(inp, problems, input_format, skim=skim), into=parsed)
        if inp.name in parsed.coverage:
            summary.format, summary.notes = (
                parsed.coverage[inp.name].format,
                parsed.coverage[inp.name].notes(),
            )
        summary.lines = parsed.records - before[1]
        summary.events = len(parsed.events) - before[0]
        summary.readable = not any(p.fatal for p in problems[known:])
        summaries.append(summary)
        inp.stream = None  # its buffers (8-64 KiB) are not kept for every input: 10^5 archive members took 1 GB
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
            problems.append(
                sources.Problem(inp.name, None, "no log line or goroutine dump recognised")
            )
    for (
        name,
        why,
    ) in (
        skipped
    ):  # our own reports (they quote rules and evidence), files given twice: told, not read
        summaries.append(InputSummary(name, skipped=why))
    for d in parsed.dumps:  # a damaged dump is a partial read: say where
        problems.extend(d.warnings)
    date_dumps(parsed)
    scoped = scope.apply(parsed, window)
    evidence = build(parsed)
    dump_version = infer(parsed.dumps)  # issue 17: the release the dumps' line numbers fit
    findings, outcomes, warnings = evaluate(rules, evidence, engine_version, dump_version)
    warnings = scoped + warnings
    version = engine_version or latest_version(evidence["daemons"])
    version, version_source, notes = version_from_dumps(
        version, engine_version, evidence, dump_version
    )
    warnings = warnings + notes
    cap = archives.budget.get()
    if (
        cap is not None
    ):  # re-reading the cited lines gets its own allowance, not what the first pass left
        archives.budget.set(archives.Budget(cap.limit))
    context = excerpts.around(paths, [(c.source, c.line) for f in findings for c in f.evidence])
    return Result(
        findings,
        outcomes,
        problems,
        summaries,
        evidence,
        warnings,
        version,
        engine_versions(evidence["daemons"]),
        context=context,
        engine_version_source=version_source,
        dump_version=dump_version,
    )


def version_from_dumps(
    version: str | None,
    option: str | None,
    evidence: Evidence,
    dumps: DumpVersion | None,
) -> tuple[str | None, str | None, list[str]]:
    """(engine version, where it came from, notes) once the option and the logs have had their say:
    the dumps' release range when neither gives a version, and a note when the version they give
    is not among the releases the dumps fit (dumps and logs of different daemons in one ticket)."""
    notes = list(dumps.notes) if dumps is not None else []
    daemons = evidence["daemons"]
    if option:
        note = disagreement(dumps, option, "--engine-version")
        return option, "option", notes + ([note] if note else [])
    if version is not None:
        rows = daemons[daemons["version"].astype(str) == version]
        row = rows.iloc[-1] if not rows.empty else None
        said = (
            "docker version"
            if row is not None
            and not any(isinstance(row[c], str) for c in ("commit", "storage_driver"))
            else "log"
        )
        where = f"{said} {row['source']}" if row is not None else said
        seen = engine_versions(daemons)
        if (
            dumps is not None
            and dumps.usable
            and not any(dumps.contains(v) is not False for v in seen)
        ):
            notes.append(
                disagreement(
                    dumps, ", ".join(seen), f"{where}:{row['line']}" if row is not None else where
                )
            )
        return version, where, notes
    if dumps is not None and dumps.usable:
        return dumps.display, dumps.source, notes
    return None, None, notes
