"""Report sections read off the evidence tables: the environment and the goroutine buckets."""
from __future__ import annotations

import json
from urllib.parse import unquote

import pandas as pd
import regex

from forensics.engine.dumpversion import source_url

STACK_FRAMES = 12  # functions kept per bucket, from the top of the stack
BUCKETS = 60  # buckets kept per dump, the goroutines waiting on a lock and the largest first
SAMPLE_GIDS = 6

_HEX_ID = regex.compile(r"[0-9a-f]{12}|[0-9a-f]{64}")
_GO_PATH = regex.compile(r"/go-?(?P<v>1\.\d+(?:\.\d+)?)/src/(?:runtime|net|sync)/")
_IMAGE_QUERY = regex.compile(r"/images/create\?\S*?\b(?:fromImage|repo)=(?P<ref>[^&\s\"]+)")
_IMAGE_PATH = regex.compile(r"^Calling \w+ \S*/images/(?P<ref>(?!create|json|search|load|prune|get)[^?\s]+?)"
                            r"(?:/(?:json|history|push|tag|get))?(?:\?\S*)?$")
_IMAGE_JSON = regex.compile(r'"Image":"(?P<ref>[^"]{1,255})"')
_SPLIT = regex.compile(r"\s{2,}")


def _unique(values) -> list:
    return sorted({v for v in values if v is not None and not (isinstance(v, float) and pd.isna(v)) and v != ""})


def _go_versions(ev) -> list[dict]:
    """``docker version``'s Server Go version, else the Go release in the dumps' runtime paths."""
    out, server = [], None
    events = ev["events"]
    for row in events[events["msg"].str.contains("Server:|Go version:", regex=True)].itertuples():
        text = row.msg.strip()
        if text.startswith("Server:"):
            server = (row.source, row.line)
        elif server and row.source == server[0] and 0 < row.line - server[1] < 8:
            out.append({"version": text.split(":", 1)[1].strip(), "how": "docker version (Server)",
                        "source": row.source, "line": int(row.line)})
            server = None
    if not out:
        frames = ev["frames"]
        for file in frames["file"].dropna().unique():
            m = _GO_PATH.search(file)
            if m:
                row = frames[frames["file"] == file].iloc[0]
                out.append({"version": f"go{m['v']}", "how": "runtime source paths in a goroutine dump",
                            "source": row["source"], "line": int(row["line"])})
                break
    return out


def _images(ev) -> list[str]:
    refs = []
    for msg in ev["events"]["msg"]:
        if "/images/" in msg or '"Image":' in msg:
            for pattern in (_IMAGE_QUERY, _IMAGE_PATH, _IMAGE_JSON):
                refs += [unquote(m["ref"]) for m in pattern.finditer(msg)]
    for fields in ev["events"]["fields"]:
        if fields and '"image"' in fields:
            refs.append(str(json.loads(fields).get("image") or ""))
    containers = ev["containers"]
    for text in containers[containers["what"].str.startswith("ps")]["text"]:
        columns = _SPLIT.split(text.strip())
        if len(columns) > 2:
            refs.append(columns[1])
    return _unique(r for r in refs if r and not r.startswith("sha256:") and not _HEX_ID.fullmatch(r))


def _containers(ev) -> list[dict]:
    """Every container seen, by name and id (a name without a known id, an id without a name)."""
    table = ev["containers"]
    ids: dict[str, str | None] = {}
    for row in table.itertuples():
        for name in (row.name if isinstance(row.name, str) else "").split(","):
            if name.strip():
                ids[name.strip()] = ids.get(name.strip()) or (row.id if isinstance(row.id, str) else None)
    refs = list(ev["events"]["container"].dropna()) + list(ev["panics"]["container"].dropna())
    refs += [r for r in table["container"].dropna()]
    named_ids = {i[:12] for i in ids.values() if i}
    for ref in _unique(refs):
        if _HEX_ID.fullmatch(ref):
            if ref[:12] not in named_ids:
                named_ids.add(ref[:12])
                ids[f"id:{ref}"] = ref
        else:
            ids.setdefault(ref, None)
    return [{"name": None if k.startswith("id:") else k, "id": v} for k, v in sorted(ids.items())]


def environment(ev) -> dict:
    daemons, events = ev["daemons"], ev["events"]
    return {
        "go_versions": _go_versions(ev),
        "hosts": _unique(list(events["host"]) + list(daemons["host"])),
        "pids": [int(p) for p in _unique(list(events["pid"]) + list(daemons["pid"]))][:50],
        "containers": _containers(ev),
        "images": _images(ev),
    }


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _groups(rows: pd.DataFrame) -> list[dict]:
    """Goroutines grouped by state and identical stack, in order of first appearance (one pass)."""
    groups: dict[tuple, dict] = {}
    columns = ["state", "stack", "top", "lock_key", "lock_status", "source", "line", "weight", "gid", "wait_minutes"]
    for g in rows[columns].itertuples(index=False):
        key = (_text(g.state), _text(g.stack))
        b = groups.get(key)
        if b is None:
            stack = [f for f in (g.stack or "").split("\n") if f] if isinstance(g.stack, str) else []
            b = groups[key] = {
                "count": 0, "state": g.state, "wait_minutes": None, "top": g.top or "", "stack": stack[:STACK_FRAMES],
                "frames": len(stack), "gids": [], "lock": _text(g.lock_key), "lock_status": _text(g.lock_status),
                "source": g.source, "line": int(g.line)}
        b["count"] += 0 if pd.isna(g.weight) else int(g.weight)
        if len(b["gids"]) < SAMPLE_GIDS:
            b["gids"].append(int(g.gid))
        if not pd.isna(g.wait_minutes):
            low, high = b["wait_minutes"] or (int(g.wait_minutes), int(g.wait_minutes))
            b["wait_minutes"] = [min(low, int(g.wait_minutes)), max(high, int(g.wait_minutes))]
    return list(groups.values())


def _links(frames: pd.DataFrame, dump: int, gid: int, tag: str | None, n: int) -> list[str | None]:
    """The source line at ``tag`` of the first ``n`` frames of goroutine ``gid`` (None: not a daemon frame)."""
    rows = frames[(frames["dump"] == dump) & (frames["gid"] == gid)].sort_values("depth").head(n)
    return [source_url(tag, f.func, f.file if isinstance(f.file, str) else None,
                       None if pd.isna(f.lineno) else int(f.lineno)) for f in rows.itertuples()]


def buckets(ev, tags: dict[int, str] | None = None) -> list[dict]:
    """Per goroutine dump, its goroutines grouped by state and identical stack (like panicparse);
    with ``tags`` (dump -> moby tag its frames fit) each daemon frame links to its source line."""
    goroutines, out = ev["goroutines"], []
    for dump in ev["dumps"].itertuples():
        if dump.kind == "panic":
            continue
        rows = goroutines[goroutines["dump"] == dump.dump]
        groups = _groups(rows)
        groups.sort(key=lambda b: (b["lock"] is None, -b["count"], b["state"]))
        tag = (tags or {}).get(int(dump.dump))
        for b in groups[:BUCKETS]:
            b["links"] = _links(ev["frames"], dump.dump, b["gids"][0], tag, len(b["stack"])) if tag and b["gids"] else []
        out.append({"dump": int(dump.dump), "kind": dump.kind,
                    "time": dump.time.isoformat() if not pd.isna(dump.time) else None,
                    "goroutines": int(rows["weight"].sum()), "source": dump.source, "line": int(dump.line),
                    "buckets": groups[:BUCKETS], "omitted": max(0, len(groups) - BUCKETS), "link_tag": tag})
    return out
