"""logrus text lines, as dockerd and containerd write them.

File form:  ``time="2025-01-07T15:25:41.123456789Z" level=info msg="API listen" k=v``
TTY form:   ``INFO[2018-07-24T08:11:07.397856489Z] starting containerd   k=v`` or ``INFO[0000] …``

Values are bare when every character is in ``[a-zA-Z0-9-._/@^+]`` and otherwise
quoted with Go's ``%q`` (``\\n``, ``\\t``, ``\\"``, ``\\xNN``, ``\\uNNNN``); the
unquoting here undoes exactly that.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime

import regex

LEVELS = {
    "trac": "trace",
    "debu": "debug",
    "info": "info",
    "warn": "warning",
    "erro": "error",
    "fata": "fatal",
    "pani": "panic",
}
# a quoted value: up to the first quote no backslash escapes (written as runs between escapes:
# re matches a run of plain characters in one step, an alternation one character at a time)
_QUOTED = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_KEY_VALUE = r'\s*(?P<key>[^\s="]{{1,128}})=(?P<val>{quoted}|"[^\n]*|\S*)'
_PAIR = re.compile(_KEY_VALUE.format(quoted=_QUOTED))
# the same pairs in a text with no backslash, where nothing can be escaped (twice as fast: re
# runs a negated single character faster than a character set)
_PAIR_PLAIN = re.compile(_KEY_VALUE.format(quoted='"[^"]*"'))
_TTY = regex.compile(
    r"(?:\x1b\[\d+(?:;\d+)*m)?(?P<lvl>TRAC|DEBU|INFO|WARN|ERRO|FATA|PANI)(?:\x1b\[0m)?"
    r"\[(?P<ts>[^\]]{1,40})\] (?P<msg>.*?)(?P<rest>(?: {2,}|\t)[^\s=]+=.*)?$"
)
_ESCAPES = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
_SIMPLE = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "'": "'",
}


@dataclass(slots=True)
class LogLine:
    time: datetime | None
    level: str | None
    msg: str
    fields: dict[str, str] = field(default_factory=dict)


def _closed(value: str) -> bool:
    """A quoted value ends with a quote that no backslash escapes."""
    if len(value) < 2 or value[-1] != '"':
        return False
    slashes = len(value) - 1 - len(value[:-1].rstrip("\\"))
    return slashes % 2 == 0


def _one(m: re.Match) -> str:
    """One Go escape undone."""
    esc = m.group()[1:]
    if esc[0] in "xuU" and len(esc) > 1:
        code = int(esc[1:], 16)
        if esc[0] == "x":
            return bytes([code]).decode("latin-1")
        return chr(code) if code <= 0x10FFFF else m.group()  # not a code point: left as written
    if esc[0] in "01234567" and len(esc) == 3:
        return chr(int(esc, 8))
    return _SIMPLE.get(esc, esc)


def unquote(value: str) -> str:
    """Undo Go's %q quoting (bare values are returned as they are)."""
    if len(value) < 2 or value[0] != '"':
        return value
    if value[-1] == '"' and "\\" not in value:  # the common case: nothing escaped
        return value[1:-1]
    body = value[1:-1] if _closed(value) else value[1:]  # unterminated: a cut line
    if "\\" not in body:
        return body
    quotes, newlines, tabs = body.count('\\"'), body.count("\\n"), body.count("\\t")
    if body.count("\\") == quotes + newlines + tabs:  # each backslash escapes one of these
        if quotes:  # (a JSON body logged, a logrus line quoting another)
            body = body.replace('\\"', '"')
        if newlines:
            body = body.replace("\\n", "\n")
        return body.replace("\\t", "\t") if tabs else body
    return _ESCAPES.sub(_one, body)


def parse_time(text: str) -> datetime | None:
    """RFC 3339 with up to nine fractional digits (Python keeps six)."""
    if (
        len(text) == 30
        and text[29] == "Z"
        and text[19] == "."
        and text[4] == "-"
        and not text[20:29].strip("0123456789")
    ):
        return _iso(text[:26] + "+00:00")  # logrus's own form: what the general path makes of it
    return general_time(text)


def general_time(text: str) -> datetime | None:
    """:func:`parse_time` of any text, without its shortcut for logrus's own 30-character form."""
    if len(text) < 19 or text[4] != "-":
        return None
    head, frac, zone = text[:19], "", text[19:]
    if zone.startswith("."):
        digits = len(zone) - len(zone[1:].lstrip("0123456789"))
        frac, zone = zone[1:digits][:6], zone[digits:]
        frac = "." + frac.ljust(6, "0") if frac else ""
    if zone in ("Z", "z"):
        zone = "+00:00"
    return _iso(head + frac + zone)


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _fields(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """key -> value, quoted values unquoted (the last of a repeated key, at its first place)."""
    fields = dict(pairs)
    for key, value in fields.items():
        if value[:1] == '"':
            fields[key] = unquote(value)
    return fields


def _read(text: str) -> tuple[str | None, str | None, str, dict[str, str]] | None:
    """The time, level, message and other fields of key=value text, or None without level and msg."""
    fields = _fields((_PAIR if "\\" in text else _PAIR_PLAIN).findall(text))
    if "level" not in fields and "msg" not in fields:
        return None
    msg = fields.pop("msg", "")
    return fields.pop("time", None), fields.pop("level", None), msg, fields


# a daemon repeats what follows the time word for word (a few hundred texts in 10^5 lines): each
# is read once (texts of up to 1,024 characters: 2 MB at most)
_read_once = functools.lru_cache(maxsize=2048)(_read)


def time_end(text: str, longest: int = 73) -> int:
    """Where the quote closing a leading ``time="..."`` stands, for a time of at most ``longest``
    characters; -1 when the text does not start with such a pair."""
    return text.find('"', 6, 7 + longest) if text.startswith('time="') else -1


def parse(text: str) -> LogLine | None:
    """A logrus line, or None when the text is not one."""
    if text.startswith("time=") or text.startswith("level="):
        stamp, rest = "", text[: 1 << 16]
        end = time_end(text)
        if end > 6 and "\\" not in text[6:end]:  # the first pair is time="<stamp>": split it off
            stamp, rest = text[6:end], text[end + 1 : 1 << 16]
        read = _read_once(rest) if len(rest) <= 1024 else _read(rest)
        if read is None:
            return None
        when, level, msg, fields = read
        return LogLine(parse_time(stamp if when is None else when), level, msg, dict(fields))
    if text[:1] in "TDIWEFP\x1b":
        m = _TTY.match(text[: 1 << 16])
        if m:
            fields = _fields(_PAIR.findall(m["rest"] or ""))
            return LogLine(parse_time(m["ts"]), LEVELS[m["lvl"].lower()], m["msg"].rstrip(), fields)
    return None
