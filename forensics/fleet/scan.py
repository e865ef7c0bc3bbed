"""Scan a fleet: every host analysed by the same engine as ``analyze``, in parallel.

A host is a file, a directory or a bundle (one PATH each; ``hosts_in`` adds every entry
of a directory as a host). Hosts run in local processes, or on Dask (a LocalCluster or
an existing scheduler). Each finished host is cached in the output directory under the
hash of its inputs' content, so a re-run (or a run after a kill) redoes only what changed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from forensics.findings import Severity
from forensics.ingest.sources import SCAN_MARK
from forensics.outputs import write
from forensics.report import facts

# 2: go_version as the report reads it; engine_version_source, engine_candidates, engine_match_ratio
CACHE_VERSION = "2"


class ScanError(Exception):
    """A usage problem with the whole scan (bad scheduler, missing package)."""


@dataclass
class Host:
    name: str
    paths: list[str]


def is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


class HostsInError(ValueError):
    """A ``--hosts-in`` directory that cannot be listed."""

    def __init__(self, folder: str, reason: str):
        super().__init__(f"--hosts-in {folder}: cannot read directory: {reason}")
        self.reason = reason


def hosts_from(
    paths: list[str], hosts_in: list[str] = (), host_from: str | None = None
) -> list[Host]:
    """One host per PATH and per entry of each ``hosts_in`` directory; names from the path
    (``host_from``: a regex whose first group, searched in the path, names the host)."""
    found = [Path(p) for p in paths]
    for folder in hosts_in:  # a `scan --out` folder among the hosts is ours, not a host
        try:
            entries = sorted(Path(folder).iterdir())
        except OSError as exc:
            raise HostsInError(folder, exc.strerror or str(exc)) from None
        found.extend(p for p in entries if not (p / SCAN_MARK).is_file())
    pattern = re.compile(host_from) if host_from else None
    hosts, seen = [], set()
    for path in found:
        name = host_name(path.name) or str(path)
        if pattern is not None:
            m = pattern.search(str(path))
            name = (m.group(1) if m and m.groups() else m.group(0)) if m else name
        base, n = name, 2
        while name in seen:  # two paths that would share a name keep both
            name, n = f"{base}-{n}", n + 1
        seen.add(name)
        hosts.append(Host(name, [str(path)]))
    return hosts


SUFFIXES = (
    ".tar.gz",
    ".tar.bz2",
    ".tar.xz",
    ".tar.zst",
    ".tgz",
    ".tar",
    ".gz",
    ".bz2",
    ".xz",
    ".zst",
    ".log",
    ".txt",
    ".json",
)


def host_name(file_name: str) -> str:
    """``node-17.tar.gz`` -> ``node-17``; dots inside a name (``db-1.prod``) stay."""
    changed = True
    while changed:
        changed = False
        for suffix in SUFFIXES:
            if file_name.endswith(suffix) and len(file_name) > len(suffix):
                file_name, changed = file_name[: -len(suffix)], True
    return file_name


def _files(path: str) -> Iterator[Path]:
    p = Path(path)
    if p.is_dir():
        ours = [
            m.parent for m in p.rglob(SCAN_MARK)
        ]  # a scan's own output directory is not the host's input
        yield from sorted(
            f for f in p.rglob("*") if f.is_file() and not any(f.is_relative_to(d) for d in ours)
        )
    elif p.exists():
        yield p


def fingerprint(host: Host) -> str:
    """Hash of every input file's name and content (URLs: the URL itself)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(CACHE_VERSION.encode())
    for path in host.paths:
        digest.update(path.encode())
        if is_url(path):
            continue
        for f in _files(path):
            digest.update(str(f).encode())
            try:
                with open(f, "rb") as stream:
                    for chunk in iter(lambda: stream.read(1 << 20), b""):
                        digest.update(chunk)
            except OSError:
                digest.update(b"unreadable")
    return digest.hexdigest()


def _fetch(url: str, into: str) -> str:
    """Copy a remote input (s3://, gs://, …) into a scratch folder with fsspec."""
    try:
        import fsspec
    except ImportError:
        raise ScanError(f"{url}: reading URLs needs fsspec: pip install fsspec") from None
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise ScanError(f"{url}: {exc}") from None
    target = os.path.join(into, Path(root.rstrip("/")).name or "input")
    fs.get(root, target, recursive=fs.isdir(root))
    return target


