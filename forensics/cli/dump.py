"""``forensics dump FILE…``: buckets and the lock wait-for graph of goroutine dumps.

Plain dump files (SIGUSR1 files, pprof output, SIGQUIT stderr, daemon logs with a dump in them)
are read whole by the bulk parser (:mod:`forensics.parse.fastdump`); anything where it finds no dump
(journal or syslog renderings, compressed or archived inputs that hold no plain dump) goes
through the same envelope and segmenter stages as ``forensics analyze``.
Exit status: 0 no lock trouble, 1 an orphaned lock or a deadlock, 2 nothing could be read.  A lock without
holder in a partial dump (a pasted excerpt) is "holder-unseen", not orphaned: exit 0.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from operator import attrgetter
from typing import TYPE_CHECKING, NoReturn

import typer

from forensics.cli import common
from forensics.cli.common import fail, write
from forensics.engine.dumpversion import infer, source_url
from forensics.goroutines.buckets import Bucket, buckets, select
from forensics.goroutines.calls import describe as describe_call
from forensics.goroutines.calls import join
from forensics.goroutines.completeness import judge
from forensics.goroutines.locks import analyze_locks, deadlock_cycles, other_waits
from forensics.ingest import sources
from forensics.model import Dump
from forensics.parse import dump_file_time, fastdump, parse_records, programs
from forensics.parse.fastdump import parse_slabs, paused_gc, texts
from forensics.parse.stacks import groups

if TYPE_CHECKING:
    from forensics.goroutines.diff import DumpDiff

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
FRAMES_SHOWN = 12  # frames per bucket in the terminal (JSON and HTML carry them all)
READ_SIZE = fastdump.READ_SIZE
STATUS_SHOWN = {"holder-unseen": "HOLDER NOT AMONG THE GIVEN GOROUTINES"}
COUNT = attrgetter("count")


def load(paths: list[str], problems: list[sources.Problem]) -> list[Dump]:
    """Every goroutine dump in ``paths`` (files, directories, compressed files, ``-``)."""
    dumps: list[Dump] = []
    for inp in sources.walk(paths, problems):
        plain = inp.path is not None and not inp.layers  # a file on disk: read again if need be
        kept: list[bytes] | None = None if plain else []
        try:
            first = inp.stream.read(READ_SIZE)
            if sources.looks_binary(first[: sources.SNIFF]):
                problems.append(
                    sources.Problem(
                        inp.name, 1, "binary data, not a goroutine dump; skipped", fatal=True
                    )
                )
                continue
            found = parse_slabs(texts(first, inp.stream, kept), inp.name)
            if not found:  # journal / syslog / JSON renderings: the envelope stages of `analyze`
                from forensics.ingest import envelopes  # imported here: most runs read plain dumps

                if plain:
                    inp.stream.seek(0)
                data = inp.stream if plain else io.BufferedReader(io.BytesIO(b"".join(kept)))
                again = sources.Input(
                    inp.name, inp.path, inp.size if plain else sum(map(len, kept)), data, inp.mtime
                )
                found = parse_records(envelopes.read(again, problems)).dumps
        except sources.READ_ERRORS as exc:
            problems.append(sources.Problem(inp.name, None, f"read error: {exc}", fatal=True))
            continue
        for d in programs.label(found):
            d.time = d.time or dump_file_time(d.source)
            problems.extend(d.warnings)
        dumps.extend(found)
    return dumps


def _bucket(b: Bucket, waiting: dict[int, str], tag: str | None = None) -> dict:
    low, high = b.waits
    ids = [g.id for g in b.goroutines[:50]]
    return {
        "count": b.count,
        "header": b.header(),
        "ids": ids,
        "ids_total": len(b.goroutines),
        "states": b.states,
        "wait_min": low,
        "wait_max": high,
        "locked": b.locked,
        "created_by": b.created_by,
        "created_at": b.created_at,
        "top": b.top,
        "lock": waiting.get(ids[0]),
        "source": b.goroutines[0].source,
        "line": b.goroutines[0].line,
        "frames": [
            {
                "func": f.func,
                "args": f.args,
                "file": f.file,
                "lineno": f.lineno,
                "url": source_url(tag, f.func, f.file, f.lineno),
            }
            for f in b.stack.frames
        ],
    }


def _engine(m, tag: str | None) -> dict:
    """What one dump's daemon frames say of the engine release (JSON)."""
    return {
        "display": m.display,
        "candidates": list(m.candidates),
        "ratio": m.ratio,
        "frames": m.frames,
        "fitting": m.fitting,
        "reason": m.reason,
        "link_tag": tag,
    }


