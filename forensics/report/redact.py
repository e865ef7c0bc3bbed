"""``--redact``: names that identify a customer replaced by stable pseudonyms across a whole report,
secrets masked.

What is replaced: host names (journal/syslog hosts, image registries, registry URLs; in any case, as
FQDNs, and wherever they stand: file and folder names and archive members included), IP addresses
(v4 and v6 in every notation, except loopback and unspecified), user names (home-directory paths,
URL credentials), container names and image names (from ``docker ps`` and the environment, and as
log lines spell them: ``Cannot kill container: NAME``, ``create?name=NAME``, ``fromImage=...``)
and image tags. The same name gets the same token everywhere in the report (``host-1``, ``ip-2``,
``user-1``, ``container-1``, ``image-1``, ``tag-1``); tokens are numbered in sorted order of the
names (the same inputs give the same tokens), or continue a mapping the user keeps
(``--redact-map``, as ``sos clean`` keeps one) so that pseudonyms hold across runs. The report lists
the tokens (never the names) in ``redaction``. Secrets are masked as ``[secret]``, never mapped:
URL passwords, ``key=value`` secrets (password, token, secret, key), bearer tokens, cloud access
keys. Container ids, goroutine ids and addresses are kept: they identify nothing outside the
daemon and tie the evidence together. Texts that come from the rule catalogue (titles,
explanations, remedies, references) are not customer data and are left as they are.
"""

from __future__ import annotations

import copy
import json
from urllib.parse import quote, quote_plus

import regex

KINDS = ["host", "ip", "user", "container", "image", "tag"]
SECRET = "[secret]"
KEEP_KEYS = {
    "schema",
    "revision",
    "tool",
    "generated",
    "verdict",
    "severity",
    "confidence",
    "status",
    "kind",
    "level",
    "levels",
    "signal",
    "id",
    "rule",
    "title",
    "explanation",
    "remedy",
    "references",
    "time",
    "start",
    "end",
    "how",
    "redaction",
}
KEEP_VALUES = {
    "127.0.0.1",
    "0.0.0.0",
    "::1",
    "::",
    "localhost",
    "root",
    "latest",
    # public registries: naming them tells nothing about the customer
    "docker.io",
    "registry-1.docker.io",
    "index.docker.io",
    "auth.docker.io",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "mcr.microsoft.com",
    "public.ecr.aws",
    "registry.k8s.io",
}
_IPV4 = regex.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.\d|\w)"
)
_IPV6 = regex.compile(
    r"(?<![\w:.])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}:){0,5}"
    r"[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,7}:|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})(?![\w:])",
    regex.IGNORECASE,
)
_USER_PATH = regex.compile(
    r"(?:/home/|/Users/|/var/home/|[A-Za-z]:\\Users\\)(?P<user>[^/\\\s\"':;,]+)"
)
_HEX_ID = regex.compile(r"[0-9a-f]{12}|[0-9a-f]{64}")
_TOKEN = regex.compile(r"(?:host|ip|user|container|image|tag)-\d+")
# A name is replaced where it stands alone: not inside a longer name (letters, digits, _ . - around it).
_BEFORE, _AFTER = r"(?<![\w.-])", r"(?![\w-]|\.\w)"
# Where dockerd's log lines name a container or an image (beside `docker ps` and the environment)
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_IMAGE_REF = r"[A-Za-z0-9][A-Za-z0-9_.:/-]*(?:@sha256:[0-9a-f]{64})?"
_CONTAINER_TEXT = regex.compile(
    rf"(?:(?:No such|Cannot \w+|[Cc]ould not \w+|[Ee]rror \w+) container:? \\?\"?/?(?P<name>{_NAME})"
    rf"|[?&]name=/?(?P<name>{_NAME})"
    rf"|container name \\?\"/(?P<name>{_NAME})"
    rf"|/containers/(?P<name>{_NAME})/)"
)
_CONTAINER_WORDS = {"json", "create", "prune", "container", "containers"}
_IMAGE_TEXT = regex.compile(
    rf"(?:No such image: |pull access denied for |[?&]fromImage=|image=\\?\"?|[Ii]mage \\?\")(?P<ref>{_IMAGE_REF})"
    rf"(?:&tag=(?P<tag>[\w][\w.-]*))?"
)
_URL_HOST = regex.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://(?:(?P<user>[^\s:/@\"'\\]+)(?::[^\s/@\"'\\]*)?@)?"
    r"(?P<host>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)"
)
# Secrets: masked, never mapped
# The key is the secret word alone, after a separator (db.password, AWS_SECRET_ACCESS_KEY, x-api-key),
# in camelCase (apiKey, clientSecret) or after a known prefix (apikey, authtoken, PGPASSWORD): never
# inside another word (monkey, turkey). A bare value runs to a space, a quote, or a `,` `;` `&` that
# ends it (followed by a space, the line's end or the next key=, as in a query string
# `?token=abc&x=1`): `password=abc,def` and `password=abc&def` are one value each.
_SECRET_WORD = r"(?:password|passwd|passphrase|token|secret|key)"
_KEY_VALUE = regex.compile(
    r"(?i)(?<![A-Za-z0-9])(?P<key>(?:[\w.-]*[_.-]|(?-i:[A-Za-z0-9]*[a-z](?=[A-Z]))"
    r"|api|access|secret|private|auth|client|session|refresh|pg)?"
    rf"{_SECRET_WORD}(?:\\?\")?\s*[=:]\s*)"
    r"(?:(?P<q>\\?\"|')(?P<quoted>.*?)(?P=q)|(?P<bare>(?:[^\s,;&\"'\\]|[,;&](?![\s,;&]|$|[\w.-]+=))+))"
)
_SECRETS = [
    (
        regex.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s:/@\"'\\]+:)[^\s/@\"'\\]+(?=@)"),
        rf"\1{SECRET}",
    ),
    (
        _KEY_VALUE,
        lambda m: f"{m['key']}{m['q']}{SECRET}{m['q']}" if m["q"] else f"{m['key']}{SECRET}",
    ),
    (regex.compile(r"(?i)(\b(?:bearer|basic)\s+)[^\s\"'\\,;]+"), rf"\1{SECRET}"),
    (
        regex.compile(
            r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Z0-9])"
        ),
        SECRET,
    ),
]
_FILE_SUFFIX = r"(?:log|txt|gz|xz|bz2|zst|tar|tgz|json|html|md|journal|out|err|stacks)\b"


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


