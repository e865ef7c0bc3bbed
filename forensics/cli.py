"""Command line: parse arguments, call plain functions, choose the exit code.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it;
2 usage error, or no input could be read at all.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import __version__
from .findings import SEVERITIES, severity_rank
from .ruleset import RuleError, load_rules

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="What went wrong inside a Docker daemon, from its logs and goroutine dumps.")
rules_app = typer.Typer(no_args_is_help=True, help="The rule catalogue.")
app.add_typer(rules_app, name="rules")
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"forensics: {message}", markup=False)
    return typer.Exit(code)


def _load(rules_dir: Optional[Path]):
    try:
        return load_rules(rules_dir)
    except RuleError as exc:
        raise _fail(f"rule error: {exc}") from None


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text + "\n")
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {path}: {exc.strerror or exc}") from None


@app.command()
def analyze(
    paths: list[str] = typer.Argument(..., help="dockerd logs, goroutine dumps, directories, .gz files, or - for stdin"),
    html: Optional[str] = typer.Option(None, "--html", help="write the HTML report to this file"),
    json_out: Optional[str] = typer.Option(None, "--json", help="write the JSON result to this file (- for stdout)"),
    fail_on: str = typer.Option("high", "--fail-on", help=f"exit 1 when a finding is at least this severe ({', '.join(SEVERITIES)})"),
    engine_version: Optional[str] = typer.Option(None, "--engine-version", help="Docker Engine version when the logs do not say"),
    rules_dir: Optional[Path] = typer.Option(None, "--rules", help="directory of YAML rules (default: the bundled catalogue)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no terminal summary"),
) -> None:
    """Diagnose a daemon from its logs and goroutine dumps."""
    from .analyze import analyze as run
    from .report import print_text, to_html, to_json

    if fail_on not in SEVERITIES:
        raise _fail(f"--fail-on must be one of {', '.join(SEVERITIES)}")
    result = run(paths, engine_version=engine_version, rules=_load(rules_dir))
    for problem in result.problems:
        err.print(f"forensics: {problem}", markup=False)
    if not quiet and json_out != "-":
        print_text(result)
    if json_out:
        _write(json_out, to_json(result))
    if html:
        _write(html, to_html(result))
    if result.nothing_read:
        raise typer.Exit(2)
    raise typer.Exit(1 if result.worst_severity() >= severity_rank(fail_on) else 0)


@app.command()
def scan(
    paths: list[str] = typer.Argument(None, help="one host per PATH: a file, a directory, a bundle or an fsspec URL"),
    hosts_in: list[str] = typer.Option([], "--hosts-in", help="a directory whose every entry is a host (repeatable)"),
    out: Path = typer.Option(Path("forensics-scan"), "--out", help="output directory (tables, pages, cache)"),
    jobs: int = typer.Option(os.cpu_count() or 1, "--jobs", "-j", help="parallel workers"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="'local' for a Dask LocalCluster, or tcp://host:8786"),
    host_from: Optional[str] = typer.Option(None, "--host-from", help="regex whose first group, searched in the path, names the host"),
    per_host_reports: bool = typer.Option(False, "--per-host-reports", help="write an HTML report per host"),
    fail_on: str = typer.Option("high", "--fail-on", help="exit 1 when a host has a finding this severe"),
    engine_version: Optional[str] = typer.Option(None, "--engine-version", help="Docker Engine version for all hosts"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar and no summary"),
) -> None:
    """Analyse many hosts in parallel and write a fleet table and page."""
    from .scanrun import run

    if fail_on not in SEVERITIES:
        raise _fail(f"--fail-on must be one of {', '.join(SEVERITIES)}")
    raise typer.Exit(run(paths or [], hosts_in, out, jobs, scheduler, host_from, per_host_reports,
                         fail_on, engine_version, quiet, err))


@rules_app.command("list")
def rules_list(rules_dir: Optional[Path] = typer.Option(None, "--rules")) -> None:
    """List the rules: id, severity, title."""
    for rule in _load(rules_dir):
        typer.echo(f"{rule.id:28} {rule.severity:8} {rule.title}")


@rules_app.command("show")
def rules_show(rule_id: str, rules_dir: Optional[Path] = typer.Option(None, "--rules")) -> None:
    """Print one rule file."""
    rule = next((r for r in _load(rules_dir) if r.id == rule_id), None)
    if rule is None:
        raise _fail(f"no rule {rule_id!r} (see: forensics rules list)")
    typer.echo(Path(rule.path).read_text(encoding="utf-8"))


@rules_app.command("test")
def rules_test(rule_id: Optional[str] = typer.Argument(None, help="only this rule's fixtures"),
               rules_dir: Optional[Path] = typer.Option(None, "--rules")) -> None:
    """Run every rule (or one) against its positive and negative fixtures."""
    from .rulecheck import cases, run_case

    rules = _load(rules_dir)
    found = cases(rule_id, rules_dir)
    if not found:
        raise _fail(f"no fixtures for {rule_id or 'any rule'}")
    failed = 0
    for case in found:
        r = run_case(case, rules)
        failed += not r.ok
        mark = "ok  " if r.ok else "FAIL"
        typer.echo(f"{mark} {r.rule}/{r.case}: expected {r.expected}, got {r.got}" + (f" ({r.detail})" if r.detail else ""))
    typer.echo(f"{len(found) - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the --json output."""
    from .report import SCHEMA_PATH

    typer.echo(SCHEMA_PATH.read_text(encoding="utf-8"))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("forensics: interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
