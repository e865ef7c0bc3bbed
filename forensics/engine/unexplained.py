"""Panics and fatal errors no catalogue rule explains: one finding per distinct crash.

Runs after the rules. A rule explains a panic when one of its signals on the ``panics``
table picks it by what it says (a condition on, or a join by, its ``message``, ``stack``,
``top`` or ``site``) and the
rule produced a finding: that panic is the rule's. A signal that takes every fatal panic
(the crash loop's "what ended a daemon") does not explain it. Every other panic row is
grouped by program, message (numbers, addresses masked) and first frame of the program's
own code, and reported with its count, first and last time and daemon lifetimes.
"""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import pandas as pd

from forensics.evidence import Evidence, daemon_starts
from forensics.findings import Citation, Finding

RULE_ID = "unexplained-panic"
EXPLAINING = {
    "message",
    "stack",
    "top",
    "site",
}  # panics columns that recognise a panic by what it says
_MASK = re.compile(r"0x[0-9a-fA-F]+|\d+(?:\.\d+)*(?::\d+)?|@")
_SERVING = re.compile(r"^http2?: panic serving [^:]*(?::\d+)?: ")
MAX_CITATIONS = 12

RECOVERED_NOTE = (
    "net/http recovered this panic and the daemon kept running, but whatever the handler held when it "
    "panicked stays held: a container or daemon lock taken before the panic is never released, and later "
    "calls on the same object hang. A goroutine dump (`kill -USR1 <dockerd pid>`, or "
    "`curl --unix-socket /var/run/docker.sock http://./debug/pprof/goroutine?debug=2` with debug enabled) "
    "would tell: goroutines waiting on a lock no goroutine holds."
)
FATAL_NOTE = (
    "The process died with it: a daemon restarted by its service manager stops the containers "
    "that do not survive restarts (without live-restore)."
)


def explained_rows(results: dict, rules) -> set[tuple[str, int]]:
    """(source, line) of the panic rows a rule with a finding picked by message, stack or frame."""
    signals = {r.id: r.signals for r in rules}
    out = set()
    for rule_id, (_, finding, rows) in results.items():
        if finding is None or rows.empty or "table" not in rows or "signal" not in rows:
            continue
        picked = rows[rows["table"] == "panics"]
        for _, row in picked.iterrows():
            sig = _signal(signals, rule_id, row["signal"])
            if sig is not None and _recognises(sig):
                out.add((str(row["source"]), int(row["line"])))
    return out


def _recognises(sig) -> bool:
    """A signal picks a panic by what it says: a condition on, or a join by, its message or stack."""
    joined = set(sig.same[1]) if sig.same else set()
    return bool(({c.column for c in sig.where} | joined) & EXPLAINING)


def _signal(signals: dict, rule_id: str, name: str):
    """The signal named in a cited row: the rule's own, or that of a rule it takes a finding from."""
    for sigs in [signals.get(rule_id, {})] + [s for s in signals.values()]:
        if name in sigs and sigs[name].table == "panics":
            return sigs[name]
    return None


def core_message(message: str) -> str:
    """The error of a panic without the std-log "http: panic serving ADDR: " prefix."""
    return _SERVING.sub("", message)


def search_query(frame: str, message: str) -> str:
    """What to type into an issue tracker: the function's short name and the panic's words."""
    names = [n.strip("(*)") for n in frame.rsplit("/", 1)[-1].split(".")[1:]] if frame else []
    names = [n for n in names if n and not re.fullmatch(r"func\d+|\d+|gowrap\d+|dwrap.*", n)]
    short = ".".join(names[-2:])  # receiver type and method, or the function
    words = _MASK.sub(" ", core_message(message)).replace("panic:", "").replace("fatal error:", "")
    words = " ".join(
        w for w in words.replace("[", " ").replace("]", " ").split() if w not in ("with", "length")
    )
    return " ".join(p for p in (short, f'"{words}"' if words else "") if p)


def _when(t) -> str:
    return (
        t.strftime("%Y-%m-%d %H:%M:%S UTC") if t is not None and not pd.isna(t) else "time unknown"
    )