def report(
    dumps: list[Dump],
    ignore_args: bool = False,
    match: str | None = None,
    exclude: str | None = None,
    min_wait: int | None = None,
    top: int = 40,
    compare: bool = False,
) -> dict:
    """The data of ``--json`` (and of the terminal and HTML views)."""
    out = []
    release = infer(dumps)
    for i, d in enumerate(dumps):
        tag = release.per_dump.get(i) if release else None
        grouped = groups(d.goroutines)
        locks = analyze_locks(d, grouped) if d.kind != "panic" or len(d.goroutines) > 1 else []
        waiting = {w.goroutine: lock.key for lock in locks for w in lock.waiters}
        every = buckets(d, ignore_args, grouped, waiting)  # lock waiters first
        found = select(every, match, exclude, min_wait)
        shown = found[:top] if top else found
        out.append(
            {
                "dump": i,
                "program": d.program,
                "source": d.source,
                "line": d.line,
                "end_line": d.end_line,
                "kind": d.kind,
                "time": d.time.isoformat() if d.time else None,
                "panic": d.panic_message,
                "goroutines": sum(map(COUNT, every)),  # a bucket per goroutine is common
                "truncated": d.truncated,
                "complete": judge(d),
                "completeness": d.completeness,
                "warnings": [str(w) for w in d.warnings],
                "locks": [lock.to_dict(i, d.source, lock.line or d.line) for lock in locks],
                "deadlocks": [
                    [{"gid": g, "holds": h, "waits_on": w} for g, h, w in c]
                    for c in deadlock_cycles(locks)
                ],
                "other_waits": other_waits(d, grouped),
                "buckets": [_bucket(b, waiting, tag) for b in shown],
                "engine": _engine(release.matches[i], tag) if release else None,
                "buckets_total": len(found),
                "buckets_omitted": len(found) - len(shown),
            }
        )
    data = {
        "schema": "forensics-dump/1",
        "dumps": out,  # the schema id: never read back as evidence
        "engine": release.to_dict() if release else None,
        "calls": [c.to_dict() for c in join(dumps)],
    }
    if compare:
        from forensics.goroutines.diff import diff  # imported here: most runs do not compare

        data["diff"] = _diff(diff(dumps))
    return data


def _diff(dd: DumpDiff) -> dict:
    def tracks(items):
        return [
            {"gid": t.gid, "states": t.states, "waits": t.waits, "top": t.top, "lock": t.lock}
            for t in items
        ]

    def growth(items):
        return [{"top": g.top, "created_by": g.created_by, "counts": g.counts} for g in items]

    return {
        "dumps": dd.names,
        "matched": dd.matched,
        "stuck": tracks(dd.stuck),
        "parked": tracks(dd.parked),
        "moved": tracks(dd.moved),
        "appeared": dd.appeared,
        "vanished": dd.vanished,
        "grew": growth(dd.grew),
        "shrank": growth(dd.shrank),
        "notes": dd.notes,
    }


def _short(func: str | None) -> str:
    return (func or "").rsplit("/", 1)[-1]


