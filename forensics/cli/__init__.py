"""Command line: parse arguments, call plain functions, choose the exit code.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it;
2 usage error, or no input could be read at all.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from forensics import __version__
from forensics.cli import common
from forensics.cli.dump import dump as dump_command
from forensics.cli.scan import scan as scan_command
from forensics.findings import SEVERITIES, Severity

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="What went wrong inside a Docker daemon, from its logs and goroutine dumps.",
)
rules_app = typer.Typer(no_args_is_help=True, help="The rule catalogue.")
app.add_typer(rules_app, name="rules")


def _check_outputs(
    inputs: list[str],
    html: str | None,
    json_out: str | None,
    markdown: str | None,
    redact_map: str | None = None,
) -> None:
    """Refuse, before anything is read, outputs that would overwrite an input or each other."""
    from forensics.cli.outputs import OutputError, check

    common.map_not_on_stdout(redact_map)
    try:
        check(
            inputs,
            {
                "--html": html,
                "--json": json_out,
                "--markdown": markdown,
                "--redact-map": redact_map,
            },
        )
    except OutputError as exc:
        raise common.fail(str(exc)) from None


def _redact(report: dict, redact_map: str | None) -> dict:
    from forensics.report.redact import redact

    known = common.load_map(redact_map)
    out = redact(report, known)
    common.save_map(redact_map, known)
    return out


def _where(problem: dict) -> str:
    return f"{problem['source']}:{problem['line']}" if problem["line"] else problem["source"]


def _outputs(
    report: dict, html: str | None, json_out: str | None, markdown: str | None, quiet: bool
) -> None:
    """The terminal summary and the files asked for, all rendered from the report document."""
    from forensics.report import print_text, to_html, to_json, to_markdown

    if not quiet and "-" not in (json_out, markdown):
        print_text(report)
    for path, render in ((json_out, to_json), (html, to_html), (markdown, to_markdown)):
        if path:
            common.write(path, render(report))


@app.command()
def analyze(
    paths: list[str] = typer.Argument(
        ..., help="dockerd logs, goroutine dumps, directories, .gz files, or - for stdin"
    ),
    html: str | None = typer.Option(None, "--html", help="write the HTML report to this file"),
    json_out: str | None = typer.Option(
        None, "--json", help="write the JSON result to this file (- for stdout)"
    ),
    markdown: str | None = typer.Option(None, "--markdown", help=common.MARKDOWN_HELP),
    redact: bool = typer.Option(False, "--redact", help=common.REDACT_HELP),
    redact_map: str | None = typer.Option(None, "--redact-map", help=common.REDACT_MAP_HELP),
    fail_on: str = typer.Option(
        "high",
        "--fail-on",
        help=f"exit 1 when a finding is at least this severe ({', '.join(SEVERITIES)})",
    ),
    engine_version: str | None = typer.Option(
        None, "--engine-version", help="Docker Engine version when the logs do not say"
    ),
    rules_dir: Path | None = typer.Option(
        None, "--rules", help="directory of YAML rules (default: the bundled catalogue)"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no terminal summary"),
    max_input_bytes: int = typer.Option(
        4 << 30,
        "--max-input-bytes",
        min=1,
        help="stop reading compressed "
        "inputs and archives after this many decompressed bytes in all (default 4 GiB)",
    ),
    input_format: str = typer.Option(
        "auto",
        "--input-format",
        help="envelope of every input, instead of "
        "detecting it: auto, plain, journal-short, journal-json, journal-export, "
        "journal-verbose, syslog-5424, json-file, ... (see forensics.ingest.envelopes.FORMATS)",
    ),
    every_line: bool = typer.Option(
        False,
        "--every-line",
        help="parse every line of large logs instead of "
        "skimming routine debug/info stretches (slower; same findings)",
    ),
    since: str | None = typer.Option(None, "--since", help=common.SINCE_HELP),
    until: str | None = typer.Option(None, "--until", help=common.UNTIL_HELP),
) -> None:
    """Diagnose a daemon from its logs and goroutine dumps."""
    from forensics.analyze import analyze as run
    from forensics.ingest.envelopes import FORMATS
    from forensics.parse.fastdump import paused_gc

    if fail_on not in SEVERITIES:
        raise common.fail(f"--fail-on must be one of {', '.join(SEVERITIES)}")
    if input_format not in FORMATS:
        raise common.fail(f"--input-format must be one of {', '.join(FORMATS)}")
    if redact_map and not redact:
        raise common.fail("--redact-map needs --redact")
    engine_version = common.engine_version(engine_version)
    _check_outputs(paths, html, json_out, markdown, redact_map)
    window = common.window(since, until)
    # a log's lines make a few objects each, hardly any in cycles: no collection until the report
    # is made, and none after it when the process ends with the command (common.ONE_SHOT)
    with paused_gc(keep=common.ONE_SHOT):
        result = run(
            paths,
            engine_version=engine_version,
            rules=common.load_catalogue(rules_dir),
            input_format=input_format,
            max_input_bytes=max_input_bytes,
            every_line=every_line,
            window=window,
        )
        # the renderers (jinja2, rich: ~5 MB) loaded once the dumps' locks are found, not before:
        # the peak of a large dump's analysis is there
        from forensics.report import to_dict

        report = to_dict(result)
    nothing_read, worst = result.nothing_read, result.worst_severity()
    # the outputs are rendered from the report alone: the evidence (the parsed goroutines, the
    # tables) is freed first, its memory reused for the text (~20 MB at a 200 MB dump)
    del result
    if redact:
        report = _redact(report, redact_map)
    for p in report["problems"]:
        common.err.print(
            f"forensics: {common.line(_where(p))}: {common.line(p['message'])}", markup=False
        )
    _outputs(report, html, json_out, markdown, quiet)
    if nothing_read:
        raise typer.Exit(2)
    raise typer.Exit(1 if worst is not None and worst >= Severity(fail_on) else 0)


@app.command("report")
def report_command(
    saved: str = typer.Argument(..., help="a JSON result written by analyze --json (- for stdin)"),
    html: str | None = typer.Option(None, "--html", help="write the HTML report to this file"),
    json_out: str | None = typer.Option(
        None, "--json", help="write the JSON again (e.g. redacted) to this file"
    ),
    markdown: str | None = typer.Option(None, "--markdown", help=common.MARKDOWN_HELP),
    redact: bool = typer.Option(False, "--redact", help=common.REDACT_HELP),
    redact_map: str | None = typer.Option(None, "--redact-map", help=common.REDACT_MAP_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no terminal summary"),
) -> None:
    """Re-render a saved JSON result (HTML, Markdown, JSON, terminal) without the inputs."""
    import jinja2

    from forensics.report import ReportError, load

    if redact_map and not redact:
        raise common.fail("--redact-map needs --redact")
    _check_outputs([saved], html, json_out, markdown, redact_map)
    try:
        report = load(saved)
        if redact:
            report = _redact(report, redact_map)
        _outputs(report, html, json_out, markdown, quiet)
    except ReportError as exc:
        raise common.fail(str(exc)) from None
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        IndexError,
        jinja2.TemplateError,
    ) as exc:
        raise common.fail(
            f"{saved}: not a complete forensics report ({type(exc).__name__}: {exc})"
        ) from None


app.command(name="dump")(dump_command)
app.command(name="scan")(scan_command)


@app.command()
def collect(
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        help="the bundle to write (default: forensics-<host>-<time>.tar.gz here; a directory puts it there)",
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="logs from this long ago (30m, 2h, 1d) or this time (2025-01-07T15:00:00Z)",
    ),
    host: str | None = typer.Option(
        None,
        "--host",
        "-H",
        envvar="DOCKER_HOST",
        help="the daemon's API (default unix:///var/run/docker.sock)",
    ),
    dump: bool = typer.Option(False, "--dump", help="also take a goroutine dump"),
    dump_via: str = typer.Option(
        "auto", "--dump-via", help="pprof, sigusr1, both, or auto (pprof, SIGUSR1 when that fails)"
    ),
    logs: list[str] = typer.Option([], "--log", help="a daemon log file to include (repeatable)"),
    timeout: float = typer.Option(
        10.0,
        "--timeout",
        help="seconds for each API call (a call that takes longer is recorded as timed out)",
    ),
    redact: bool = typer.Option(
        False, "--redact", help="pseudonymise host names and addresses, mask secrets"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="only errors"),
) -> None:
    """Gather the evidence on this host (API state, goroutine dump, daemon log) into a bundle for analyze."""
    from forensics.collect.bundle import CollectError, Options
    from forensics.collect.bundle import collect as run

    try:
        done = run(Options(output, since, host, dump, dump_via, logs, timeout, redact))
    except CollectError as exc:
        raise common.fail(str(exc)) from None
    for item in done.failed:
        common.err.print(f"forensics: {item.how}: {item.error}", markup=False)
    if not quiet:
        typer.echo(
            f"wrote {done.path} in {done.seconds:.1f}s: {len(done.items) - len(done.failed)} items collected, "
            f"{len(done.failed)} failed (see manifest.json)"
        )


@rules_app.command("list")
def rules_list(
    rules_dir: Path | None = typer.Option(None, "--rules"),
    output_format: str = typer.Option(
        "text",
        "--format",
        help="text, or markdown: the catalogue table "
        "(versions and sources) of README.md and rules/README.md",
    ),
    markdown: bool = typer.Option(False, "--markdown", help="the same as --format markdown"),
) -> None:
    """List the rules: id, severity, title (or the catalogue table with versions and sources)."""
    from forensics.engine.ruleset import catalogue_table

    if output_format not in ("text", "markdown"):
        raise common.fail(f"--format must be text or markdown, not {output_format!r}")
    if markdown or output_format == "markdown":
        typer.echo(catalogue_table(common.load_catalogue(rules_dir)))
        return
    for rule in common.load_catalogue(rules_dir):
        fixed = f"  [fixed: {rule.fixed_in}]" if rule.fixed_in else ""
        typer.echo(f"{rule.id:30} {rule.severity:8} {rule.title}{fixed}")


@rules_app.command("show")
def rules_show(rule_id: str, rules_dir: Path | None = typer.Option(None, "--rules")) -> None:
    """Print one rule file."""
    rule = next((r for r in common.load_catalogue(rules_dir) if r.id == rule_id), None)
    if rule is None:
        raise common.fail(f"no rule {rule_id!r} (see: forensics rules list)")
    typer.echo(Path(rule.path).read_text(encoding="utf-8"))
    from forensics.rulecheck import cases

    for case in cases(rule_id, rules_dir):
        spec = (case / "case.yaml").read_text(encoding="utf-8")
        expect = spec.split("expect:", 1)[1].split()[0] if "expect:" in spec else "?"
        typer.echo(f"# fixture {case.name}: expect {expect}")


@rules_app.command("test")
def rules_test(
    rule_id: str | None = typer.Argument(None, help="only this rule's fixtures"),
    rules_dir: Path | None = typer.Option(None, "--rules"),
) -> None:
    """Run every rule (or one) against its positive and negative fixtures."""
    from forensics.engine.ruleset import rules_dir as bundled
    from forensics.rulecheck import cases, run_case

    rules = common.load_catalogue(rules_dir)
    found = cases(rule_id, rules_dir)
    if not found and not cases(None, rules_dir):
        raise common.fail(
            f"no rule fixtures in {(rules_dir or bundled()) / 'fixtures'}: they use samples/ and tests/fixtures "
            "of a checkout and are not installed; pass --rules <checkout>/rules"
        )
    if not found:
        raise common.fail(f"no fixtures for {rule_id or 'any rule'}")
    failed = 0
    for case in found:
        r = run_case(case, rules)
        failed += not r.ok
        mark = "ok  " if r.ok else "FAIL"
        typer.echo(
            f"{mark} {r.rule}/{r.case}: expected {r.expected}, got {r.got}"
            + (f" ({r.detail})" if r.detail else "")
        )
    typer.echo(f"{len(found) - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the --json output."""
    from forensics.report import SCHEMA_PATH

    typer.echo(SCHEMA_PATH.read_text(encoding="utf-8"))


@app.command()
def version() -> None:
    """Print the version, and whether the dump parser is the compiled build or pure Python."""
    from forensics import build

    typer.echo(f"{__version__} ({build()})")


def main() -> None:
    import errno

    from forensics import allocator

    allocator.glibc_heap()  # large inputs: freed heap reused, not faulted in afresh
    common.ONE_SHOT = True
    try:
        app()
    except KeyboardInterrupt:
        common.err.print("forensics: interrupted")
        sys.exit(130)
    except RecursionError:
        common.err.print(
            "forensics: input nested too deeply (directories or archives); give a shallower path",
            markup=False,
        )
        sys.exit(2)
    except (
        OSError
    ) as exc:  # the terminal summary or a report to stdout: a full device, a closed pipe
        if exc.errno not in (errno.ENOSPC, errno.EPIPE, errno.EDQUOT, errno.EFBIG, errno.EIO):
            raise
        try:
            os.dup2(
                os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno()
            )  # nothing more to flush at exit
        except (OSError, AttributeError, ValueError):
            pass
        try:
            common.err.print(
                f"forensics: cannot write the output: {exc.strerror or exc}", markup=False
            )
        except OSError:
            pass
        sys.exit(2)


if __name__ == "__main__":
    main()
