"""The engine release the goroutine dumps were taken from, when nothing else says it.

Each dump is matched on its own (:func:`forensics.goroutines.fingerprint.match`); dumps whose
candidate releases overlap are taken as dumps of one daemon and matched together (more frames,
a narrower range). Dumps that fit no common release are named in :attr:`DumpVersion.notes`
(dumps of different daemons in one ticket); the group of the latest dump is the answer.

The answer is a range of releases: a version-gated rule is decided by it only when every
candidate is inside, or every one outside, the affected range (:func:`versions.range_in_any`).
A weak match (too many frames fit no candidate) is reported but not used as the engine version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timezone
from urllib.parse import quote

from forensics.goroutines import fingerprint
from forensics.model import Dump
from forensics.parse import versions
from forensics.parse.stacks import frame_sites

MOBY_BLOB = "https://github.com/moby/moby/blob/"


@dataclass(frozen=True)
class DumpVersion:
    """What the dumps' daemon frames say of the engine release."""

    display: str  # "27.4.1", "26.1.4–26.1.5", "" when nothing matched
    candidates: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    ratio: float = 0.0
    frames: int = 0  # distinct daemon frames weighed
    fitting: int = 0
    sources: tuple[str, ...] = ()  # the inputs whose dumps gave the answer
    kinds: tuple[str, ...] = ()  # their dump kinds (stacks, sigquit, pprof-debug1, panic)
    reason: str = ""  # the match's: why it is empty or weak
    notes: tuple[str, ...] = ()  # dumps that fit other releases than the answer's
    table: str = ""  # what the release table was built from
    per_dump: dict[int, str] = field(
        default_factory=dict
    )  # dump index -> the tag its frames link to
    matches: dict[int, fingerprint.Match] = field(
        default_factory=dict, repr=False
    )  # dump index -> its own match

    @property
    def usable(self) -> bool:
        """Whether the match may stand for the engine version (not empty, not weak)."""
        return bool(self.candidates) and self.ratio >= fingerprint.NEARLY_ALL

    @property
    def source(self) -> str:
        """Where the version came from, as the report names it: ``goroutine dump <file>``."""
        what = "panic trace" if set(self.kinds) == {"panic"} else "goroutine dump"
        return " ".join(
            p
            for p in (f"{what}{'s' if len(self.sources) > 1 else ''}", ", ".join(self.sources))
            if p
        )

    @property
    def link_tag(self) -> str | None:
        """The tag source links point at: the only candidate, else the newest one."""
        return self.tags[-1] if self.tags else None

    @property
    def link_note(self) -> str:
        if len(self.tags) > 1:
            return (
                f"source links point at {self.tags[-1]}, the newest of the releases {self.display}"
            )
        return f"source links point at {self.tags[0]}" if self.tags else ""

    def contains(self, version: str | None) -> bool | None:
        """Whether ``version`` (``20.10.24+dfsg1``, ``v27.4.1``) is a candidate; None if unparsable."""
        have = versions.parse(version)
        if have is None or not self.candidates:
            return None
        return any(versions.parse(c) == have for c in self.candidates)

    def to_dict(self) -> dict:
        return {
            "display": self.display,
            "candidates": list(self.candidates),
            "tags": list(self.tags),
            "ratio": self.ratio,
            "frames": self.frames,
            "fitting": self.fitting,
            "used": self.usable,
            "source": self.source,
            "sources": list(self.sources),
            "reason": self.reason,
            "notes": list(self.notes),
            "link_tag": self.link_tag,
            "link_note": self.link_note,
            "table": self.table,
        }


def _frames(dumps: list[Dump]):
    return [site for d in dumps for site in frame_sites(d.goroutines) if site[1] and site[2]]


def infer(dumps: list[Dump]) -> DumpVersion | None:
    """The release range of the latest dump's daemon (see the module text); None without dumps."""
    if not dumps:
        return None

    def when(
        i: int,
    ) -> float:  # a zone-less dump time (a file name's) is UTC, as parse.date_dumps reads it
        t = dumps[i].time
        return 0.0 if t is None else (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()

    order = sorted(range(len(dumps)), key=lambda i: (dumps[i].time is not None, when(i), i))
    matches = {i: fingerprint.match(_frames([dumps[i]])) for i in order}
    per_dump = {i: m.tags[-1] for i, m in matches.items() if m.tags}
    matched = [i for i in order if matches[i]]
    if not matched:
        last = matches[order[-1]]
        return DumpVersion(
            "",
            reason=last.reason or "no release fits",
            table=last.table,
            per_dump=per_dump,
            matches=matches,
        )
    group, common = [], None
    for i in reversed(matched):  # the latest dump first; others join when they share a release
        have = set(matches[i].candidates)
        if common is None or common & have:
            group.append(i)
            common = have if common is None else common & have
    group.reverse()
    m = (
        fingerprint.match(_frames([dumps[i] for i in group]))
        if len(group) > 1
        else matches[group[0]]
    )
    notes = tuple(
        f"the goroutine dump in {dumps[i].source} (line {dumps[i].line}) fits releases "
        f"{matches[i].display}, not {m.display}: dumps of different daemons?"
        for i in matched
        if i not in group
    )
    per_dump.update(
        {i: m.tags[-1] for i in group if m.tags}
    )  # one daemon's dumps link to one release
    sources = tuple(dict.fromkeys(dumps[i].source for i in group))
    kinds = tuple(dict.fromkeys(dumps[i].kind for i in group))
    return DumpVersion(
        m.display,
        m.candidates,
        m.tags,
        m.ratio,
        m.frames,
        m.fitting,
        sources,
        kinds,
        m.reason,
        notes,
        m.table,
        per_dump,
        matches,
    )


def source_url(tag: str | None, func: str, file: str | None, line: int | None) -> str | None:
    """``https://github.com/moby/moby/blob/<tag>/<path>#L<line>`` for a daemon frame, else None."""
    if not tag or not file or not line:
        return None
    path = fingerprint.source_path(func, file)
    if path is None:
        return None
    return f"{MOBY_BLOB}{quote(tag, safe='')}/{quote(path, safe='/')}#L{int(line)}"


def disagreement(found: DumpVersion | None, version: str | None, where: str) -> str | None:
    """The note when ``version`` (from ``where``: a log, ``docker version``, the option) is not
    among the releases the dumps fit."""
    if found is None or not found.usable or not version or found.contains(version) is not False:
        return None
    return (
        f"the engine version {version} ({where}) is not among the releases the {found.source} "
        f"fits ({found.display}): "
        + (
            "check the option"
            if where == "--engine-version"
            else "dumps and logs of different daemons mixed in one ticket?"
        )
    )