def text(data: dict) -> str:
    """The terminal view: per dump its locks, then its buckets."""
    lines = []
    engine = data.get("engine")
    if engine:
        lines.append(_engine_line(engine))
    calling = {(c["client"]["dump"], c["client"]["gid"]): c for c in data["calls"]}
    for d in data["dumps"]:
        n = d["goroutines"]
        lines.append(
            f"== {d['source']}:{d['line']}-{d['end_line']}  {d['program']} {d['kind']}, "
            f"{n} goroutine{'' if n == 1 else 's'}"
            + (", TRUNCATED" if d["truncated"] else "")
            + (f"  ({d['panic']})" if d["panic"] else "")
        )
        if "complete" in d:
            lines.append(
                f"  {'complete' if d['complete'] else 'PARTIAL'} dump: {'; '.join(d['completeness'])}"
            )
        if d.get("engine") and len(data["dumps"]) > 1:
            e = d["engine"]
            lines.append(
                f"  engine {e['display'] or 'unknown'} ({e['fitting']} of {e['frames']} daemon frames fit)"
                + (f": {e['reason']}" if e["reason"] else "")
            )
        for lock in d["locks"]:
            status = STATUS_SHOWN.get(lock["status"], lock["status"].upper())
            lines.append(
                f"  LOCK {lock['kind']} {lock['key']}: {status} ({lock['confidence']} "
                f"confidence), {lock['waiters']} waiting"
            )
            lines.extend(f"      - {e}" for e in lock["evidence"])
            lines.extend(
                f"      - holder in a call: {describe_call(calling[d['dump'], gid])}"
                for gid in lock["holder_gids"]
                if (d["dump"], gid) in calling
            )
        for cycle in d["deadlocks"]:
            lines.append(
                "  DEADLOCK "
                + " -> ".join(f"goroutine {c['gid']} holds {c['holds']}" for c in cycle)
            )
        for kind, gids in d["other_waits"].items():
            ids = [g for g in gids if g >= 0]  # pprof debug=1 groups have made-up ids: not shown
            if not ids:
                lines.append(
                    f"  not a lock: {len(gids)} pprof debug=1 group{'s' if len(gids) != 1 else ''} in {kind} "
                    f"wait (no ids)"
                )
                continue
            lines.append(
                f"  not a lock: {len(ids)} in {kind} wait (goroutine{'s' if len(ids) != 1 else ''} "
                f"{' '.join(map(str, ids[:10]))}" + (" …" if len(ids) > 10 else "") + ")"
            )
        lines.append(
            f"  {d['buckets_total']} bucket{'' if d['buckets_total'] == 1 else 's'}"
            + (f" ({d['buckets_omitted']} not shown)" if d["buckets_omitted"] else "")
        )
        for b in d["buckets"]:
            lines.append(f"  {b['header']}" + (f"  waiting on {b['lock']}" if b["lock"] else ""))
            lines.append(
                "      goroutines "
                + " ".join(map(str, b["ids"]))
                + (" …" if b["ids_total"] > len(b["ids"]) else "")
            )
            for f in b["frames"][:FRAMES_SHOWN]:
                lines.append(
                    f"      {(f['file'] or '?').rsplit('/', 1)[-1]}:{f['lineno']}  {_short(f['func'])}"
                )
            if len(b["frames"]) > FRAMES_SHOWN:
                lines.append(f"      … {len(b['frames']) - FRAMES_SHOWN} more frames")
    if data["calls"]:
        lines.append(f"== {len(data['calls'])} calls from one program into another")
        lines.extend(f"  CALL {describe_call(c)}" for c in data["calls"])
    if "diff" in data:
        lines.extend(diff_text(data["diff"]))
    return "\n".join(lines)


def _engine_line(e: dict) -> str:
    if not e["display"]:
        return f"engine release: unknown ({e['reason']})"
    line = (
        f"engine release: {e['display']} from the line numbers of the {e['source']} "
        f"({e['fitting']} of {e['frames']} daemon frames fit)"
    )
    if not e["used"]:
        line += " -- a weak match, not to be relied on"
    line += "".join(f"; {x}" for x in [e["reason"], *e["notes"]] if x)
    return line + (f"; {e['link_note']} in the HTML page" if e["link_note"] else "")