def _image_parts(ref: str) -> tuple[str | None, str, str | None]:
    """(registry host without port or None, repository without tag or digest, tag or None) of an image reference."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        tag = last.split(":", 1)[1] or None
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    first, _, rest = name.partition("/")
    registry = first if rest and ("." in first or ":" in first or first == "localhost") else None
    return (registry.split(":", 1)[0] if registry else None), name, tag


def collect(report: dict) -> dict[str, str]:
    """Every name to replace -> its kind, from the report's environment and its texts (host names lower-cased)."""
    env = report.get("environment") or {}
    names: dict[str, str] = {}

    def add(value, kind: str) -> None:
        value = (value or "").strip() if isinstance(value, str) else None
        if kind == "host" and value:
            value = value.lower().rstrip(".")
        if value and value.lower() not in KEEP_VALUES and not _TOKEN.fullmatch(value):
            names.setdefault(value, kind)

    def image(ref: str, tag: str | None = None) -> None:
        registry, repository, own_tag = _image_parts(ref.strip("\"'\\"))
        if _HEX_ID.fullmatch(repository) or repository.startswith("sha256"):
            return
        add(registry, "host")
        add(repository, "image")
        add(tag or own_tag, "tag")

    for host in env.get("hosts", []) + [d.get("host") for d in env.get("daemons", [])]:
        add(host, "host")
    for ref in env.get("images", []):
        image(ref)
    containers = [c.get("name") for c in env.get("containers", [])]
    containers += [
        c.get("name") for f in report.get("findings", []) for c in f.get("container_refs", [])
    ]
    for name in containers:
        if name and not _HEX_ID.fullmatch(name):
            for part in name.split(","):
                add(part.lstrip("/"), "container")
    for text in _strings(report):
        for m in _IPV4.finditer(text):
            add(m.group(), "ip")
        for m in _IPV6.finditer(text):
            if any(c.isalpha() for c in m.group()) or m.group().count(":") > 2 or "::" in m.group():
                add(m.group(), "ip")
        for m in _USER_PATH.finditer(text):
            add(m["user"], "user")
        for m in _URL_HOST.finditer(text):
            if m["user"] or "/v2/" in text[m.end() : m.end() + 8] or m["user"] is not None:
                add(m["user"], "user")
                add(m["host"], "host")
        for m in _CONTAINER_TEXT.finditer(text):
            name = m["name"].rstrip(".:")
            if name and not _HEX_ID.fullmatch(name) and name.lower() not in _CONTAINER_WORDS:
                add(name, "container")
        for m in _IMAGE_TEXT.finditer(text):
            image(m["ref"].rstrip(".:,"), m["tag"])
    images = sorted((n for n, k in names.items() if k == "image"), key=len, reverse=True)
    if images:  # the tags written after a known image name, wherever it stands
        tagged = regex.compile(
            rf"{_BEFORE}(?:{'|'.join(regex.escape(i) for i in images)})(?::|%3A)(?P<tag>[\w][\w.-]*)"
        )
        for text in _strings(report):
            for m in tagged.finditer(text):
                add(m["tag"], "tag")
    return names


