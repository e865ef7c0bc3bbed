"""When a finding's evidence was seen, and whether the daemon restarted after it.

``first_seen`` and ``last_seen`` are the earliest and latest times among the rows a finding
rests on (all of them, not only the cited ones). A daemon start ("Starting up") after
``last_seen`` on the same host (in the same files, when no host is known) means the daemon the
evidence is about is gone: a leaked lock or a wedged container may have been cleared by that
restart, and an old crash is not today's.
"""

from __future__ import annotations

import pandas as pd

from forensics.evidence import Evidence, daemon_starts
from forensics.findings import Finding


def _stamp(value):
    return None if value is None or pd.isna(value) else value.to_pydatetime()


def annotate(finding: Finding, rows: pd.DataFrame, ev: Evidence) -> None:
    times = [c.time for c in finding.evidence if c.time is not None]
    if "time" in rows and not rows.empty:
        column = pd.to_datetime(rows["time"], utc=True, errors="coerce").dropna()
        times += [t.to_pydatetime() for t in (column.min(), column.max()) if not pd.isna(t)]
    if not times:
        return
    finding.first_seen, finding.last_seen = min(times), max(times)
    events = ev["events"]
    hosts = set(rows["host"].dropna()) if "host" in rows else set()
    files = {c.source for c in finding.evidence} | (
        set(rows["source"].dropna()) if "source" in rows else set()
    )
    starts = daemon_starts(events, hosts, files)
    later = starts[starts["time"] > pd.Timestamp(finding.last_seen)]
    if later.empty:
        return
    finding.restarted_after = _stamp(later["time"].min())
    when = finding.restarted_after.strftime("%Y-%m-%d %H:%M:%S UTC")
    finding.summary += (
        f" The daemon restarted after the last evidence of this (at {when}): "
        "the restart may have cleared it."
    )