def diff_text(dd: dict) -> list[str]:
    lines = [f"== compared {len(dd['dumps'])} dumps: {dd['matched']} goroutines in all"] + [
        f"  {n}" for n in dd["notes"]
    ]
    for t in dd["stuck"]:
        lines.append(
            f"  PROVEN STUCK goroutine {t['gid']} on {t['lock']} in {_short(t['top'])}: waits {t['waits']}"
        )
    lines += [
        f"  parked goroutine {t['gid']} [{t['states'][-1]}] in {_short(t['top'])}: waits {t['waits']}"
        for t in dd["parked"]
    ]
    lines += [
        f"  moved goroutine {t['gid']} {t['states']} now in {_short(t['top'])}" for t in dd["moved"]
    ]
    lines.append(f"  appeared {len(dd['appeared'])}, vanished {len(dd['vanished'])}")
    lines += [f"  grew {g['counts']} {_short(g['top'])}" for g in dd["grew"]]
    lines += [f"  shrank {g['counts']} {_short(g['top'])}" for g in dd["shrank"]]
    return lines


def html(data: dict) -> str:
    from forensics.report import svg
    from forensics.report.html import environment

    graphs = svg.lock_graphs([lock for d in data["dumps"] for lock in d["locks"]])
    return environment().get_template("dump.html.j2").render(data=data, graphs=graphs)


@app.command()
def dump(
    paths: list[str] = typer.Argument(
        ..., help="goroutine dumps (SIGUSR1 files, pprof, SIGQUIT output, logs with dumps)"
    ),
    match: str | None = typer.Option(
        None, "-m", help="only buckets whose header or functions match this regex"
    ),
    exclude: str | None = typer.Option(
        None, "-f", help="drop buckets whose header or functions match this regex"
    ),
    min_wait: int | None = typer.Option(
        None, "--min-wait", "-w", help="only buckets waiting at least this many minutes"
    ),
    ignore_args: bool = typer.Option(
        False, "--ignore-args", "-a", help="bucket stacks ignoring their arguments"
    ),
    top: int = typer.Option(40, "--top", help="buckets shown per dump (0: all)"),
    json_out: str | None = typer.Option(
        None, "--json", help="write JSON to this file (- for stdout)"
    ),
    html_out: str | None = typer.Option(
        None, "--html", help="write a self-contained HTML page to this file"
    ),
    compare: bool = typer.Option(
        False, "--diff", help="compare the dumps as snapshots of one process"
    ),
) -> None:
    """Buckets and the lock wait-for graph of goroutine dumps."""
    for pattern in filter(None, (match, exclude)):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise fail(f"bad regex {pattern!r}: {exc}") from None
    from forensics.cli.outputs import OutputError, check

    try:
        check(paths, {"--json": json_out, "--html": html_out})
    except OutputError as exc:
        raise fail(str(exc)) from None
    problems: list[sources.Problem] = []
    # up to millions of objects made, few of them in cycles: no collection until the output is
    # written, and none after it when the process ends with the command (common.ONE_SHOT)
    with paused_gc(keep=common.ONE_SHOT):
        dumps = load(paths, problems)
        if problems:  # imported only then: forensics.report brings pandas (half a second)
            from forensics.report.html import visible

            for p in problems:
                typer.echo(f"forensics: {visible(str(p))}", err=True)
        if not dumps:
            raise fail("no goroutine dump found")
        data = report(dumps, ignore_args, match, exclude, min_wait, top, compare)
        if json_out:  # no indent: the C encoder (jq . to read it)
            write(json_out, json.dumps(data, default=str))
        if html_out:
            write(html_out, html(data))
        if json_out != "-":
            typer.echo(text(data))
    bad = any(
        lock["status"] in ("orphaned", "deadlock") for d in data["dumps"] for lock in d["locks"]
    )
    if common.ONE_SHOT:
        end(1 if bad else 0)
    raise typer.Exit(1 if bad else 0)


def end(code: int) -> NoReturn:
    """End the process now with ``code``, its output flushed.  What is left to do is freeing the
    dumps read (a million objects on a 100 MB dump) and the interpreter's teardown: 2% of the run
    that a process about to end does not need.  Only when the process ends with the command
    (common.ONE_SHOT): nothing was registered to run at exit on this path."""
    for stream in (sys.stdout, sys.stderr):  # None when started with the descriptor closed
        if stream is not None:
            stream.flush()  # a closed pipe or a full disk raises here, as it would have at exit
    os._exit(code)


if (
    __name__ == "__main__"
):  # python -m forensics.cli.dump: the same command without the rest of the CLI
    app()
