"""Lock waits read off one goroutine's stack, the lock / waiter / holder records, and holder cycles.

A goroutine waits on a lock when, after any leading ``runtime.*`` frames, its stack is a
semaphore entry ``sync.runtime_Semacquire{,Mutex,RWMutex,RWMutexR}`` directly followed by
``(*Mutex).lockSlow`` / ``(*Mutex).Lock`` / ``(*RWMutex).Lock`` / ``(*RWMutex).RLock`` (``sync.`` or
Go 1.24's ``internal/sync.``); see :mod:`.locks` for the whole analysis.  ``WaitGroup.Wait`` and
``Cond.Wait`` are semaphore waits too, but not on a lock: :func:`other_waits` counts them apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from forensics.model import Dump, Frame, Goroutine
from forensics.parse.stacks import Block, Stack, groups, in_order, stack_of

if TYPE_CHECKING:
    from collections.abc import Callable

SEMA_ENTRIES = {
    "runtime_Semacquire",
    "runtime_SemacquireMutex",
    "runtime_SemacquireRWMutex",
    "runtime_SemacquireRWMutexR",
}
LOCK_KINDS = {
    "(*Mutex).lockSlow": "mutex",
    "(*Mutex).Lock": "mutex",
    "(*RWMutex).Lock": "rwmutex-write",
    "(*RWMutex).RLock": "rwmutex-read",
}
OTHER_WAITS = {"(*WaitGroup).Wait": "waitgroup", "(*Cond).Wait": "cond"}
WORD = re.compile(r"0x[0-9a-f]+\??")


@dataclass
class LockWait:
    goroutine: int
    kind: str  # "mutex" | "rwmutex-read" | "rwmutex-write"
    address: str | None  # receiver of lockSlow/Lock/RLock when printed exactly
    site: str  # the function that called Lock
    site_file: str | None
    site_line: int | None
    wait_minutes: int | None
    weight: int = 1  # goroutines this wait stands for (pprof debug=1 groups)
    site_args: str | None = None  # raw arguments of the site frame
    inferred: bool = (
        False  # address taken from the site's receiver (Lock/RLock inlined, no lockSlow)
    )
    line: int = 0  # the goroutine's header line


@dataclass
class Holder:
    goroutine: int
    reason: str
    confidence: str  # "high" | "medium" | "low"


@dataclass
class Lock:
    key: str  # the address, or "site:<function>" when no address is printed
    kind: str  # the waiters' kind; "rwmutex" when readers and writers queue, "mixed" otherwise
    waiters: list[LockWait] = field(default_factory=list)
    holders: list[Holder] = field(default_factory=list)
    status: str = "orphaned"  # "orphaned" | "holder-unseen" (partial dump) | "held" | "deadlock"
    confidence: str = "medium"  # how sure the status is: "high" | "medium" | "low"
    evidence: list[str] = field(default_factory=list)  # why, one sentence each

    @property
    def longest_wait(self) -> int | None:
        return max(
            (w.wait_minutes for w in self.waiters if w.wait_minutes is not None), default=None
        )

    @property
    def functions(self) -> list[str]:
        return sorted({w.site for w in self.waiters})

    @property
    def waiter_count(self) -> int:
        return sum(w.weight for w in self.waiters)

    @property
    def line(self) -> int:
        """The header line of its first waiter (lowest goroutine id): where it is cited; 0 if unknown."""
        return min(self.waiters, key=lambda w: w.goroutine).line if self.waiters else 0

    def describe(self) -> str:
        """The lock in one line, as a finding cites it: kind, key, its waiters and where they
        wait, and what holds it."""
        sites = ", ".join(s.rsplit("/", 1)[-1] for s in self.functions)
        holder = {
            "orphaned": "no goroutine holds it (holder gone)",
            "holder-unseen": "its holder is not among the given goroutines (a partial dump)",
        }.get(self.status, f"{self.status}: {'; '.join(h.reason for h in self.holders)}")
        wait = f", longest wait {self.longest_wait} min" if self.longest_wait is not None else ""
        n = self.waiter_count
        gids = [str(w.goroutine) for w in self.waiters if w.goroutine >= 0]  # pprof groups: < 0
        which = (
            f"goroutine{'s' if len(gids) > 1 else ''} {' '.join(gids)}"
            if gids
            else "a pprof debug=1 profile: no ids"
        )
        return (
            f"{self.kind} {self.key}: {n} goroutine{'s' if n != 1 else ''} waiting "
            f"({which}) in {sites}{wait}; {holder}"
        )

    def to_dict(self, dump: int, source: str, line: int) -> dict:
        """The lock as JSON data: ``forensics dump --json`` and the report's ``locks``."""
        return {
            "dump": dump,
            "key": self.key,
            "kind": self.kind,
            "status": self.status,
            "confidence": self.confidence,
            "evidence": self.evidence,
            "waiters": self.waiter_count,
            "longest_wait": self.longest_wait,
            "sites": self.functions,
            "waiter_gids": [w.goroutine for w in self.waiters],
            "holder_gids": [h.goroutine for h in self.holders],
            "holders": "; ".join(h.reason for h in self.holders) or None,
            "waiting": [
                {
                    "gid": w.goroutine,
                    "site": w.site,
                    "wait_minutes": w.wait_minutes,
                    "weight": w.weight,
                }
                for w in self.waiters
            ],
            "holding": [
                {"gid": h.goroutine, "reason": h.reason, "confidence": h.confidence}
                for h in self.holders
            ],
            "source": source,
            "line": line,
        }


