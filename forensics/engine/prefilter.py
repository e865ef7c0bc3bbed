"""What an analysis must see in every line: the Skim built from the rules and the evidence tables.

Each ``events`` signal of a rule contributes the literal text its ``msg`` (else ``fields``)
pattern cannot match without; the evidence tables and the parsers add the text they read
(:data:`forensics.evidence.NEEDLES`, :data:`forensics.parse.NEEDLES`). A signal whose
patterns give no such text, and is not limited to warnings and errors (which are never
skimmed), turns skimming off for the run: correctness before speed.
"""

from __future__ import annotations

from forensics import evidence, parse
from forensics.engine import literals
from forensics.engine.ruleset import Rule, Signal
from forensics.ingest.skim import Skim

_ROUTINE = {"debug", "info"}  # the only levels a skimmed line can have
# the lines after a create request: the one naming the new container's id comes within three in the
# captures (27.4.1: form data, mounted container=<id>; 20.10: form data, mounted, /containers/<id>/wait)
FOLLOW = (("/containers/create?", 4),)


def _signal_needles(sig: Signal) -> tuple[set[str], bool] | None:
    """(needles, ignore case) for one events signal; empty when it only reads unskimmed lines."""
    for column in ("msg", "fields"):
        for cond in sig.where:
            if cond.column != column:
                continue
            if cond.op == "regex":
                found = literals.required(str(cond.value))
            elif cond.op in ("eq", "in"):
                values = cond.value if isinstance(cond.value, list) else [cond.value]
                found = {literals.safe(str(v)) for v in values}, False
                found = found if all(len(v) >= 3 for v in found[0]) else None
            else:
                continue
            if found is not None:
                return found
    for cond in sig.where:
        if cond.column == "level" and cond.op in ("eq", "in"):
            values = cond.value if isinstance(cond.value, list) else [cond.value]
            if not {str(v) for v in values} & _ROUTINE:
                return set(), False
    return None


def skim_for(rules: list[Rule]) -> Skim | None:
    """The Skim that keeps every line these rules and the evidence tables could use, or None."""
    exact = set(evidence.NEEDLES) | set(parse.NEEDLES)
    caseless: set[str] = set()
    for rule in rules:
        for sig in rule.signals.values():
            if sig.table != "events":
                continue
            found = _signal_needles(sig)
            if found is None:
                return None
            (caseless if found[1] else exact).update(found[0])
    return Skim(tuple(sorted(exact)), tuple(sorted(caseless)), follow=FOLLOW)


def every_line_skim() -> Skim:
    """--every-line: every line given but repeated debug and info messages, which the parser only counts
    (the lines before a panic or a dump are given too, as the parser keeps them)."""
    return Skim(tuple(sorted(parse.NEEDLES)), every=True)