def _from_dumps(result) -> dict:
    """The releases the dumps fit (space-separated) and their match ratio, when the engine version came from them."""
    dv = getattr(result, "dump_version", None)
    if dv is None or not dv.usable or result.engine_version_source != dv.source:
        return {"engine_candidates": None, "engine_match_ratio": None}
    return {"engine_candidates": " ".join(dv.candidates), "engine_match_ratio": dv.ratio}


HOST_TEMPLATES = 20  # templates kept per host in the fleet table (JSON text)


def host_row(name: str, result, seconds: float, size: int) -> dict:
    """One line of the fleet table from an analyze() Result."""
    from forensics.evidence import daemons_by_time

    ev = result.evidence
    daemons = daemons_by_time(ev["daemons"])  # oldest first, as the engine version is read
    seen_hosts = ev["events"]["host"].dropna()
    found = result.found
    row = {
        "host": name,
        "reported_host": seen_hosts.mode().iloc[0] if not seen_hosts.empty else None,
        "verdict": result.verdict,
        "not_checked": " ".join(result.not_checked)
        or None,  # kinds of input missing (dumps, logs, ...)
        "worst_severity": str(found[0].severity) if found else None,
        "findings": " ".join(f"{f.id}:{f.confidence}" for f in found),
        "engine_version": result.engine_version,
        "engine_version_source": getattr(result, "engine_version_source", None),
        **_from_dumps(result),
        "go_version": next((g["version"] for g in facts.go_versions(ev)), None),
        "storage_driver": next(iter(daemons["storage_driver"].dropna().tolist()[-1:]), None),
        "daemon_starts": int(
            len(daemons[daemons["commit"].notna() | daemons["storage_driver"].notna()])
        ),
        "problems": len(result.problems),
        "error": None,
        "input_bytes": size,
        "seconds": round(seconds, 3),
    }
    findings = {f.id: f for f in result.findings}
    for outcome in result.outcomes:
        f = findings.get(outcome.rule)
        row[f"rule:{outcome.rule}"] = str(f.confidence) if f else outcome.status
    row["rule:unexplained-panic"] = (
        "confirmed" if "unexplained-panic" in findings else "not-matched"
    )
    from forensics.evidence import templates

    row["log_templates"] = json.dumps(
        [
            {"template": t["template"], "level": t["level"], "count": t["count"]}
            for t in templates.cached(ev)[:HOST_TEMPLATES]
        ]
    )
    return row


@lru_cache(maxsize=1)
def _rules():
    """The rule catalogue, loaded once per worker process rather than once per host."""
    from forensics.engine.ruleset import load_rules

    return load_rules()


def scan_one(
    name: str,
    paths: list[str],
    engine_version: str | None = None,
    html: bool = False,
    window=None,
    keep_report: bool = False,
) -> dict:
    """Analyse one host; never raises (a failure is the row's ``error``). Runs in workers.
    ``keep_report``: return the names to redact (and the report document instead of the page
    when ``html``): the parent redacts."""
    from forensics.analyze import analyze

    start = time.perf_counter()
    size = sum(f.stat().st_size for p in paths if not is_url(p) for f in _files(p))
    try:
        with tempfile.TemporaryDirectory(prefix="forensics-host-") as scratch:
            local = [_fetch(p, scratch) if is_url(p) else p for p in paths]
            result = analyze(local, engine_version=engine_version, rules=_rules(), window=window)
            row = host_row(name, result, time.perf_counter() - start, size)
            page = report = names = None
            if keep_report:
                from forensics.report import to_dict
                from forensics.report.redact import collect

                report = to_dict(result)
                names = collect(report)
                report = report if html else None  # the parent keeps only what it will write
            elif html:
                from forensics.report import to_html

                page = to_html(result)
        if result.nothing_read:
            row["verdict"] = "unreadable"
            row["error"] = "; ".join(str(p) for p in result.problems) or "nothing could be read"
        return {"row": row, "html": page, "report": report, "names": names}
    except Exception as exc:  # one bad host never stops the scan
        return {
            "row": {
                "host": name,
                "verdict": "unreadable",
                "error": f"{type(exc).__name__}: {exc}",
                "input_bytes": size,
                "seconds": round(time.perf_counter() - start, 3),
            },
            "html": None,
            "report": None,
            "names": None,
        }


