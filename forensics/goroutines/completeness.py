"""Is a goroutine dump the whole process, or a few goroutines cut out of one (a pasted excerpt)?

Judged from the dump's own shape, never from what the analysis would like it to be:
  * cut short: the input ended inside a goroutine, or a pprof ``debug=1`` profile's groups add
    up to less than its ``goroutine profile: total N`` line (the parser marks both ``truncated``);
  * goroutine 1: every Go program has it while it runs (``main.main``, or ``runtime.main`` above
    it); a dump without it is a selection.  pprof ``debug=1`` prints no ids: a group running
    ``main.main`` stands for it;
  * for a Docker daemon (frames of docker, moby or containerd code): the goroutines such a daemon
    always has, its signal handler (``os/signal.signal_recv`` / ``os/signal.loop``) and the API
    server's accept loop (``net/http.(*Server).Serve``), and at least :data:`DAEMON_MINIMUM`
    goroutines (an idle dockerd 20.10-27.x prints 38-48);
  * a header that promises the whole process: Go's ``SIGQUIT: quit`` output, the runtime's
    ``all goroutines are asleep`` report, a pprof ``total`` line the groups add up to, and
    dockerd's ``=== BEGIN goroutine stack dump ===``.  GC workers (``runtime.gcBgMarkWorker``)
    are named when present: only ``GOTRACEBACK=system`` prints them, so their absence says nothing.
"""

from __future__ import annotations

from forensics.model import Dump
from forensics.parse.stacks import frame_sites

DAEMON_MINIMUM = 20
DAEMON_CODE = ("github.com/docker/", "github.com/moby/", "github.com/containerd/")
SIGNAL_HANDLER = ("os/signal.signal_recv", "os/signal.loop")
ACCEPT_LOOP = ("net/http.(*Server).Serve",)
GC_WORKER = ("runtime.gcBgMarkWorker",)
HOW_TO_TAKE = (
    "kill -USR1 $(pidof dockerd) writes the whole dump to goroutine-stacks-<time>.log in the daemon's "
    "exec root (/var/run/docker) or data root (/var/lib/docker); with debug enabled, "
    "curl --unix-socket /var/run/docker.sock http://./debug/pprof/goroutine?debug=2 prints it"
)


LANDMARKS = {
    "main": ("main.main",),
    "daemon": DAEMON_CODE,
    "signal handler": SIGNAL_HANDLER,
    "HTTP accept loop": ACCEPT_LOOP,
    "GC workers": GC_WORKER,
}


def _landmarks(dump: Dump) -> set[str]:
    """Which of :data:`LANDMARKS` the dump's frames show (one pass, stopping once all are found)."""
    found: set[str] = set()
    wanted = tuple(p for prefixes in LANDMARKS.values() for p in prefixes)
    for func, _, _ in frame_sites(dump.goroutines):  # each stack shape once
        if func.startswith(wanted):  # rare once found landmarks are no longer wanted
            found.update(name for name, prefixes in LANDMARKS.items() if func.startswith(prefixes))
            wanted = tuple(
                p for name, prefixes in LANDMARKS.items() if name not in found for p in prefixes
            )
            if not wanted:
                return found
    return found


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def judge(dump: Dump) -> bool:
    """Set ``dump.complete`` and ``dump.completeness`` (the reasons, one phrase each); returns complete."""
    if dump.complete is not None:
        return dump.complete
    count = sum(g.weight for g in dump.goroutines)
    profile = dump.kind == "pprof-debug1"
    asleep = bool(dump.panic_message and "all goroutines are asleep" in dump.panic_message)
    header = (
        "SIGQUIT output"
        if dump.kind == "sigquit" and any(p.startswith("SIGQUIT") for p in dump.preamble)
        else "the runtime's deadlock report"
        if asleep
        else "pprof total"
        if profile and not dump.truncated
        else None
    )
    partial, seen = [], []
    if dump.truncated:
        partial.append(
            "pprof groups add up to less than its total"
            if profile
            else "cut off inside a goroutine"
        )
    marks = _landmarks(dump)
    main = "main" in marks if profile else any(g.id == 1 for g in dump.goroutines)
    if not main and not asleep:
        partial.append("no goroutine 1, which every Go program has")
    elif main:
        seen.append("goroutine 1")
    if dump.kind == "panic" and len(dump.goroutines) == 1 and not asleep:
        partial.append("a panic trace prints only the panicking goroutine")
    daemon = "daemon" in marks
    for name in ("signal handler", "HTTP accept loop", "GC workers"):
        if name in marks:
            seen.append(name)
        elif daemon and name != "GC workers" and header is None:
            partial.append(f"no {name}, which a running daemon has")
    if daemon and count < DAEMON_MINIMUM and header is None:
        partial.append(
            f"{_plural(count, 'goroutine')} where a running daemon has {DAEMON_MINIMUM} or more"
        )
    dump.complete = not partial
    if partial:
        dump.completeness = partial
    else:
        dump.completeness = ([header] if header else []) + seen + [_plural(count, "goroutine")]
    return dump.complete


def describe(dump: Dump) -> str:
    """ "complete: ..." or "partial: ...": which it is and why, for people."""
    judge(dump)
    return f"{'complete' if dump.complete else 'partial'}: {'; '.join(dump.completeness)}"