def _host_pattern(hosts) -> regex.Pattern:
    """Host names in any case and as FQDNs (``db.example.com``), wherever they stand. A name of several
    labels (``acme-prod-db07``) is replaced inside file and folder names too (``case-acme-prod-db07-1``,
    ``acme-prod-db07_dockerd.log``); a one-label name (``db``) only where it is a whole label: never
    inside ``db-backup``, ``mydb`` or ``backup.db``."""

    def alternatives(names) -> str:
        return "|".join(regex.escape(h) for h in sorted(names, key=len, reverse=True))

    fqdn = rf"(?:\.(?!{_FILE_SUFFIX})[a-z0-9-]+)*"
    several = [h for h in hosts if regex.search(r"[-.]", h)]
    single = [h for h in hosts if h not in several]
    forms = (
        [rf"(?<![A-Za-z0-9])(?P<host>{alternatives(several)}){fqdn}(?![A-Za-z0-9])"]
        if several
        else []
    )
    if single:
        forms.append(rf"(?<![A-Za-z0-9.-])(?P<host>{alternatives(single)}){fqdn}(?![A-Za-z0-9-])")
    return regex.compile("|".join(forms), regex.IGNORECASE)


def _tokens(names: dict[str, str], known: dict[str, str] | None = None) -> dict[str, str]:
    """name -> token: ``known`` (a kept mapping) first, new names numbered on from it in sorted order."""
    out = dict(known or {})
    counters = dict.fromkeys(KINDS, 0)
    for token in out.values():
        kind, _, n = token.rpartition("-")
        if kind in counters and n.isdigit():
            counters[kind] = max(counters[kind], int(n))
    for name, kind in sorted(names.items(), key=lambda item: (KINDS.index(item[1]), item[0])):
        if name not in out:
            counters[kind] += 1
            out[name] = f"{kind}-{counters[kind]}"
    return out


