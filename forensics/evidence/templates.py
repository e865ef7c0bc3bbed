"""Warning, error and fatal log lines grouped into templates (drain3), variable parts masked.

drain3 masks what is known to vary (ids, digests, addresses, numbers, paths, durations) with
its masking instructions, then clusters the rest: tokens that differ between lines of one
template become ``<*>``. Each template keeps its level, count, first and last time and one
example line. A logrus ``error=`` field is part of the text: it is what tells failures apart.
"""

from __future__ import annotations

import pandas as pd
from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

LEVELS = ("warning", "error", "fatal", "panic")
MAX_TEMPLATES = 50
MASKS = [  # most specific first: a digest before a hex id, an address before a number
    (
        r"(?<=://)[^\s/@\"'\\]+@",
        "USER@",
    ),  # URL credentials (user:password@) vary, and must not outlive --redact
    (r"sha256:[0-9a-f]{12,64}", "DIGEST"),
    (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "UUID"),
    (r"\b[0-9a-f]{12,64}\b", "ID"),
    (r"\b0x[0-9a-fA-F]+\b", "HEX"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9a-fA-F:]+\](?::\d+)?", "ADDR"),
    (r"(?<![\w.])/[^\s\"':,;)]+", "PATH"),
    (r"\b\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)(?:\d+(?:\.\d+)?(?:ms|s|m))*\b", "DURATION"),
    (r"(?<![\w.])[-+]?\d+(?:\.\d+)?\b", "NUM"),
]


def _miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in MASKS]
    config.drain_sim_th = 0.5
    config.profiling_enabled = False
    return TemplateMiner(config=config)


def _text(msg: str, fields: str) -> str:
    text = msg.split("\n", 1)[0][:400]
    if fields and '"error"' in fields:
        import json

        error = json.loads(fields).get("error")
        if error:
            text += f" error={str(error).splitlines()[0][:300]}"
    return text


def log_templates(events: pd.DataFrame, limit: int = MAX_TEMPLATES) -> list[dict]:
    """Templates of the warning, error and fatal lines: most frequent first, then most recent.

    Masking costs most (about 0.1 ms a line): a text is masked once however often it repeats,
    and drain sees each masked text once (a line keeps the cluster it was first put in)."""
    rows = events[events["level"].isin(LEVELS)]
    if rows.empty:
        return []
    miner = _miner()
    masked: dict[str, str] = {}
    cluster_of: dict[str, int] = {}
    found: dict[int, dict] = {}
    for level, msg, fields, time, source, line in zip(
        rows["level"], rows["msg"], rows["fields"], rows["time"], rows["source"], rows["line"]
    ):
        text = _text(str(msg), fields or "")
        if text not in masked:
            masked[text] = miner.masker.mask(text)
        shape = masked[text]
        if shape not in cluster_of:
            cluster_of[shape] = miner.drain.add_log_message(shape)[0].cluster_id
        key = cluster_of[shape]
        t = None if pd.isna(time) else time
        entry = found.get(key)
        if entry is None:
            found[key] = {
                "level": level,
                "count": 1,
                "first": t,
                "last": t,
                "example": f"{source}:{int(line)}",
                "levels": {level},
            }
            continue
        entry["count"] += 1
        entry["levels"].add(level)
        if t is not None:
            entry["first"] = t if entry["first"] is None else min(entry["first"], t)
            entry["last"] = t if entry["last"] is None else max(entry["last"], t)
    out = []
    for cluster in miner.drain.clusters:
        entry = found.get(cluster.cluster_id)
        if entry is None:
            continue
        level = max(
            entry.pop("levels"), key=LEVELS.index
        )  # a template logged at two levels: the worse
        out.append(
            {
                "template": cluster.get_template(),
                "level": level,
                "count": entry["count"],
                "first": entry["first"].isoformat() if entry["first"] is not None else None,
                "last": entry["last"].isoformat() if entry["last"] is not None else None,
                "example": entry["example"],
            }
        )
    out.sort(key=lambda t: (-t["count"], _neg(t["last"])))
    return out[:limit]


def cached(ev) -> list[dict]:
    """log_templates of an Evidence, computed once (the report and the fleet row both ask)."""
    if "_log_templates" not in ev.__dict__:
        ev.__dict__["_log_templates"] = log_templates(ev["events"])
    return ev.__dict__["_log_templates"]


def _neg(stamp: str | None) -> tuple:
    """Most recent first among equal counts (a template without a time last)."""
    if stamp is None:
        return (1, 0.0)
    return (0, -pd.Timestamp(stamp).timestamp())
