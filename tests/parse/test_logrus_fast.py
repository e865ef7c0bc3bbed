"""The quick forms of logrus.parse (the quoted-value pattern written as runs, the escapes of a
value undone by replace where each backslash escapes a quote, a newline or a tab, the fields made
by ``dict`` with only the quoted values unquoted, logrus's own time form read straight) read every
line as the plain per-line forms below do: every line of the captures in samples/ and
tests/fixtures/, and escapes where the quick and the slow paths meet."""

import re
from pathlib import Path

import pytest

from forensics.parse import logrus

ROOT = Path(__file__).resolve().parents[2]
# the plain forms: one alternation per character, each escape undone by a callback
PLAIN_PAIR = re.compile(r'\s*(?P<key>[^\s="]{1,128})=(?P<val>"(?:[^"\\]|\\.)*"|"[^\n]*|[^\s]*)')


def plain_unquote(value: str) -> str:
    if len(value) < 2 or value[0] != '"':
        return value
    body = value[1:-1] if logrus._closed(value) else value[1:]
    return logrus._ESCAPES.sub(logrus._one, body)


def plain_parse(text: str):
    fields = {key: plain_unquote(value) for key, value in PLAIN_PAIR.findall(text[: 1 << 16])}
    if "level" not in fields and "msg" not in fields:
        return None
    msg = fields.pop("msg", "")
    return (logrus.general_time(fields.pop("time", "")), fields.pop("level", None), msg, fields)


def quick(text: str):
    line = logrus.parse(text)
    return None if line is None else (line.time, line.level, line.msg, line.fields)


def logrus_texts() -> list[str]:
    out = []
    for folder in (ROOT / "samples", ROOT / "tests" / "fixtures"):
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix not in (".log", ".txt", ""):
                continue
            for line in path.read_text(errors="replace").splitlines():
                at = line.find('time="')
                if at >= 0:
                    out.append(line[at:])
    return out


def test_the_pair_pattern_for_texts_without_a_backslash_finds_the_same_pairs():
    texts = [text for text in logrus_texts() if "\\" not in text]
    assert len(texts) > 5000
    texts += ['time="x" msg="unterminated k=v', 'a="b"c d=="e" f=\u00a0g h="" i="j\nk" l']
    for text in texts:
        assert logrus._PAIR_PLAIN.findall(text) == logrus._PAIR.findall(text), text


def test_every_captured_logrus_line_reads_as_line_by_line():
    texts = logrus_texts()
    assert len(texts) > 5000 and sum("\\" in text for text in texts) > 100
    for text in texts:
        assert quick(text) == plain_parse(text), text


ESCAPED = [
    r'"form data: {\"Cmd\":[\"sleep\"]}"',  # quotes only: replaced
    r'"two\nlines\tand a tab \"quoted\""',  # quotes, newlines, tabs: replaced
    r'"a backslash \\ then \"x\""',  # an escaped backslash: by the callback
    r'"\\"',  # one escaped backslash
    r'"\\\"\\n"',  # a backslash, a quote, a backslash and n
    r'"ends in an escaped quote\""',
    r'"cut after an escaped quote \"',  # unterminated (journald cut it)
    r'"cut after a backslash \\',
    '"cut at a lone backslash \\',
    r'"\x41\u00e9\n\101"',  # hex, unicode and octal beside a newline
    r'"\q unknown escape and \"quote\""',
    '"a real newline after a backslash \\\n"',
]


@pytest.mark.parametrize("value", ESCAPED)
def test_escapes_undone_as_by_the_callback(value):
    assert logrus.unquote(value) == plain_unquote(value)
    text = f'time="2026-11-29T12:28:10Z" level=warning msg={value} after="x\\"y" k=v'
    assert quick(text) == plain_parse(text)


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-24T01:15:41.127328614Z",  # logrus's own form: the quick path
        "2026-11-24T01:15:41.12732861Z",
        "2026-11-24T01:15:41.127328614z",
        "2026-11-24T01:15:41.12732861xZ",
        "2026-11-24T01:15:41.12732861\u0663Z",  # an Arabic-Indic digit
        "20261124T011541.1273286140000Z",
        "2026-11-24T01:15:41.127328614+01:00",
        "2026-11-24 01:15:41.127328614Z",
        "2026-13-24T01:15:41.127328614Z",  # no 13th month
        "2026-11-24T01:15:41Z",
        "2026-11-24T01:15:41.1Z",
    ],
)
def test_times_read_as_by_the_general_path(stamp):
    assert logrus.parse_time(stamp) == logrus.general_time(stamp)
    text = f'time="{stamp}" level=info msg="x"'
    assert quick(text) == plain_parse(text)


