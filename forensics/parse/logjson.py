"""logrus JSON lines (``dockerd --log-format=json``, dockerd >= 25; containerd ``format = "json"``).

``{"level":"info","msg":"Docker daemon","time":"2025-01-07T15:20:01.123456789Z","version":"27.4.1"}``:
keys sorted, field values keep their JSON types (``"containerd-snapshotter":false``); they are
turned into the strings the text form would show (``false``), so rules see one shape.
"""

from __future__ import annotations

import json

from forensics.parse.logrus import LEVELS, LogLine, parse_time


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return (
        ""
        if value is None
        else json.dumps(value)
        if isinstance(value, (dict, list))
        else str(value)
    )


def parse(text: str) -> LogLine | None:
    """A logrus JSON line, or None when the text is not one."""
    if not text.startswith("{") or '"msg"' not in text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "msg" not in obj or not ("level" in obj or "time" in obj):
        return None
    fields = {str(k): _text(v) for k, v in obj.items()}
    level = fields.pop("level", None)
    level = LEVELS.get(level[:4].lower(), level) if level else None
    return LogLine(parse_time(fields.pop("time", "")), level, fields.pop("msg"), fields)
