"""forensics scan: many hosts in parallel, one fleet table and page (forensics.fleet)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from forensics.cli import common
from forensics.findings import SEVERITIES


def scan(
    paths: list[str] = typer.Argument(
        None, help="one host per PATH: a file, a directory, a bundle or an fsspec URL"
    ),
    hosts_in: list[str] = typer.Option(
        [], "--hosts-in", help="a directory whose every entry is a host (repeatable)"
    ),
    out: Path = typer.Option(
        Path("forensics-scan"), "--out", help="output directory (tables, pages, cache)"
    ),
    jobs: int = typer.Option(os.cpu_count() or 1, "--jobs", "-j", help="parallel workers"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="'local' for a Dask LocalCluster, or tcp://host:8786"
    ),
    host_from: str | None = typer.Option(
        None, "--host-from", help="regex whose first group, searched in the path, names the host"
    ),
    per_host_reports: bool = typer.Option(
        False, "--per-host-reports", help="write an HTML report per host"
    ),
    fail_on: str = typer.Option(
        "high", "--fail-on", help="exit 1 when a host has a finding this severe"
    ),
    engine_version: str | None = typer.Option(
        None, "--engine-version", help="Docker Engine version for all hosts"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar and no summary"),
    since: str | None = typer.Option(None, "--since", help=common.SINCE_HELP),
    until: str | None = typer.Option(None, "--until", help=common.UNTIL_HELP),
    redact: bool = typer.Option(
        False,
        "--redact",
        help=common.REDACT_HELP + " (one pseudonym per name across all hosts; no cache is kept)",
    ),
    redact_map: str | None = typer.Option(None, "--redact-map", help=common.REDACT_MAP_HELP),
) -> None:
    """Analyse many hosts in parallel and write a fleet table and page."""
    import re

    from forensics.fleet.run import run

    if fail_on not in SEVERITIES:
        raise common.fail(f"--fail-on must be one of {', '.join(SEVERITIES)}")
    common.load_catalogue(None)  # no catalogue is an error here, not one per host
    window = common.window(since, until)
    if jobs < 1:
        raise common.fail(f"--jobs must be at least 1 (got {jobs})")
    if (
        scheduler is not None
        and scheduler != "local"
        and not re.fullmatch(r"(?:tcp|tls|ws|wss|inproc|ucx)://[^\s/:]+:\d+/?", scheduler)
    ):
        raise common.fail(
            f"--scheduler {scheduler!r}: give 'local' or a scheduler address such as tcp://host:8786"
        )
    if host_from is not None:
        try:
            groups = re.compile(host_from).groups
        except re.error as exc:
            raise common.fail(f"--host-from {host_from!r}: bad regex: {exc}") from None
        if groups < 1:
            raise common.fail(
                f"--host-from {host_from!r}: the regex needs a group (the host name), e.g. 'hosts/([^/]+)/'"
            )
    if out.exists() and not out.is_dir():
        raise common.fail(f"--out {out}: exists and is not a directory")
    if redact_map and not redact:
        raise common.fail("--redact-map needs --redact")
    engine_version = common.engine_version(engine_version)
    _check_scan_outputs(list(paths or []) + list(hosts_in), out, redact_map)
    if redact and _unredacted_scan(out):
        raise common.fail(
            f"--out {out} holds an unredacted scan (its cache, pages or tables would sit beside "
            "the redacted ones); give --redact a new directory"
        )
    known = common.load_map(redact_map) if redact else None
    code = run(
        paths or [],
        hosts_in,
        out,
        jobs,
        scheduler,
        host_from,
        per_host_reports,
        fail_on,
        engine_version,
        quiet,
        common.err,
        window=window,
        redact=known,
    )
    if known is not None:
        common.save_map(redact_map, known)
    raise typer.Exit(code)


def _unredacted_scan(out: Path) -> bool:
    """An earlier scan without --redact in ``out``: a redacted scan keeps no cache and marks fleet.json."""
    import json

    if any((out / "cache").glob("*.json")):
        return True
    try:
        return "redaction" not in json.loads((out / "fleet.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError, TypeError):
        return True


def _check_scan_outputs(inputs: list[str], out: Path, redact_map: str | None) -> None:
    """scan's fixed outputs checked as analyze's are: never an input, never through a link to one."""
    from forensics.cli.outputs import OutputError, check
    from forensics.ingest.sources import SCAN_MARK

    common.map_not_on_stdout(redact_map)
    for given in inputs:
        if Path(given).is_dir() and Path(given).resolve() == out.resolve():
            raise common.fail(
                f"--out {out} is the input folder {given}: its evidence would be marked as scan"
                " output; give a folder of its own (inside it is fine)"
            )
    names = ["fleet.csv", "fleet.parquet", "fleet.json", "fleet.html", SCAN_MARK]
    try:
        check(
            inputs,
            {f"--out {out}: {n}": str(out / n) for n in names} | {"--redact-map": redact_map},
        )
    except OutputError as exc:
        raise common.fail(str(exc)) from None