def _sync_name(func: str) -> str | None:
    for prefix in ("sync.", "internal/sync."):
        if func.startswith(prefix):
            return func[len(prefix) :]
    return None


def first_exact(args: str | None) -> str | None:
    """The first argument when it is printed as an exact hex word (no '?', not "...")."""
    first = (args or "").split(",", 1)[0].strip().lstrip("{")
    return first if WORD.fullmatch(first) and not first.endswith("?") else None


def _sema_index(frames: list[Frame]) -> int:
    """Index of the first frame after the leading runtime frames."""
    i = 0
    while i < len(frames) and frames[i].func.startswith("runtime."):
        i += 1
    return i


WAIT_PLAN = "wait plan"  # a shape's cache key: its _wait_plan (False: not looked at; None: no wait)


def never_waits(stack: Stack) -> bool:
    """True when the stack's shape is already known not to wait on a lock (no call to
    :func:`wait_template` needed)."""
    return stack.shape.cache.get(WAIT_PLAN, False) is None


def wait_template(stack: Stack) -> LockWait | None:
    """The lock a goroutine with this stack waits on (goroutine 0, no wait time); the frames and
    lines are looked at once per shape, the arguments of each stack (a dump's waiters often share
    their shape, not their arguments) without making its frames.  Not kept on the stack: it is
    asked once per block, and a dump's waiters often have a stack each (5 MB at 200 MB)."""
    shape = stack.shape
    plan = shape.cache.get(WAIT_PLAN, False)  # False: not looked at yet; None: no lock wait
    if plan is None:
        return None
    if plan is False:
        frames = stack.frames if stack.has_frames else shape.template
        found = "Semacquire" in shape.text and _wait_plan(frames)
        plan = shape.cache[WAIT_PLAN] = found or None
        if plan is None:
            return None
    frames = stack.frames if stack.has_frames else shape.template
    return _wait(frames, stack.frame_arg, *plan)


def _wait_plan(frames: list[Frame]) -> tuple[str, list[int], int] | None:
    """(lock kind, indices of the Lock/RLock/lockSlow frames, index of the site frame) of a stack
    waiting on a lock, from its functions and files alone."""
    i = _sema_index(frames)
    if (
        i + 1 >= len(frames)
        or _sync_name(frames[i].func) not in SEMA_ENTRIES
        or _sync_name(frames[i + 1].func) not in LOCK_KINDS
    ):
        return None
    kind, locks = "mutex", []
    for i in range(i + 1, len(frames)):  # noqa: B020 (walks on from where the entry frames ended)
        name = _sync_name(frames[i].func)
        if name is None:
            break
        if name in LOCK_KINDS:
            kind = LOCK_KINDS[name]
            locks.append(i)
    else:
        return None
    site = next(
        (
            j
            for j in range(i, len(frames))
            if not frames[j].func.startswith("runtime.") and frames[j].file != "<autogenerated>"
        ),
        None,
    )
    if site is None:
        return None
    return kind, locks, site


