"""What the rule engine concludes, in a shape every report format reads."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime


class _Ordered(str, enum.Enum):
    """A word of a fixed vocabulary that compares by its place in it (not alphabetically).

    It is the plain string everywhere else (``Severity.HIGH == "high"``, JSON writes ``"high"``);
    compared with a plain string, that string is read as a member first."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def rank(self) -> int:
        return list(type(self)).index(self)

    def _other(self, other) -> int:
        return type(self)(other).rank

    def __lt__(self, other) -> bool:
        return self.rank < self._other(other)

    def __le__(self, other) -> bool:
        return self.rank <= self._other(other)

    def __gt__(self, other) -> bool:
        return self.rank > self._other(other)

    def __ge__(self, other) -> bool:
        return self.rank >= self._other(other)

    __hash__ = str.__hash__
    __eq__ = str.__eq__
    __ne__ = str.__ne__


class Severity(_Ordered):
    """Least severe first."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Confidence(_Ordered):
    """Weakest first: a rule's verdict is found when it is possible or stronger."""

    NOT_AFFECTED = "not-affected"
    INCONCLUSIVE = "inconclusive"
    POSSIBLE = "possible"
    LIKELY = "likely"
    CONFIRMED = "confirmed"

    @property
    def found(self) -> bool:
        return self >= Confidence.POSSIBLE


SEVERITIES = [s.value for s in Severity]
# Fixed vocabulary for automation: the first three are "found", the last two are not.
CONFIDENCES = [c.value for c in reversed(Confidence)]
FOUND = tuple(c for c in CONFIDENCES if Confidence(c).found)
# Rule outcomes, one per rule evaluated.  "inconclusive": some of its signs were seen, the evidence that
# would decide is missing; "not-checked": none of its signs was seen and the kind of input it reads (a
# goroutine dump, a log, debug lines) was not given.
OUTCOMES = ["matched", "not-matched", "not-applicable", "inconclusive", "not-checked"]


@dataclass(frozen=True)
class Container:
    """A container a finding names: its name and id as far as the evidence tells them."""

    name: str | None = None
    id: str | None = None

    @property
    def label(self) -> str:
        """How reports write it: ``name (short id)``, or whichever of the two is known."""
        if self.name and self.id:
            return f"{self.name} ({self.id[:12]})"
        return self.name or self.id or "?"


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
    severity: Severity
    confidence: Confidence
    summary: str
    explanation: str
    remedy: str
    references: list[dict] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)
    evidence: list[Citation] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # what would raise the confidence
    engine_version: str | None = None
    first_seen: datetime | None = None  # earliest and latest time of the evidence it rests on
    last_seen: datetime | None = None
    restarted_after: datetime | None = (
        None  # the first daemon start after last_seen: it may have cleared it
    )

    @property
    def found(self) -> bool:
        return Confidence(self.confidence).found

    def to_dict(self) -> dict:
        out = asdict(self)
        out["severity"], out["confidence"] = str(self.severity), str(self.confidence)
        out["containers"] = [c.label for c in self.containers]
        out["container_refs"] = [{"name": c.name, "id": c.id} for c in self.containers]
        for cite in out["evidence"]:
            cite["time"] = cite["time"].isoformat() if cite["time"] else None
        for key in ("first_seen", "last_seen", "restarted_after"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


@dataclass
class Outcome:
    rule: str
    status: str  # one of OUTCOMES
    reason: str
    confidence: Confidence | None = None
    needs: list[str] = field(
        default_factory=list
    )  # not-checked: the kinds of input missing (engine WHAT_IS_MISSING keys)
