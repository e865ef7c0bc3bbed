"""What the commands share: the error line and exit, checked option values, the rule catalogue,
the time window, output writing and the --redact-map file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

# set by forensics.cli.main: the process ends with the command (not so for in-process tests)
ONE_SHOT = False


def line(text: str) -> str:
    """One line for the terminal: control characters (escape sequences, newlines) shown, not obeyed."""
    from forensics.report.html import visible

    return visible(text).replace("\n", "⟨U+000A⟩")


def __getattr__(name: str) -> Console:
    """``err``: rich's Console on stderr, made when first used (importing rich took 25 ms of every
    run, also of those that print nothing on stderr)."""
    if name == "err":
        return error_console()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def error_console() -> Console:
    """rich's Console on stderr (``err``), one for the process."""
    if "err" not in globals():
        from rich.console import Console

        globals()["err"] = Console(stderr=True, highlight=False, soft_wrap=True)
    return globals()["err"]


def fail(message: str, code: int = 2) -> typer.Exit:
    error_console().print(f"forensics: {line(message)}", markup=False)
    return typer.Exit(code)


def engine_version(value: str | None) -> str | None:
    """--engine-version checked: a release number such as 27.4.1 (v27.4.1, 20.10.24+dfsg1), never a guess."""
    from forensics.parse.versions import parse

    if value is None:
        return None
    text = value.strip()
    number = text.lstrip("v").split("-")[0].split("+")[0].split("~")[0]
    if (
        parse(text) is None
        or "." not in number
        or not all(p.isdigit() for p in number.split("."))
        or not 2 <= len(number.split(".")) <= 3
    ):
        raise fail(f"--engine-version {value!r} is not a Docker Engine version (such as 27.4.1)")
    return text


def load_catalogue(rules_dir: Path | None):
    from forensics.engine.ruleset import (  # pandas comes with it: only commands that need rules
        RuleError,
        load_rules,
    )

    try:
        return load_rules(rules_dir)
    except RuleError as exc:
        raise fail(f"rule error: {exc}") from None


def write(path: str, text: str) -> None:
    from forensics.cli import outputs

    outputs.emit(path, text)


def map_not_on_stdout(redact_map: str | None) -> None:
    if redact_map == "-":
        raise fail("--redact-map needs a file (the mapping undoes the redaction: never on stdout)")


SINCE_HELP = (
    "only evidence from this time on: a duration ago (2h, 3d) or a time (2025-01-07T15:00:00Z; "
    "local without a zone)"
)
UNTIL_HELP = (
    "only evidence up to this time: a duration ago (2h, 3d) or a time (2025-01-07T15:00:00Z)"
)


def window(since: str | None, until: str | None):
    from forensics.parse.scope import parse_window

    try:
        return parse_window(since, until)
    except ValueError as exc:
        raise fail(str(exc)) from None


MARKDOWN_HELP = "write Markdown for a ticket to this file (at most 30,000 characters; - for stdout)"
REDACT_HELP = (
    "replace host names, IP addresses, user names, container and image names and tags by pseudonyms, "
    "and mask secrets, in every output"
)
REDACT_MAP_HELP = (
    "with --redact: keep the name -> pseudonym mapping in this file (read if it exists, then written "
    "back), so pseudonyms hold across runs; keep it private"
)


def load_map(redact_map: str | None) -> dict[str, str]:
    """The mapping kept in ``--redact-map`` (empty when not given or not there yet)."""
    from forensics.report.redact import load_map

    if not redact_map:
        return {}
    try:
        return load_map(redact_map)
    except (OSError, ValueError) as exc:
        raise fail(f"--redact-map {redact_map}: {getattr(exc, 'strerror', None) or exc}") from None


def save_map(redact_map: str | None, known: dict[str, str]) -> None:
    from forensics.cli import outputs
    from forensics.report.redact import dump_map

    if redact_map:
        outputs.emit(redact_map, dump_map(known), mode=0o600)  # it undoes the redaction