def mask_secrets(text: str) -> str:
    """``text`` with URL passwords, key=value secrets, bearer tokens and cloud access keys masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class Redactor:
    """One mapping for any number of documents (a report, a fleet scan's rows and per-host reports):
    the names of all of them are collected first and numbered together, so the same name gets the
    same token in every document, whatever order they came in. ``known``: a mapping kept from
    earlier runs (name -> token), extended in place."""

    @classmethod
    def of(cls, documents: list, known: dict[str, str] | None = None) -> Redactor:
        """The redactor of every name collected from ``documents``."""
        return cls.numbered([collect(document) for document in documents], known)

    @classmethod
    def numbered(cls, collected: list[dict], known: dict[str, str] | None = None) -> Redactor:
        """The redactor of names already collected (:func:`collect`, e.g. in workers), in order."""
        names: dict[str, str] = {}
        for found in collected:
            for name, kind in found.items():
                names.setdefault(name, kind)
        tokens = _tokens(names, known)
        if known is not None:
            known.update(tokens)
        return cls({name: tokens[name] for name in names})

    def __init__(self, used: dict[str, str]):
        """``used``: name -> token, the names to replace (a kept mapping will do)."""
        self.used = used
        self.hosts = {name: token for name, token in used.items() if token.startswith("host-")}
        self.spelled: dict[str, str] = {}
        for name, token in used.items():  # as written, and as URL-encoded in request paths
            if token.startswith(("host-", "tag-")):
                continue
            for form in (
                name,
                quote(name, safe=""),
                quote_plus(name, safe=""),
                quote(name, safe="/"),
            ):
                self.spelled.setdefault(form, token)
        self.images = {name: token for name, token in used.items() if token.startswith("image-")}
        self.tags = {name: token for name, token in used.items() if token.startswith("tag-")}
        self.pattern = self.host_pattern = None
        if self.spelled:
            alternatives = "|".join(
                regex.escape(s) for s in sorted(self.spelled, key=len, reverse=True)
            )
            self.pattern = regex.compile(
                f"{_BEFORE}(?P<name>{alternatives})(?:(?P<sep>:|%3A)(?P<tag>[\\w][\\w.-]*))?{_AFTER}"
            )
        if self.hosts:
            self.host_pattern = _host_pattern(self.hosts)

    def _name(self, m) -> str:
        token = self.spelled[m["name"]]
        if m["tag"] is None:
            return token
        tag = (
            self.tags.get(m["tag"], m["tag"])
            if m["name"] in self.images or token in self.images.values()
            else m["tag"]
        )
        return f"{token}{m['sep']}{tag}"

    def text(self, value: str) -> str:
        """One string with secrets masked and every name replaced."""
        value = mask_secrets(value)
        if self.pattern is not None:  # first: an image name holds its registry host
            value = self.pattern.sub(self._name, value)
        if self.host_pattern is not None:
            value = self.host_pattern.sub(lambda m: self.hosts[m["host"].lower()], value)
        if self.tags:  # a tag given apart from its image (fromImage=...&tag=TAG)
            value = regex.sub(
                r"(?<=[?&]tag=)[\w][\w.-]*",
                lambda m: self.tags.get(m.group(), m.group()),
                value,
            )
        return value

    def walk(self, node, key: str | None = None):
        """A copy of ``node`` with every string redacted but those under :data:`KEEP_KEYS`."""
        if key in KEEP_KEYS:
            return copy.deepcopy(node)
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, dict):
            return {k: self.walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [self.walk(v, key) for v in node]
        return node

    def summary(self) -> dict:
        """The ``redaction`` block: the tokens used (never the names)."""
        return {
            "applied": True,
            "tokens": [
                {"token": t, "kind": t.rsplit("-", 1)[0]}
                for t in sorted(set(self.used.values()), key=_order)
            ],
        }

    def report(self, report: dict) -> dict:
        """A redacted copy of ``report`` with ``redaction`` filled."""
        out = self.walk(report)
        out["redaction"] = self.summary()
        return out


def redact(report: dict, known: dict[str, str] | None = None) -> dict:
    """A copy of ``report`` with every collected name replaced by its pseudonym, secrets masked and
    ``redaction`` filled. ``known``: a mapping kept from earlier runs (name -> token), extended in place."""
    return Redactor.of([report], known).report(report)


def load_map(path: str) -> dict[str, str]:
    """A mapping kept by ``--redact-map`` (name -> token); an absent file is an empty mapping."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    mapping = data.get("names") if isinstance(data, dict) else None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and _TOKEN.fullmatch(v)
        for k, v in mapping.items()
    ):
        raise ValueError(f"{path}: not a forensics redaction map")
    return mapping


def dump_map(mapping: dict[str, str]) -> str:
    """The mapping as written by ``--redact-map``: keep it private, it undoes the redaction."""
    return json.dumps(
        {
            "schema": "forensics-redact-map/1",
            "names": dict(sorted(mapping.items(), key=lambda i: _order(i[1]))),
        },
        indent=2,
        ensure_ascii=False,
    )


def _order(token: str) -> tuple[int, int]:
    kind, _, n = token.rpartition("-")
    return KINDS.index(kind), int(n)
