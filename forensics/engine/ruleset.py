"""Load and validate the YAML rules (format: rules/README.md).

A wrong key, a bad regex, an unknown table or column is a ``RuleError`` naming the
rule file and the field, raised before any input is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import regex
import yaml

from forensics import data_dir
from forensics.evidence import TABLES
from forensics.findings import FOUND, SEVERITIES, Confidence, Severity
from forensics.parse import versions

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster, same data

PATTERN_TIMEOUT = 0.5  # seconds a rule pattern may run on one value
_DURATION = re.compile(r"(\d+)\s*(s|m|h|d)")
FIELD_REF = re.compile(r"\{(\w+)\.(\w+)\}")  # {signal.column} in a verdict summary
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RULE_KEYS = {
    "id",
    "title",
    "severity",
    "description",
    "references",
    "versions",
    "not_affected_if",
    "signals",
    "verdicts",
    "remedy",
    "summary",
    "tags",
}
SIGNAL_KEYS = {
    "table",
    "rule",
    "where",
    "min_rows",
    "window",
    "distinct",
    "after",
    "before",
    "not_after",
    "same",
    "needs",
    "describe",
    "cite",
}
NEEDS = ("logs", "debug_logs", "dumps")
VERDICT_KEYS = {"confidence", "all", "any", "summary", "severity"}
OPS = {"regex", "not", "eq", "in", "min", "max"}


Follow = tuple[
    str, float | None, tuple[str, ...]
]  # (signal, seconds or None, columns that must be equal)


class RuleError(ValueError):
    pass


@dataclass
class Condition:
    column: str
    op: str
    value: object
    pattern: regex.Pattern | None = None


@dataclass
class Signal:
    name: str
    table: str | None
    rule: str | None
    where: list[Condition]
    min_rows: int = 1
    after: Follow | None = None  # (signal, seconds, same columns) rows must follow that signal
    describe: str = ""
    cite: bool = True  # list its rows as evidence
    window: float | None = None  # min_rows must fall within this many seconds of each other
    distinct: str | None = None  # count distinct values of this column instead of rows
    not_after: Follow | None = None  # drop rows that follow that signal
    same: tuple[str, dict[str, str]] | None = (
        None  # (signal, {my column: its column}) rows must share
    )
    needs: str | None = None  # the input whose absence makes the signal unknown (default: by table)
    before: Follow | None = None  # rows must precede a row of that signal

    def uses(self) -> list[tuple[str, str]]:
        """(key, signal) pairs naming the signals this one is evaluated after."""
        return [
            (k, ref[0])
            for k, ref in (
                ("after", self.after),
                ("before", self.before),
                ("not_after", self.not_after),
                ("same", self.same),
            )
            if ref
        ]


@dataclass
class Verdict:
    confidence: Confidence
    all: list[str]
    any: list[str]
    summary: str
    severity: Severity | None = None  # overrides the rule's severity for this verdict


@dataclass
class Rule:
    id: str
    title: str
    severity: Severity
    description: str
    remedy: str
    path: str
    references: list[dict] = field(default_factory=list)
    affected: list[str] = field(default_factory=list)
    fixed_in: str = ""
    unknown_version: Confidence = Confidence.LIKELY
    not_affected_if: list[tuple[Signal, str]] = field(default_factory=list)
    signals: dict[str, Signal] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)

    def depends_on(self) -> set[str]:
        return {s.rule for s in self.signals.values() if s.rule}


def seconds(text: str | int) -> float:
    m = _DURATION.fullmatch(str(text).strip())
    if not m:
        raise ValueError(f"bad duration {text!r} (want e.g. 30s, 10m, 2h)")
    return int(m.group(1)) * _UNITS[m.group(2)]


def _fail(path: str, where: str, message: str) -> RuleError:
    return RuleError(f"{path}: {where}: {message}")


def _conditions(path: str, where: str, table: str | None, spec) -> list[Condition]:
    if spec is None:
        return []
    if not isinstance(spec, dict):
        raise _fail(path, where, "must be a mapping of column: condition")
    columns = set(TABLES[table].split()) if table else None
    out = []
    for column, cond in spec.items():
        if columns is not None and column not in columns:
            raise _fail(
                path,
                f"{where}.{column}",
                f"unknown column of table {table!r} (columns: {', '.join(sorted(columns))})",
            )
        if not isinstance(cond, dict):
            cond = {"regex": cond} if isinstance(cond, str) else {"eq": cond}
        for op, value in cond.items():
            if op not in OPS:
                raise _fail(
                    path, f"{where}.{column}.{op}", f"unknown operator (use one of {sorted(OPS)})"
                )
            pattern = None
            if op in ("regex", "not"):
                try:
                    pattern = regex.compile(str(value))
                except regex.error as exc:
                    raise _fail(
                        path, f"{where}.{column}.{op}", f"bad regular expression: {exc}"
                    ) from None
            out.append(Condition(column, op, value, pattern))
    return out


def _signal(path: str, name: str, spec) -> Signal:
    where = f"signals.{name}"
    if not isinstance(spec, dict):
        raise _fail(path, where, "must be a mapping")
    unknown = set(spec) - SIGNAL_KEYS
    if unknown:
        raise _fail(
            path,
            f"{where}.{sorted(unknown)[0]}",
            f"unknown key (allowed: {', '.join(sorted(SIGNAL_KEYS))})",
        )
    table, rule = spec.get("table"), spec.get("rule")
    if bool(table) == bool(rule):
        raise _fail(path, where, "needs exactly one of 'table' or 'rule'")
    if table and table not in TABLES:
        raise _fail(
            path,
            f"{where}.table",
            f"unknown evidence table {table!r} (tables: {', '.join(TABLES)})",
        )
    where_ = _conditions(path, f"{where}.where", table, spec.get("where"))
    columns = set(TABLES[table].split()) if table else None
    distinct = spec.get("distinct")
    if distinct is not None and columns is not None and distinct not in columns:
        raise _fail(path, f"{where}.distinct", f"unknown column of table {table!r}")
    needs = spec.get("needs")
    if needs is not None and needs not in NEEDS:
        raise _fail(path, f"{where}.needs", f"must be one of {', '.join(NEEDS)}")
    try:
        min_rows = int(spec.get("min_rows", 1))
    except (TypeError, ValueError):
        raise _fail(path, f"{where}.min_rows", "must be a whole number") from None
    return Signal(
        name,
        table,
        rule,
        where_,
        min_rows,
        _follow(path, where, spec, "after", columns),
        str(spec.get("describe", name)),
        bool(spec.get("cite", True)),
        _duration(path, f"{where}.window", spec.get("window")),
        distinct,
        _follow(path, where, spec, "not_after", columns),
        _same(path, where, spec.get("same"), columns),
        needs,
        _follow(path, where, spec, "before", columns),
    )


def _duration(path: str, where: str, value) -> float | None:
    if value is None:
        return None
    try:
        return seconds(value)
    except ValueError as exc:
        raise _fail(path, where, str(exc)) from None


def _follow(path: str, where: str, spec: dict, key: str, columns: set[str] | None) -> Follow | None:
    """``after: {signal: NAME, within: DURATION, columns: [container]}`` (within, columns optional)."""
    if key not in spec:
        return None
    a = spec[key]
    if not isinstance(a, dict) or "signal" not in a or set(a) - {"signal", "within", "columns"}:
        raise _fail(
            path, f"{where}.{key}", "needs {signal: NAME, within: DURATION, columns: [COLUMN, ...]}"
        )
    same = a.get("columns") or []
    if not isinstance(same, list):
        raise _fail(path, f"{where}.{key}.columns", "must be a list of columns")
    for c in same:
        if columns is not None and c not in columns:
            raise _fail(path, f"{where}.{key}.columns.{c}", "unknown column of this signal's table")
    return a["signal"], _duration(path, f"{where}.{key}.within", a.get("within")), tuple(same)


def _same(
    path: str, where: str, spec, columns: set[str] | None
) -> tuple[str, dict[str, str]] | None:
    """``same: {signal: NAME, columns: [container]}`` or ``columns: {my_column: its_column}``."""
    if spec is None:
        return None
    if (
        not isinstance(spec, dict)
        or "signal" not in spec
        or "columns" not in spec
        or set(spec) - {"signal", "columns"}
    ):
        raise _fail(
            path,
            f"{where}.same",
            "needs {signal: NAME, columns: [COLUMN, ...] or {COLUMN: ITS_COLUMN}}",
        )
    on = spec["columns"]
    on = {c: c for c in on} if isinstance(on, list) else on
    if not isinstance(on, dict) or not on:
        raise _fail(path, f"{where}.same.columns", "must list columns or map them")
    for mine in on:
        if columns is not None and mine not in columns:
            raise _fail(
                path, f"{where}.same.columns.{mine}", "unknown column of this signal's table"
            )
    return spec["signal"], {str(k): str(v) for k, v in on.items()}


def _check_references(path: str, signals: dict[str, Signal]) -> None:
    """Each after/not_after/same names a known signal, their columns exist, and nothing loops."""
    for s in signals.values():
        for key, ref in s.uses():
            if ref not in signals:
                raise _fail(path, f"signals.{s.name}.{key}.signal", f"unknown signal {ref!r}")
        for key, ref in ((k, getattr(s, k)) for k in ("after", "before", "not_after")):
            if ref and ref[2] and ref[0] in signals and signals[ref[0]].table:
                theirs = set(TABLES[signals[ref[0]].table].split())
                for c in ref[2]:
                    if c not in theirs:
                        raise _fail(
                            path,
                            f"signals.{s.name}.{key}.columns.{c}",
                            f"unknown column of signal {ref[0]!r}'s table",
                        )
        if s.same and s.same[0] in signals and signals[s.same[0]].table:
            theirs = set(TABLES[signals[s.same[0]].table].split())
            for mine, its in s.same[1].items():
                if its not in theirs:
                    raise _fail(
                        path,
                        f"signals.{s.name}.same.columns.{mine}",
                        f"unknown column {its!r} of signal {s.same[0]!r}'s table",
                    )
    for start in signals:
        seen, todo = set(), [start]
        while todo:
            for _, ref in signals[todo.pop()].uses():
                if ref == start:
                    raise _fail(path, f"signals.{start}", "signals follow each other in a cycle")
                if ref not in seen:
                    seen.add(ref)
                    todo.append(ref)


def load_rule(path: Path) -> Rule:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        try:
            data = yaml.load(text, Loader=_YAML_LOADER)
        except yaml.YAMLError:  # PyYAML's own report of the mistake
            data = yaml.safe_load(text)
    except OSError as exc:
        raise RuleError(f"{name}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:  # one line: where and what, not PyYAML's multi-line report
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "yaml"
        raise RuleError(
            f"{name}: {where}: not valid YAML: {getattr(exc, 'problem', None) or exc}"
        ) from None
    if not isinstance(data, dict):
        raise RuleError(f"{name}: a rule file must hold one mapping")
    unknown = set(data) - RULE_KEYS
    if unknown:
        raise _fail(
            name, sorted(unknown)[0], f"unknown key (allowed: {', '.join(sorted(RULE_KEYS))})"
        )
    for key in ("id", "title", "severity", "signals", "verdicts"):
        if key not in data:
            raise _fail(name, key, "missing")
    if data["id"] != path.stem:
        raise _fail(name, "id", f"must equal the file name {path.stem!r}")
    if data["severity"] not in SEVERITIES:
        raise _fail(name, "severity", f"must be one of {SEVERITIES}")
    signals = {n: _signal(name, n, s) for n, s in (data["signals"] or {}).items()}
    verdicts = []
    for i, v in enumerate(data["verdicts"] or []):
        where = f"verdicts[{i}]"
        if not isinstance(v, dict):
            raise _fail(name, where, f"must be a mapping with keys {sorted(VERDICT_KEYS)}")
        if set(v) - VERDICT_KEYS:
            raise _fail(
                name,
                f"{where}.{sorted(set(v) - VERDICT_KEYS)[0]}",
                f"unknown key (allowed: {', '.join(sorted(VERDICT_KEYS))})",
            )
        if v.get("confidence") not in FOUND:
            raise _fail(name, f"{where}.confidence", f"must be one of {list(FOUND)}")
        for ref in list(v.get("all", [])) + list(v.get("any", [])):
            if ref not in signals:
                raise _fail(name, where, f"names unknown signal {ref!r}")
        if v.get("severity", data["severity"]) not in SEVERITIES:
            raise _fail(name, f"{where}.severity", f"must be one of {SEVERITIES}")
        if not v.get("all") and not v.get("any"):
            raise _fail(name, where, "needs 'all' or 'any' signals")
        for ref, column in FIELD_REF.findall(str(v.get("summary", ""))):
            table = signals[ref].table if ref in signals else None
            if ref not in signals or (table and column not in TABLES[table].split()):
                raise _fail(name, f"{where}.summary", f"{{{ref}.{column}}} names no signal column")
        verdicts.append(
            Verdict(
                Confidence(v["confidence"]),
                list(v.get("all", [])),
                list(v.get("any", [])),
                str(v.get("summary", data["title"])),
                Severity(v["severity"]) if v.get("severity") else None,
            )
        )
    _check_references(name, signals)
    ver = data.get("versions") or {}
    if not isinstance(ver, dict) or set(ver) - {"affected", "fixed_in", "unknown"}:
        raise _fail(name, "versions", "must be a mapping with keys affected, fixed_in, unknown")
    for i, ref in enumerate(data.get("references") or []):
        if not isinstance(ref, dict) or not str(ref.get("url", "")).startswith("http"):
            raise _fail(name, f"references[{i}]", "must be {title: TEXT, url: https://...}")
    affected = ver.get("affected", [])
    affected = [affected] if isinstance(affected, str) else list(affected)
    for spec in affected:
        problem = versions.check_range(spec)
        if problem:
            raise _fail(name, "versions.affected", problem)
    unknown_cap = ver.get("unknown", "likely")
    if unknown_cap not in FOUND:
        raise _fail(name, "versions.unknown", f"must be one of {list(FOUND)}")
    not_aff = []
    for i, spec in enumerate(data.get("not_affected_if") or []):
        spec = dict(spec)
        reason = str(spec.pop("reason", "a condition that excludes this bug holds"))
        sig = _signal(name, f"not_affected_if[{i}]", spec)
        for key, ref in sig.uses():
            if ref not in signals:
                raise _fail(name, f"not_affected_if[{i}].{key}.signal", f"unknown signal {ref!r}")
        not_aff.append((sig, reason))
    return Rule(
        id=data["id"],
        title=data["title"],
        severity=Severity(data["severity"]),
        description=str(data.get("description", "")).strip(),
        remedy=str(data.get("remedy", "")).strip(),
        path=name,
        references=list(data.get("references") or []),
        affected=affected,
        fixed_in=str(ver.get("fixed_in", "")),
        unknown_version=Confidence(unknown_cap),
        not_affected_if=not_aff,
        signals=signals,
        verdicts=verdicts,
    )


def rules_dir() -> Path:
    """The rule catalogue shipped with the package (rules/ of a checkout)."""
    return data_dir("rules")


def load_rules(directory: Path | None = None) -> list[Rule]:
    """Every ``*.yaml`` rule, ordered so that a rule comes after the rules it uses. No catalogue
    (a missing or empty directory) is a RuleError: without rules every input would look clean."""
    directory = Path(directory or rules_dir())
    if not directory.is_dir():
        raise RuleError(f"{directory}: no such rules directory")
    rules = {r.id: r for r in (load_rule(p) for p in sorted(directory.glob("*.yaml")))}
    if not rules:
        raise RuleError(f"{directory}: no rules (*.yaml) in this directory")
    for r in rules.values():
        for dep in r.depends_on():
            if dep not in rules:
                raise _fail(r.path, "signals", f"uses unknown rule {dep!r}")
    ordered: list[Rule] = []
    visiting: set[str] = set()

    def visit(rule: Rule) -> None:
        if any(r.id == rule.id for r in ordered):
            return
        if rule.id in visiting:
            raise _fail(rule.path, "signals", "rules use each other in a cycle")
        visiting.add(rule.id)
        for dep in sorted(rule.depends_on()):
            visit(rules[dep])
        ordered.append(rule)

    for rule in rules.values():
        visit(rule)
    return ordered


def catalogue_table(rules: list[Rule]) -> str:
    """The catalogue as Markdown: id, severity, affected versions, fixed in, upstream references."""

    def short(ref: dict) -> str:
        return str(ref.get("title", ref.get("url", ""))).split(":", 1)[0]

    lines = ["| id | severity | affected | fixed in | upstream |", "|---|---|---|---|---|"]
    for r in sorted(rules, key=lambda r: r.id):
        lines.append(
            f"| {r.id} | {r.severity} | {'; '.join(r.affected) or 'all'} | {r.fixed_in or '-'} | "
            f"{', '.join(short(ref) for ref in r.references)} |"
        )
    return "\n".join(lines)
