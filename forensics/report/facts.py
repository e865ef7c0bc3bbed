"""Report sections read off the evidence: the environment and the goroutine buckets."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pandas as pd
import regex

from forensics.engine.dumpversion import source_url
from forensics.evidence import BUCKETS, rank
from forensics.goroutines.buckets import Bucket
from forensics.goroutines.locks import Lock
from forensics.parse import dockerversion
from forensics.parse.stacks import first_of_shapes, frames_of

STACK_FRAMES = 12  # functions kept per bucket, from the top of the stack
SAMPLE_GIDS = 6

_HEX_ID = regex.compile(r"[0-9a-f]{12}|[0-9a-f]{64}")
_GO_PATH = regex.compile(r"/go-?(?P<v>1\.\d+(?:\.\d+)?)/src/(?:runtime|net|sync)/")
_IMAGE_QUERY = regex.compile(r"/images/create\?\S*?\b(?:fromImage|repo)=(?P<ref>[^&\s\"]+)")
_IMAGE_PATH = regex.compile(
    r"^Calling \w+ \S*/images/(?P<ref>(?!create|json|search|load|prune|get)[^?\s]+?)"
    r"(?:/(?:json|history|push|tag|get))?(?:\?\S*)?$"
)
_IMAGE_JSON = regex.compile(r'"Image":"(?P<ref>[^"]{1,255})"')
_SPLIT = regex.compile(r"\s{2,}")


def _unique(values) -> list:
    return sorted(
        {
            v
            for v in values
            if v is not None and not (isinstance(v, float) and pd.isna(v)) and v != ""
        }
    )


def go_versions(ev) -> list[dict]:
    """``docker version``'s Server Go version, else the Go release in the dumps' runtime paths
    (the report's environment and the fleet table's go_version column)."""
    out = []
    events = ev["events"]
    for server in dockerversion.servers(events[events["level"].isna()].itertuples()):
        version, row = server.get("Go version")
        if version:
            out.append(
                {
                    "version": version,
                    "how": "docker version (Server)",
                    "source": row.source,
                    "line": int(row.line),
                }
            )
    if not out:
        found = _go_path(ev.dumps)
        if found:
            version, source, line = found
            how = "runtime source paths in a goroutine dump"
            out.append({"version": version, "how": how, "source": source, "line": line})
    return out


def _go_path(dumps) -> tuple[str, str, int] | None:
    """(go1.N, source, line) of the first frame, in the dumps' order, whose file lies in a Go
    release's tree (``/go1.22.5/src/runtime/...``); each stack shape looked at once."""
    for d in dumps:
        for g in first_of_shapes(d.goroutines):
            for f in frames_of(g):
                m = _GO_PATH.search(f.file) if f.file else None
                if m:
                    return f"go{m['v']}", d.source, int(f.line)
    return None


def _images(ev) -> list[str]:
    refs = []
    for msg in ev["events"]["msg"].tolist():
        if "/images/" in msg or '"Image":' in msg:
            for pattern in (_IMAGE_QUERY, _IMAGE_PATH, _IMAGE_JSON):
                refs += [unquote(m["ref"]) for m in pattern.finditer(msg)]
    for fields in ev["events"]["fields"].tolist():
        if fields and '"image"' in fields:
            refs.append(str(json.loads(fields).get("image") or ""))
    containers = ev["containers"]
    for text in containers[containers["what"].str.startswith("ps")]["text"]:
        columns = _SPLIT.split(text.strip())
        if len(columns) > 2:
            refs.append(columns[1])
    return _unique(
        r for r in refs if r and not r.startswith("sha256:") and not _HEX_ID.fullmatch(r)
    )


def _containers(ev) -> list[dict]:
    """Every container seen, by name and id (a name without a known id, an id without a name)."""
    table = ev["containers"]
    ids: dict[str, str | None] = {}
    for row in table.itertuples():
        for name in (row.name if isinstance(row.name, str) else "").split(","):
            if name.strip():
                ids[name.strip()] = ids.get(name.strip()) or (
                    row.id if isinstance(row.id, str) else None
                )
    refs = ev["events"]["container"].dropna().tolist() + list(ev["panics"]["container"].dropna())
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
    pids = _unique(events["pid"].unique().tolist() + list(daemons["pid"]))
    return {
        "go_versions": go_versions(ev),
        "hosts": _unique(events["host"].unique().tolist() + list(daemons["host"])),
        "pids": [int(p) for p in pids][:50],
        "containers": _containers(ev),
        "images": _images(ev),
    }


def _bucket(b: Bucket, waiting: dict[int, Lock], source: str) -> dict:
    low, high = b.waits
    first = b.goroutines[0]
    lock = waiting.get(first.id)
    functions = list(b.stack.functions)
    return {
        "count": b.count,
        "state": ", ".join(b.states),
        "wait_minutes": None if high is None else [low, high],
        "top": b.top,
        "stack": functions[:STACK_FRAMES],
        "frames": len(functions),
        "gids": [g.id for g in b.goroutines[:SAMPLE_GIDS]],
        "lock": lock.key if lock else None,
        "lock_status": lock.status if lock else None,
        "source": first.source or source,
        "line": first.line,
    }


def _links(b: Bucket, tag: str | None) -> list[str | None]:
    """The source line at ``tag`` of the bucket's first frames (None: not a daemon frame)."""
    if not tag:
        return []
    return [source_url(tag, f.func, f.file, f.lineno) for f in b.stack.frames[:STACK_FRAMES]]


def buckets(ev, tags: dict[int, str] | None = None) -> list[dict]:
    """Per goroutine dump, its buckets as ``forensics dump`` makes them (:func:`.goroutines.buckets.buckets`:
    same frames, same creator), lock waiters first; with ``tags`` (dump -> moby tag its frames fit)
    each daemon frame links to its source line."""
    out = []
    for dump in ev["dumps"].itertuples():
        if dump.kind == "panic":
            continue
        waiting = {
            w.goroutine: lock
            for index, lock in ev.locks
            if index == dump.dump
            for w in lock.waiters
        }
        ranked = getattr(ev, "buckets", {}).get(dump.dump)  # ranked with the locks: not again
        if ranked is None:
            ranked = rank(ev.dumps[dump.dump], waiting)
        tag = (tags or {}).get(int(dump.dump))
        out.append(
            {
                "dump": int(dump.dump),
                "program": dump.program,
                "kind": dump.kind,
                "time": dump.time.isoformat() if not pd.isna(dump.time) else None,
                "goroutines": ranked.goroutines,
                "source": dump.source,
                "line": int(dump.line),
                "buckets": [
                    {**_bucket(b, waiting, dump.source), "links": _links(b, tag)}
                    for b in ranked.head
                ],
                "omitted": max(0, ranked.count - BUCKETS),
                "link_tag": tag,
            }
        )
    return out
