"""`forensics scan` as a plain function: hosts -> scan (with a progress bar) -> fleet outputs."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from forensics.engine.ruleset import RuleError, load_rules
from forensics.findings import Severity
from forensics.fleet import table as fleet
from forensics.fleet.scan import HostsInError, ScanError, all_unreadable, hosts_from, scan, worst


def run(
    paths: list[str],
    hosts_in: list[str],
    out: Path,
    jobs: int,
    scheduler: str | None,
    host_from: str | None,
    per_host_reports: bool,
    fail_on: str,
    engine_version: str | None,
    quiet: bool,
    err: Console,
    window=None,
    redact: dict[str, str] | None = None,
) -> int:
    """Returns the exit code: 0 clean, 1 a finding at/above ``fail_on``, 2 usage or nothing readable.
    ``redact``: a name -> pseudonym mapping (empty, or kept; extended in place): every output and
    every line on the terminal redacted (unreadable hosts are told once all are back, redacted)."""
    try:
        rules = load_rules()
        hosts = hosts_from(paths, hosts_in, host_from)
    except HostsInError as exc:  # the path typed is a name --redact keeps off the terminal
        shown = f"--hosts-in: cannot read directory: {exc.reason}" if redact is not None else exc
        err.print(f"forensics: {shown}", markup=False)
        return 2
    except (RuleError, OSError, ValueError) as exc:
        err.print(f"forensics: {exc}", markup=False)
        return 2
    if not hosts:
        err.print("forensics: no hosts given (PATH… or --hosts-in DIR)", markup=False)
        return 2
    started, stats = time.perf_counter(), {"bytes": 0, "findings": 0}
    progress = Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=False,
    )

    def on_host(row: dict, cached: bool) -> None:
        stats["bytes"] += row.get("input_bytes") or 0
        stats["findings"] += bool(row.get("findings"))
        rate = stats["bytes"] / max(time.perf_counter() - started, 1e-6) / 1e6
        progress.update(
            task, advance=1, info=f"{stats['findings']} hosts with findings · {rate:.1f} MB/s"
        )
        if row.get("error") and not quiet and redact is None:
            progress.console.print(
                f"forensics: {row['host']}: unreadable: {row['error']}", markup=False
            )

    with progress:
        task = progress.add_task("scan", total=len(hosts), info="")
        try:
            table = scan(
                hosts,
                out,
                jobs=jobs,
                scheduler=scheduler,
                per_host_reports=per_host_reports,
                engine_version=engine_version,
                on_host=on_host,
                window=window,
                redact=redact,
            )
        except ScanError as exc:
            err.print(f"forensics: {exc}", markup=False)
            return 2
    said = str  # what reaches the terminal
    redaction = None
    if redact is not None:
        from forensics.report.redact import Redactor

        redactor = Redactor(redact)  # the scan's names (and a kept map's): a superset
        said, redaction = redactor.text, redactor.summary()
        if not quiet and "error" in table:
            for host, error in zip(table["host"], table["error"]):
                if isinstance(error, str):
                    err.print(f"forensics: {host}: unreadable: {error}", markup=False)
    for note in fleet.write(table, out, rules, per_host_reports, redaction):
        err.print(f"forensics: {note}", markup=False)
    if not quiet:
        info = fleet.summary(table, rules)
        err.print(
            f"{info['hosts']} hosts in {time.perf_counter() - started:.1f} s; "
            f"verdicts {info['verdicts']}; "
            + said(f"written to {out}/fleet.{{csv,parquet,json,html}}"),
            markup=False,
        )
        for p in info["upgrade_plan"]:
            if p["with_evidence"]:
                err.print(
                    f"upgrade first: {p['with_evidence']} hosts on an affected engine with {p['rule']} "
                    f"evidence (fixed in {p['fixed_in']})",
                    markup=False,
                )
    if all_unreadable(table):
        return 2
    found = worst(table)
    return 1 if found is not None and found >= Severity(fail_on) else 0