def test_a_repeated_key_keeps_its_last_value_at_its_first_place():
    text = r'time="2026-11-29T12:28:10Z" level=info id="a b" msg="x" id=c k="q\"" id="d\"e"'
    assert quick(text) == plain_parse(text)
    assert list(logrus.parse(text).fields.items()) == [("id", 'd"e'), ("k", 'q"')]
    text = 'time="2026-11-29T12:28:10Z" level=info id=a msg="x" id="b c"'
    assert quick(text) == plain_parse(text)


def test_the_repeat_key_is_what_one_quick_pattern_over_the_whole_line_reads():
    from forensics.parse import _VARIABLE, repeat_key

    whole = re.compile(r'time="[^"]{0,40}" level=(\w{1,8}) msg="((?:[^"\\]|\\.){0,160})')

    def plain_key(text):
        m = whole.match(text)
        return (m[1], _VARIABLE.sub("#", m[2])) if m else (None, _VARIABLE.sub("#", text[:160]))

    texts = logrus_texts()
    assert sum("\\" in text for text in texts) > 100
    texts += [
        'time="x" level=info msg="' + "a" * 200,
        'time="x" level=info msg="' + "\\n" * 200,
        'time="x" level=info msg="a"b"',
        'time="' + "9" * 40 + '" level=info msg="a 40-character stamp"',
        'time="' + "9" * 41 + '" level=info msg="a 41-character stamp"',
        'time="a\\"b" level=info msg="an escaped quote in the stamp"',
        'time="" level=verylonglevel msg="x"',
        "level=x",
    ]
    for text in texts + texts:  # the second time from the cache
        assert repeat_key(text) == plain_key(text), text


TIME_SPLIT = [
    'time="2026-11-29T12:28:10.720572894Z" level=debug msg="Calling GET /_ping"',
    'time="2026-11-29T12:28:10Z" level=info msg="x" time="2026-11-29T12:28:11Z"',  # twice: the last
    'time="" level=info msg="no time"',
    'time="a b" level=info msg="a stamp with a space"',
    'time="unterminated level=info msg="x"',
    'time="' + "9" * 100 + '" level=info msg="a long stamp"',
    'time="2026-11-29T12:28:10Z"level=info msg="no space after the stamp"',
    'time="2026-11-29T12:28:10Z" k=v',  # neither level nor msg: not logrus
    'level=info msg="no time"',
    'time="2026-11-29T12:28:10Z" level=info msg="' + "long " * 300 + '"',
    "time=2026-11-29T12:28:10Z level=info msg=bare",
]


@pytest.mark.parametrize("text", TIME_SPLIT)
def test_the_text_after_the_time_read_once_reads_as_the_whole_line(text):
    first, again = quick(text), quick(text)
    assert first == again == plain_parse(text)
    if first is not None:
        assert logrus.parse(text).fields is not logrus.parse(text).fields  # each line its own


def test_every_captured_logrus_line_reads_the_same_a_second_time():
    texts = logrus_texts()
    for text in texts + texts:
        assert quick(text) == plain_parse(text), text


def test_an_open_quote_is_found_as_by_one_search_of_the_whole_line():
    from forensics.parse import _OPEN_QUOTE, open_quote

    texts = logrus_texts()
    texts += [text[:-1] for text in texts if text.endswith('"')]  # cut before the closing quote
    texts += [text[: len(text) // 2] for text in texts[:2000]]  # cut anywhere
    texts += [
        'time="a msg=" level=info k=v',  # a time ending with msg=: a match starting inside it
        'time="a msg=" level=info msg=x',
        'time="2026-11-29T12:28:10Z" level=info msg="open \\" still',
        'time="2026-11-29T12:28:10Z" level=info msg="closed" k="open',
        'time="2026-11-29T12:28:10Z"msg="no space before msg',
        'time="' + "9" * 100 + '" level=info msg="a long time',
        'level=info msg="no time',
    ]
    assert sum(_OPEN_QUOTE.search(text) is not None for text in texts) > 1000
    for text in texts + texts:  # the second time from the cache
        assert open_quote(text) == (_OPEN_QUOTE.search(text) is not None), text