def unexplained_panics(
    ev: Evidence, explained: set[tuple[str, int]], engine_version: str | None
) -> list[Finding]:
    panics = ev["panics"]
    if panics.empty:
        return []
    rows = panics[
        [(str(s), int(n)) not in explained for s, n in zip(panics["source"], panics["line"])]
    ]
    if rows.empty:
        return []
    rows = rows.assign(
        program=rows["program"].replace({"other": "a Go program", "": "a Go program"}),
        recovered_only=rows["message"].str.contains("panic serving", regex=False),
        key=[_MASK.sub("#", core_message(m)) for m in rows["message"]],
    )
    findings = []
    for (program, _key, frame, served), group in rows.groupby(
        ["program", "key", "frame", "recovered_only"], sort=False, dropna=False
    ):
        starts = daemon_starts(ev["events"], set(group["host"].dropna()), set(group["source"]))
        findings.append(_finding(group, program, frame, bool(served), starts, engine_version))
    return findings


def _finding(
    group: pd.DataFrame,
    program: str,
    frame: str,
    recovered: bool,
    starts: pd.DataFrame,
    engine_version: str | None,
) -> Finding:
    first = group.iloc[0]
    message = core_message(str(first["message"]))
    times = group["time"].dropna()
    n = len(group)
    where = f"{frame} ({first['frame_at']})" if frame else "a frame outside the program's own code"
    what = f"{program} recovered a panic" if recovered else f"{program} crashed"
    what = what[:1].upper() + what[1:] if program == "a Go program" else what
    count = f"{n} times" if n > 1 else "once"
    span = (
        f"first {_when(times.min())}, last {_when(times.max())}"
        if n > 1 and len(times)
        else (f"at {_when(times.min())}" if len(times) else "time not in the log")
    )
    requests = [r for r in dict.fromkeys(group["request"].fillna("")) if r]
    serving = f"; serving {', '.join(requests[:3])}" if requests else ""
    summary = (
        f"{what}: {message} in {where}, {count} ({span}){serving}. No catalogue rule explains it."
    )
    lives = []
    if not starts.empty and len(times):
        for t0, t1, pid in zip(starts["time"], list(starts["time"][1:]) + [None], starts["pid"]):
            k = int(((times >= t0) & ((times < t1) if t1 is not None else True)).sum())
            if k:
                lives.append(
                    f"daemon started {_when(t0)}{f' (pid {int(pid)})' if not pd.isna(pid) else ''}: {k}"
                )
        before = int((times < starts["time"].iloc[0]).sum())
        if before:
            lives.insert(0, f"before the first daemon start in the log: {before}")
    query = search_query(frame, message)
    explanation = "\n\n".join(
        p
        for p in [
            (
                f"The log shows {'a recovered panic' if recovered else 'a fatal crash'} of {program} "
                f'that no rule of the catalogue recognises: "{message}", raised in {where}.'
            ),
            RECOVERED_NOTE if recovered else FATAL_NOTE,
            ("Per daemon lifetime: " + "; ".join(lives) + ".") if lives else "",
            f"Search upstream reports for: {query}",
        ]
        if p
    )
    cites = []
    for _, row in group.head(MAX_CITATIONS).iterrows():
        t = row["time"]
        cites.append(
            Citation(
                str(row["source"]),
                int(row["line"]),
                f"{row['message']} (at {row['site'] or row['frame'] or 'an unknown function'})"[
                    :500
                ],
                "panic",
                None if pd.isna(t) else t.to_pydatetime(),
            )
        )
    references = [
        {
            "title": f"Search moby/moby issues: {query}",
            "url": "https://github.com/moby/moby/issues?q=" + quote_plus(query),
        }
    ]
    containers = [c for c in dict.fromkeys(group["container"].dropna().astype(str)) if c]
    return Finding(
        RULE_ID,
        f"Unexplained {'recovered panic' if recovered else 'crash'} in {program}: {message}"[:200],
        "medium" if recovered else "high",
        "confirmed",
        summary,
        explanation,
        "Keep the full trace. Search the upstream tracker with the query below (function and message); "
        "upgrade to a release that fixes it, or report it with the trace and `docker version`.",
        references,
        containers,
        cites,
        [],
        engine_version,
    )