def safe_name(name: str) -> str:
    """A host name as a file name: no separators, no '..'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:120] or "_"


def _cache_path(out: Path, name: str) -> Path:
    return out / "cache" / f"{safe_name(name)}.json"


# Dask settings for the workers of ``--scheduler local``. A host is a second or so of
# pure-Python parsing; with Dask's defaults a worker spent about 20% more per host than a
# plain process (measured on the bench fleet): the statistical profiler and the event-loop
# tick wake every 10-20 ms and take the GIL from the task, and MALLOC_TRIM_THRESHOLD_=65536
# makes glibc give memory back after nearly every large free (the rest of Dask's worker
# environment, numeric libraries on one thread, is kept).
CONNECT_TIMEOUT = (
    "10s"  # how long to wait for a remote --scheduler before saying it cannot be reached
)

LEAN_WORKERS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


# The workers of our own LocalCluster write Dask's logs to this process's stderr; at shutdown a
# worker's heartbeat can race the scheduler's close and log a traceback (seen in CI). A host's
# failure reaches the scan through its future, so their logs (and the cluster's) are silenced
# below CRITICAL; the variable is set before a worker's interpreter starts, so its logging
# (configured when distributed is imported) reads it.
QUIET_WORKERS = {"DASK_LOGGING__DISTRIBUTED": "critical"}


def _lean_workers() -> dict:
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return {**LEAN_WORKERS, "distributed.nanny.pre-spawn-environ": {**environ, **QUIET_WORKERS}}


def _submitter(jobs: int, scheduler: str | None):
    """(submit, as_completed, close) for local processes or a Dask cluster."""
    if scheduler:
        try:
            from dask.distributed import Client, LocalCluster, as_completed
        except ImportError:
            raise ScanError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
        try:
            if scheduler == "local":
                import dask

                with dask.config.set(_lean_workers()):
                    cluster = LocalCluster(
                        n_workers=jobs,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        silence_logs=logging.CRITICAL,
                    )
                client = Client(cluster)
            else:
                cluster, client = None, Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ScanError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None

        def close():
            client.close()
            if cluster is not None:
                cluster.close()

        return client.submit, lambda futures: as_completed(futures), close
    if jobs <= 1:

        class Done:
            def __init__(self, fn, *args):
                self.value = fn(*args)

            def result(self):
                return self.value

        return Done, lambda futures: iter(futures), lambda: None
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    # spawned, not forked: the progress bar's thread runs in this process, and a fork copies
    # whatever lock that thread holds at that moment (Python 3.12+ warns of it)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"))
    return pool.submit, as_completed, lambda: pool.shutdown(cancel_futures=True)


def scan(
    hosts: list[Host],
    out: Path,
    jobs: int = 1,
    scheduler: str | None = None,
    per_host_reports: bool = False,
    engine_version: str | None = None,
    on_host: Callable[[dict, bool], None] | None = None,
    window=None,
    redact: dict[str, str] | None = None,
):
    """Scan ``hosts``; returns the fleet table (pandas). ``on_host(row, cached)`` reports progress.
    ``redact``: a name -> pseudonym mapping (empty, or kept by ``--redact-map``; extended in place):
    the table and the per-host pages are redacted (see :func:`redacted`) and no cache is kept (it
    would hold the names)."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    write(
        out / SCAN_MARK,
        "written by forensics scan: this directory is never read as a host's evidence\n",
    )
    if redact is None:
        (out / "cache").mkdir(exist_ok=True)
    if per_host_reports:
        (out / "hosts").mkdir(exist_ok=True)
    rows, todo, reports = [], [], {}
    for host in hosts:
        key = fingerprint(host) + (
            "" if not window else f" {window.key()}"
        )  # another window: another result
        cached = None if redact is not None else _load_cache(_cache_path(out, host.name), key)
        if cached is not None and (
            not per_host_reports or (out / "hosts" / f"{safe_name(host.name)}.html").exists()
        ):
            rows.append(cached)
            if on_host:
                on_host(cached, True)
        else:
            todo.append((host, key))
    # a redacted scan's reports wait for every host's names: kept on disk until then, not in memory
    spill = tempfile.TemporaryDirectory(prefix="forensics-scan-") if redact is not None else None
    if todo:
        submit, completed, close = _submitter(jobs, scheduler)
        try:
            futures = {
                submit(
                    scan_one,
                    h.name,
                    h.paths,
                    engine_version,
                    per_host_reports,
                    window,
                    redact is not None,
                ): (h, key)
                for h, key in todo
            }
            for future in completed(list(futures)):
                host, key = futures[future]
                done = future.result()
                row = done["row"]
                if done["html"]:
                    page = out / "hosts" / f"{safe_name(host.name)}.html"
                    write(page, done["html"])
                    row["report"] = f"hosts/{page.name}"
                if redact is None:
                    _save_cache(_cache_path(out, host.name), key, row)
                else:
                    reports[host.name] = (done["names"], _spilled(spill.name, done["report"]))
                rows.append(row)
                if on_host:
                    on_host(row, False)
        finally:
            close()
    if redact is not None:
        with spill:
            rows = redacted(rows, reports, redact, out if per_host_reports else None)
    table = pd.DataFrame(rows)
    return (
        table.sort_values("host", kind="stable").reset_index(drop=True)
        if not table.empty
        else table
    )


