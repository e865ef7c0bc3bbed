"""``--redact``: names that identify a customer replaced by stable pseudonyms across a whole report.

What is replaced: host names (journal/syslog hosts, image registries), IP addresses (v4 and v6,
except loopback and unspecified), user names in home-directory paths, container names and image
names. The same name gets the same token everywhere in the report (``host-1``, ``ip-2``,
``user-1``, ``container-1``, ``image-1``), tokens are numbered in sorted order of the names (the
same inputs give the same tokens), and the report lists the tokens (never the names) in
``redaction``. Container ids, goroutine ids and addresses are kept: they identify nothing outside
the daemon and tie the evidence together. Texts that come from the rule catalogue (titles,
explanations, remedies, references) are not customer data and are left as they are.
"""
from __future__ import annotations

import copy
from urllib.parse import quote, quote_plus

import regex

KINDS = ["host", "ip", "user", "container", "image"]
KEEP_KEYS = {"schema", "revision", "tool", "generated", "verdict", "severity", "confidence", "status", "kind",
             "level", "levels", "signal", "id", "rule", "title", "explanation", "remedy", "references", "time",
             "start", "end", "how", "redaction"}
KEEP_VALUES = {"127.0.0.1", "0.0.0.0", "::1", "::", "localhost", "root"}
_IPV4 = regex.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.\d|\w)")
_IPV6 = regex.compile(r"(?<![\w:.])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}:){0,5}"
                      r"[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,7}:|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})(?![\w:])",
                      regex.IGNORECASE)
_USER_PATH = regex.compile(r"(?:/home/|/Users/|/var/home/|[A-Za-z]:\\Users\\)(?P<user>[^/\\\s\"':;,]+)")
_TOKEN = regex.compile(r"(?:host|ip|user|container|image)-\d+")
# A name is replaced where it stands alone: not inside a longer name (letters, digits, _ . - around it).
_BEFORE, _AFTER = r"(?<![\w.-])", r"(?![\w-]|\.\w)"


def _strings(node, key: str | None = None):
    """Every string of the report a customer's name can be in (not the rule catalogue's texts)."""
    if key in KEEP_KEYS:
        return
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v, key)


def _image_repository(ref: str) -> tuple[str | None, str]:
    """(registry host or None, repository without tag or digest) of an image reference."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    first, _, rest = name.partition("/")
    registry = first if rest and ("." in first or ":" in first or first == "localhost") else None
    return registry, name


def collect(report: dict) -> dict[str, str]:
    """Every name to replace -> its kind, from the report's environment and its texts."""
    env = report.get("environment") or {}
    names: dict[str, str] = {}

    def add(value, kind: str) -> None:
        value = (value or "").strip() if isinstance(value, str) else None
        if value and value not in KEEP_VALUES and not _TOKEN.fullmatch(value):
            names.setdefault(value, kind)

    for host in env.get("hosts", []) + [d.get("host") for d in env.get("daemons", [])]:
        add(host, "host")
    for image in env.get("images", []):
        registry, repository = _image_repository(image)
        add(registry, "host")
        add(repository, "image")
    containers = [c.get("name") for c in env.get("containers", [])]
    containers += [c.get("name") for f in report.get("findings", []) for c in f.get("container_refs", [])]
    for name in containers:
        for part in (name or "").split(","):
            add(part.lstrip("/"), "container")
    for text in _strings(report):
        for m in _IPV4.finditer(text):
            add(m.group(), "ip")
        for m in _IPV6.finditer(text):
            if any(c.isalpha() for c in m.group()) or m.group().count(":") > 2:
                add(m.group(), "ip")
        for m in _USER_PATH.finditer(text):
            add(m["user"], "user")
    return names


def _tokens(names: dict[str, str]) -> dict[str, str]:
    counters = dict.fromkeys(KINDS, 0)
    out = {}
    for name, kind in sorted(names.items(), key=lambda item: (KINDS.index(item[1]), item[0])):
        counters[kind] += 1
        out[name] = f"{kind}-{counters[kind]}"
    return out


def redact(report: dict) -> dict:
    """A copy of ``report`` with every collected name replaced by its pseudonym, and ``redaction`` filled."""
    tokens = _tokens(collect(report))
    spelled: dict[str, str] = {}
    for name, token in tokens.items():  # as written, and as URL-encoded in request paths
        for form in (name, quote(name, safe=""), quote_plus(name, safe=""), quote(name, safe="/")):
            spelled.setdefault(form, token)
    pattern = None
    if spelled:
        alternatives = "|".join(regex.escape(s) for s in sorted(spelled, key=len, reverse=True))
        pattern = regex.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}")

    def walk(node, key: str | None = None):
        if key in KEEP_KEYS or pattern is None:
            return node
        if isinstance(node, str):
            return pattern.sub(lambda m: spelled[m.group()], node)
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, key) for v in node]
        return node

    out = walk(copy.deepcopy(report))
    out["redaction"] = {"applied": True, "tokens": [{"token": t, "kind": t.rsplit("-", 1)[0]}
                                                     for t in sorted(set(tokens.values()), key=_order)]}
    return out


def _order(token: str) -> tuple[int, int]:
    kind, _, n = token.rpartition("-")
    return KINDS.index(kind), int(n)