def _wait(
    frames: list[Frame], args: Callable[[int], str | None], kind: str, locks: list[int], site: int
) -> LockWait:
    """The wait of :func:`_wait_plan`, with the lock address and site arguments ``args(i)`` of
    frame ``i`` (:meth:`Stack.frame_arg`)."""
    address = None
    for i in locks:
        address = address or first_exact(args(i))
    f = frames[site]
    return LockWait(
        goroutine=0,
        kind=kind,
        address=address,
        site=f.func,
        site_file=f.file,
        site_line=f.lineno,
        wait_minutes=None,
        site_args=args(site),
    )


def lock_wait(g: Goroutine, stack: Stack | None = None) -> LockWait | None:
    """The lock ``g`` is blocked on, or None when it is not waiting on a mutex."""
    template = wait_template(stack or stack_of(g))
    return template and wait_of(template, g)


def wait_of(t: LockWait, g: Goroutine) -> LockWait:
    """The wait ``t`` of a stack, for goroutine ``g`` (what dataclasses.replace does, faster)."""
    return LockWait(
        g.id,
        t.kind,
        t.address,
        t.site,
        t.site_file,
        t.site_line,
        g.wait_minutes,
        g.weight,
        t.site_args,
        t.inferred,
        g.line,
    )


def other_waits(
    dump: Dump, grouped: dict[Block, list[Goroutine]] | None = None
) -> dict[str, list[int]]:
    """Goroutines parked in ``WaitGroup.Wait`` or ``Cond.Wait``: semaphore waits that are not locks
    (``grouped``: the dump's :func:`~forensics.parse.stacks.groups`, when already at hand)."""
    found: dict[str, list[Goroutine]] = {}
    for block, members in (grouped if grouped is not None else groups(dump.goroutines)).items():
        stack = block.stack
        shape = stack.shape  # the functions decide: once per shape
        kind = shape.cache.get("other-wait", False)
        if kind is False:
            kind = shape.cache["other-wait"] = _other_wait(stack) if ".Wait" in shape.text else None
        if kind is not None:
            found.setdefault(kind, []).append(members)
    return {
        kind: [
            g.id
            for g in (in_order([g for gs in lists for g in gs]) if len(lists) > 1 else lists[0])
        ]
        for kind, lists in found.items()
    }


def _other_wait(stack: Stack) -> str | None:
    if ".Wait(" not in stack.shape.text and ").Wait\n" not in stack.shape.text:
        return None
    frames = stack.frames if stack.has_frames else stack.shape.template
    i = _sema_index(frames)
    return next(
        (
            OTHER_WAITS[name]
            for f in frames[i : i + 2]
            if (name := _sync_name(f.func)) in OTHER_WAITS
        ),
        None,
    )


def cycle_from(
    start: Lock, locks: dict[str, Lock], key_of: dict[int, str]
) -> list[tuple[int, str, str]]:
    """A shortest holder cycle back to ``start``: [(goroutine, lock it holds, lock it waits on)]."""
    todo, came = [start.key], {start.key: None}
    while todo:
        key = todo.pop(0)
        for h in locks[key].holders if key in locks else []:
            nxt = key_of.get(h.goroutine)
            if nxt is None:
                continue
            if nxt == start.key:
                path = [(h.goroutine, key, nxt)]
                while came[key] is not None:
                    key, gid, prev = came[key][0], came[key][1], key
                    path.insert(0, (gid, key, prev))
                return path
            if nxt not in came:
                came[nxt] = (key, h.goroutine)
                todo.append(nxt)
    return []


def deadlock_cycles(
    locks: list[Lock], key_of: dict[int, str] | None = None
) -> list[list[tuple[int, str, str]]]:
    """Each cycle once: [(goroutine, lock it holds, lock it waits on), ...], smallest key first."""
    by_key = {lock.key: lock for lock in locks}
    key_of = (
        key_of
        if key_of is not None
        else {w.goroutine: lock.key for lock in locks for w in lock.waiters}
    )
    cycles = {}
    for lock in locks:
        if lock.status == "deadlock" and (path := cycle_from(lock, by_key, key_of)):
            first = min(range(len(path)), key=lambda i: path[i][1])
            cycles.setdefault(
                tuple(p[1] for p in path[first:] + path[:first]), path[first:] + path[:first]
            )
    return list(cycles.values())