def _as_document(row: dict) -> dict:
    """A fleet row as a document the redactor reads: its host names named as hosts, its log
    templates as the JSON they are."""
    document = dict(row)
    if isinstance(row.get("log_templates"), str):
        document["log_templates"] = json.loads(row["log_templates"])
    return {
        "environment": {"hosts": [row.get("host"), row.get("reported_host")]},
        "row": document,
    }


def _spilled(folder: str, report: dict | None) -> Path | None:
    """``report`` written to a file of ``folder`` (compressed JSON), read back by :func:`redacted`."""
    if report is None:
        return None
    fd, name = tempfile.mkstemp(suffix=".json.gz", dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(gzip.compress(json.dumps(report).encode(), compresslevel=1))
    return Path(name)


def _unspilled(path: Path | None) -> dict | None:
    return json.loads(gzip.decompress(path.read_bytes())) if path is not None else None


def redacted(
    rows: list[dict], reports: dict[str, tuple], known: dict[str, str], pages
) -> list[dict]:
    """The rows (and each host's report, written to ``pages``/hosts/ when given) redacted through
    one :class:`~forensics.report.redact.Redactor`, in the parent once every host is back: the names
    of all hosts (collected by the workers from their reports, and from the rows) are numbered
    together, in sorted order continuing ``known``, so a name has one pseudonym in every row and
    page, whichever worker ran which host and in what order. ``reports``: host -> (names, the
    report's file from :func:`_spilled`), each report read back only to write its page: a fleet's
    reports are never in memory at once."""
    from forensics.report import to_html
    from forensics.report.redact import Redactor, collect

    rows = sorted(rows, key=lambda r: str(r.get("host")))
    documents = [_as_document(r) for r in rows]
    redactor = Redactor.numbered(
        [collect(d) for d in documents]
        + [reports[r["host"]][0] or {} for r in rows if r["host"] in reports],
        known,
    )
    out = []
    for row, document in zip(rows, documents):
        clean = redactor.walk(document)["row"]
        if isinstance(row.get("log_templates"), str):
            clean["log_templates"] = json.dumps(clean["log_templates"])
        spilled = reports.get(row["host"], (None, None))[1]
        report = _unspilled(spilled) if pages is not None else None
        if report:
            page = pages / "hosts" / f"{safe_name(clean['host'])}.html"
            write(page, to_html(redactor.report(report)))
            clean["report"] = f"hosts/{page.name}"
        out.append(clean)
    return out


def _load_cache(path: Path, key: str) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("row") if data.get("fingerprint") == key else None


def _save_cache(path: Path, key: str, row: dict) -> None:
    """Atomic: a scan killed midway leaves whole entries only."""
    write(path, json.dumps({"fingerprint": key, "row": row}, default=str))


def worst(table) -> Severity | None:
    if table.empty or "worst_severity" not in table:
        return None
    return max((Severity(s) for s in table["worst_severity"].dropna()), default=None)


def all_unreadable(table) -> bool:
    return table.empty or bool(
        (table["verdict"] == "unreadable").all() or table["error"].notna().all()
    )
