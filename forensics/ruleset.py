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

from . import versions
from .evidence import TABLES
from .findings import CONFIDENCES, SEVERITIES

PATTERN_TIMEOUT = 0.5  # seconds a rule pattern may run on one value
_DURATION = re.compile(r"(\d+)\s*(s|m|h|d)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RULE_KEYS = {"id", "title", "severity", "description", "references", "versions", "not_affected_if",
             "signals", "verdicts", "remedy", "summary", "tags"}
SIGNAL_KEYS = {"table", "rule", "where", "min_rows", "after", "describe", "cite"}
VERDICT_KEYS = {"confidence", "all", "any", "summary", "severity"}
OPS = {"regex", "not", "eq", "in", "min", "max"}


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
    after: tuple[str, float | None] | None = None  # (signal, seconds) rows must follow that signal
    describe: str = ""
    cite: bool = True  # list its rows as evidence


@dataclass
class Verdict:
    confidence: str
    all: list[str]
    any: list[str]
    summary: str
    severity: str | None = None  # overrides the rule's severity for this verdict


@dataclass
class Rule:
    id: str
    title: str
    severity: str
    description: str
    remedy: str
    path: str
    references: list[dict] = field(default_factory=list)
    affected: list[str] = field(default_factory=list)
    fixed_in: str = ""
    unknown_version: str = "likely"
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
            raise _fail(path, f"{where}.{column}", f"unknown column of table {table!r} "
                        f"(columns: {', '.join(sorted(columns))})")
        if not isinstance(cond, dict):
            cond = {"regex": cond} if isinstance(cond, str) else {"eq": cond}
        for op, value in cond.items():
            if op not in OPS:
                raise _fail(path, f"{where}.{column}.{op}", f"unknown operator (use one of {sorted(OPS)})")
            pattern = None
            if op in ("regex", "not"):
                try:
                    pattern = regex.compile(str(value))
                except regex.error as exc:
                    raise _fail(path, f"{where}.{column}.{op}", f"bad regular expression: {exc}") from None
            out.append(Condition(column, op, value, pattern))
    return out


def _signal(path: str, name: str, spec) -> Signal:
    where = f"signals.{name}"
    if not isinstance(spec, dict):
        raise _fail(path, where, "must be a mapping")
    unknown = set(spec) - SIGNAL_KEYS
    if unknown:
        raise _fail(path, f"{where}.{sorted(unknown)[0]}", f"unknown key (allowed: {', '.join(sorted(SIGNAL_KEYS))})")
    table, rule = spec.get("table"), spec.get("rule")
    if bool(table) == bool(rule):
        raise _fail(path, where, "needs exactly one of 'table' or 'rule'")
    if table and table not in TABLES:
        raise _fail(path, f"{where}.table", f"unknown evidence table {table!r} (tables: {', '.join(TABLES)})")
    after = None
    if "after" in spec:
        a = spec["after"]
        if not isinstance(a, dict) or "signal" not in a:
            raise _fail(path, f"{where}.after", "needs {signal: NAME, within: DURATION}")
        try:
            after = (a["signal"], seconds(a["within"]) if "within" in a else None)
        except ValueError as exc:
            raise _fail(path, f"{where}.after.within", str(exc)) from None
    return Signal(name, table, rule, _conditions(path, f"{where}.where", table, spec.get("where")),
                  int(spec.get("min_rows", 1)), after, str(spec.get("describe", name)), bool(spec.get("cite", True)))


def load_rule(path: Path) -> Rule:
    name = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleError(f"{name}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise RuleError(f"{name}: a rule file must hold one mapping")
    unknown = set(data) - RULE_KEYS
    if unknown:
        raise _fail(name, sorted(unknown)[0], f"unknown key (allowed: {', '.join(sorted(RULE_KEYS))})")
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
        if not isinstance(v, dict) or set(v) - VERDICT_KEYS:
            raise _fail(name, where, f"must be a mapping with keys {sorted(VERDICT_KEYS)}")
        if v.get("confidence") not in CONFIDENCES[:3]:
            raise _fail(name, f"{where}.confidence", f"must be one of {CONFIDENCES[:3]}")
        for ref in list(v.get("all", [])) + list(v.get("any", [])):
            if ref not in signals:
                raise _fail(name, where, f"names unknown signal {ref!r}")
        if v.get("severity", data["severity"]) not in SEVERITIES:
            raise _fail(name, f"{where}.severity", f"must be one of {SEVERITIES}")
        if not v.get("all") and not v.get("any"):
            raise _fail(name, where, "needs 'all' or 'any' signals")
        verdicts.append(Verdict(v["confidence"], list(v.get("all", [])), list(v.get("any", [])),
                                str(v.get("summary", data["title"])), v.get("severity")))
    for s in signals.values():
        if s.after and s.after[0] not in signals:
            raise _fail(name, f"signals.{s.name}.after.signal", f"unknown signal {s.after[0]!r}")
    ver = data.get("versions") or {}
    affected = ver.get("affected", [])
    affected = [affected] if isinstance(affected, str) else list(affected)
    for spec in affected:
        problem = versions.check_range(spec)
        if problem:
            raise _fail(name, "versions.affected", problem)
    unknown_cap = ver.get("unknown", "likely")
    if unknown_cap not in CONFIDENCES[:3]:
        raise _fail(name, "versions.unknown", f"must be one of {CONFIDENCES[:3]}")
    not_aff = []
    for i, spec in enumerate(data.get("not_affected_if") or []):
        spec = dict(spec)
        reason = str(spec.pop("reason", "a condition that excludes this bug holds"))
        not_aff.append((_signal(name, f"not_affected_if[{i}]", spec), reason))
    return Rule(id=data["id"], title=data["title"], severity=data["severity"],
                description=str(data.get("description", "")).strip(), remedy=str(data.get("remedy", "")).strip(),
                path=name, references=list(data.get("references") or []), affected=affected,
                fixed_in=str(ver.get("fixed_in", "")), unknown_version=unknown_cap,
                not_affected_if=not_aff, signals=signals, verdicts=verdicts)


def rules_dir() -> Path:
    """rules/ of a checkout, or the copy installed under <prefix>/share/forensics."""
    import sys
    here = Path(__file__).resolve().parent.parent / "rules"
    return here if here.is_dir() else Path(sys.prefix) / "share" / "forensics" / "rules"


def load_rules(directory: Path | None = None) -> list[Rule]:
    """Every ``*.yaml`` rule, ordered so that a rule comes after the rules it uses."""
    directory = directory or rules_dir()
    rules = {r.id: r for r in (load_rule(p) for p in sorted(directory.glob("*.yaml")))}
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
