"""What the rule engine concludes, in a shape every report format reads."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

SEVERITIES = ["info", "low", "medium", "high", "critical"]
# Fixed vocabulary for automation: the first three are "found", the last two are not.
CONFIDENCES = ["confirmed", "likely", "possible", "inconclusive", "not-affected"]
FOUND = ("confirmed", "likely", "possible")
# Rule outcomes, one per rule evaluated.  "inconclusive": some of its signs were seen, the evidence that
# would decide is missing; "not-checked": none of its signs was seen and the kind of input it reads (a
# goroutine dump, a log, debug lines) was not given.
OUTCOMES = ["matched", "not-matched", "not-applicable", "inconclusive", "not-checked"]


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass
class Citation:
    """One piece of evidence: where it is and what it says."""

    source: str
    line: int
    excerpt: str
    signal: str  # the rule signal it supports
    time: datetime | None = None


@dataclass
class Finding:
    id: str
    title: str
    severity: str
    confidence: str
    summary: str
    explanation: str
    remedy: str
    references: list[dict] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    evidence: list[Citation] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # what would raise the confidence
    engine_version: str | None = None

    @property
    def found(self) -> bool:
        return self.confidence in FOUND

    def to_dict(self) -> dict:
        out = asdict(self)
        for cite in out["evidence"]:
            cite["time"] = cite["time"].isoformat() if cite["time"] else None
        return out


@dataclass
class Outcome:
    rule: str
    status: str  # one of OUTCOMES
    reason: str
    confidence: str | None = None
    needs: list[str] = field(default_factory=list)  # not-checked: the kinds of input missing (engine WHAT_IS_MISSING keys)
