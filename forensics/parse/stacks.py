"""The shared structure of goroutines read in bulk (:mod:`forensics.parse.fastdump`).

A block's goroutine is a :class:`LazyGoroutine`: four fields of its own, the rest shared
with every goroutine printed with the same body (a :class:`Block`); its frames are made when
first read.  Goroutines printed with the same frame text share one :class:`Stack`, on which
analyses (lock waits, buckets) compute once per distinct stack; stacks that differ only in their
argument lists share one :class:`Shape` (functions, file:line, parsed once with the line reader's
own functions), so a stack keeps only its argument text: a dump whose goroutines share no
argument text costs that text, not its whole text.  :func:`groups` gathers a dump's goroutines
by block in one pass; goroutines read line by line get stacks and blocks built from their frames.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from operator import attrgetter

from forensics.model import Frame, Goroutine
from forensics.parse.compat import re  # possessive quantifiers on Python 3.10 too
from forensics.parse.goroutines import FILE, parse_frame

EMPTIED_LIST = "()\n"  # an argument list SPLIT took out, in Shape.text
SPLIT = re.compile(
    r"\(([^()\n]*+)\)\n(?=\t)"
)  # a function line's argument list (its file line follows); possessive: no backtracking over it


class Shape:
    """What goroutines parked at the same places share: their frame lines with every argument list
    emptied (functions, file:line, offsets), parsed once; the :class:`Stack` s of one shape differ
    by their arguments only.  ``parts`` are the text between the argument lists (``SPLIT`` cut)."""

    __slots__ = ("parts", "text", "slots", "_template", "_functions", "stacks", "cache")

    def __init__(self, parts: tuple[str, ...]):
        self.parts = parts
        self.text = EMPTIED_LIST.join(parts)  # the frame text, argument lists emptied
        self.slots: tuple[int, ...] | None = None  # frames (by index) whose arguments were cut out
        self._template: list[Frame] | None = None
        self._functions: tuple[str, ...] | None = None
        self.stacks: dict[str, Stack] = {}  # argument text -> stack
        self.cache: dict = {}  # per-analysis results that depend on functions and lines only

    @property
    def template(self) -> list[Frame]:
        """The frames, arguments emptied where they were cut out (``line`` relative)."""
        if self._template is None:
            frames = _parse_frames(self.text, 0)
            cut, line = set(), 0
            for part in self.parts[:-1]:  # each cut took its line's newline
                line += part.count("\n")
                cut.add(line)
                line += 1
            self.slots = tuple(i for i, f in enumerate(frames) if f.line in cut)
            self._template = frames
        return self._template

    @property
    def functions(self) -> tuple[str, ...]:
        if self._functions is None:
            self._functions = tuple(f.func for f in self.template)
        return self._functions


class Stack:
    """The frame lines of one or more goroutines: a shared :class:`Shape` and the argument lists
    (``args``: joined by newlines, one per emptied list of the shape), so that a dump whose goroutines
    share no argument text keeps only that text beside its shapes."""

    __slots__ = ("shape", "args", "_frames", "_cache", "block")

    def __init__(self, shape: Shape, args: str, frames: list[Frame] | None = None):
        self.shape, self.args, self._frames, self._cache = shape, args, frames, None
        self.block: Block | None = None  # the first Block of this stack (kept here, not in a dict)

    @classmethod
    def of_text(cls, text: str, frames: list[Frame] | None = None) -> Stack:
        """The stack printed as ``text``, on a shape of its own."""
        parts = SPLIT.split(text)
        return cls(Shape(tuple(parts[0::2])), "\n".join(parts[1::2]), frames)

    @property
    def cache(self) -> dict:
        """Per-analysis results keyed by the analysis (locks, words...)."""
        if self._cache is None:
            self._cache = {}
        return self._cache

    @property
    def text(self) -> str:
        """The printed frame text (put back together: for reading, not for keys)."""
        parts = self.shape.parts
        if len(parts) == 1:
            return parts[0]
        out = [parts[0]]
        for arg, part in zip(self.args.split("\n"), parts[1:], strict=False):
            out += ("(", arg, ")\n", part)
        return "".join(out)

    @property
    def frame_text(self) -> str:  # a property, not an alias: a compiled (cdef) class has no aliases
        return self.text

    def frames_at(self, first: int) -> list[Frame]:
        """New frames of this stack, its first line numbered ``first``."""
        shape = self.shape
        out = [
            Frame(f.func, f.args, f.file, f.lineno, f.offset, f.inlined, f.line + first)
            for f in shape.template
        ]
        if shape.slots:  # the text cut out ends the line: the line reader's args end with it
            for i, arg in zip(shape.slots, self.args.split("\n"), strict=False):
                f = out[i]
                f.args = f.args + arg if f.args else arg
                f.inlined = f.args == "..."
        return out

    @property
    def frames(self) -> list[Frame]:
        """The frames (``line`` relative to the first); made anew on each read unless they were
        given (a goroutine read line by line): the analyses keep what they need of them."""
        return self._frames if self._frames is not None else self.frames_at(0)

    @property
    def has_frames(self) -> bool:
        """Whether the frames were given (a goroutine read line by line), not made from the shape."""
        return self._frames is not None

    def frame_arg(self, i: int) -> str | None:
        """The ``args`` of frame ``i``, without making the frames nor reading the argument lists
        after its own (a lock wait reads two or three frames' of a stack of dozens)."""
        if self._frames is not None:
            return self._frames[i].args
        shape = self.shape
        arg = shape.template[i].args  # the template first: it sets the slots
        if shape.slots and i in shape.slots:
            k = shape.slots.index(i)
            lists = self.args.split("\n", k + 1)
            if k < len(lists):
                arg = arg + lists[k] if arg else lists[k]
        return arg

    @property
    def functions(self) -> tuple[str, ...]:
        shape = self.shape
        if shape._functions is None and self._frames is not None:  # frames read line by line
            shape._functions = tuple(f.func for f in self._frames)
        return shape.functions

    def contains(self, needle: str) -> bool:
        """``needle in self.text`` for a needle that does not span an argument list's parentheses
        (a function name, a hex word)."""
        return needle in self.shape.text or needle in self.args

    def args_findall(self, pattern: re.Pattern) -> list[str]:
        """``pattern.findall`` over every frame's arguments (not in frame order), without making the
        frames: for a pattern that matches within one argument list and not across ``(`` or a newline."""
        if self._frames is not None:
            return [w for f in self._frames for w in pattern.findall(f.args or "")]
        shape = self.shape
        fixed = shape.cache.get(("args", pattern))
        if fixed is None:  # argument text that stayed in the shape (lists holding parentheses)
            fixed = shape.cache["args", pattern] = pattern.findall(
                "\n".join(f.args for f in shape.template if f.args)
            )
        return fixed + pattern.findall(self.args)

    def findall(self, pattern: re.Pattern) -> list[str]:
        """``pattern.findall`` over the shape and the arguments (a pattern that matches within one
        argument list or outside them all: hex words)."""
        return pattern.findall(self.shape.text) + pattern.findall(self.args)


def _parse_frames(text: str, first: int) -> list[Frame]:
    """The frames of a verified block body; ``first`` is the line number of its first line."""
    frames: list[Frame] = []
    pending = None
    for i, raw in enumerate(text.split("\n")):
        if raw.startswith("\t"):
            if pending is not None:
                m = FILE.fullmatch(raw[1:])
                pending.file, pending.lineno, pending.offset = (
                    m[1],
                    int(m[2]),
                    f"0x{m[3]}" if m[3] else None,
                )
                pending = None
        elif raw and not raw.startswith("..."):
            pending = parse_frame(raw, first + i)
            frames.append(pending)
    return frames


class Block:
    """What the goroutines printed with the same lines after their header share (the creator's
    goroutine id aside): the stack, the ``created by`` call and the line count."""

    __slots__ = (
        "stack",
        "created_by",
        "created_file",
        "created_lineno",
        "elided",
        "lines",
        "source",
    )

    def __init__(
        self,
        stack: Stack,
        created_by: str | None,
        created_file: str | None,
        created_lineno: int | None,
        elided: bool,
        lines: int,
        source: str,
    ):
        self.stack, self.created_by, self.created_file = stack, created_by, created_file
        self.created_lineno, self.elided, self.lines, self.source = (
            created_lineno,
            elided,
            lines,
            source,
        )


def _shared(name: str) -> property:
    return property(lambda g: getattr(g.block, name))


class LazyGoroutine:
    """A goroutine read off a canonical block, read as a :class:`~forensics.model.Goroutine` is:
    five fields of its own (``id``, ``line``, ``head`` = (state, wait_minutes, locked_to_thread),
    ``created_in`` and its frames once read), the rest read from its shared :class:`Block`; its
    frames are parsed from the block text when first read.  Not a subclass of Goroutine: its
    15 slots would cost 104 bytes more for each of a dump's 10^5 goroutines."""

    __slots__ = ("id", "line", "head", "block", "created_in", "_frames")
    state = property(lambda g: g.head[0])
    wait_minutes = property(lambda g: g.head[1])
    locked_to_thread = property(lambda g: g.head[2])
    created_by, created_file, created_lineno = (
        _shared("created_by"),
        _shared("created_file"),
        _shared("created_lineno"),
    )
    elided, source = _shared("elided"), _shared("source")
    weight, labels, truncated = 1, None, False

    def _get_frames(self) -> list[Frame]:
        try:
            return self._frames
        except AttributeError:
            frames = self._frames = self.block.stack.frames_at(self.line + 1)
            return frames

    def _set_frames(self, frames: list[Frame]) -> None:
        self._frames = frames

    frames = property(_get_frames, _set_frames)

    @property
    def stack(self) -> Stack:
        return self.block.stack

    @property
    def functions(self) -> list[str]:
        return list(self.block.stack.functions)


def frames_of(g: Goroutine) -> list[Frame]:
    """``g.frames``, but made anew and not kept on a goroutine read in bulk whose frames were not
    read yet (a caller that walks every frame of a big dump once)."""
    if isinstance(g, LazyGoroutine):
        try:
            return g._frames
        except AttributeError:
            return g.block.stack.frames_at(g.line + 1)
    return g.frames


def stack_of(g: Goroutine, shared: dict[str, Stack] | None = None) -> Stack:
    """The shared Stack of ``g``; eager goroutines get one built from their frames (shared
    through ``shared`` when given, keyed by the text their frames would print)."""
    if isinstance(g, LazyGoroutine):
        return g.stack
    text = "".join(
        f"{f.func}({f.args})\n\t{f.file}:{f.lineno}" + (f" +{f.offset}" if f.offset else "") + "\n"
        if f.args is not None
        else f"{f.func}\n\t{f.file}:{f.lineno}\n"
        for f in g.frames
    )
    if shared is None:
        return Stack.of_text(text, g.frames)
    stack = shared.get(text)
    if stack is None:
        stack = shared[text] = Stack.of_text(text, g.frames)
    return stack


def frame_sites(goroutines: Iterable[Goroutine]) -> Iterator[tuple[str, str | None, int | None]]:
    """(function, file, line) of each frame of ``goroutines``, in order, but a goroutine read in bulk
    whose :class:`Shape` came before is left out: the same distinct sites in the same order of first
    appearance, without making every goroutine's frames."""
    for g in first_of_shapes(goroutines):
        block = getattr(g, "block", None)
        for f in g.frames if block is None else block.stack.shape.template:
            yield f.func, f.file, f.lineno


def first_of_shapes(goroutines: Iterable[Goroutine]) -> Iterator[Goroutine]:
    """``goroutines`` in order, but a goroutine read in bulk whose :class:`Shape` (functions,
    file:line) came before is left out: every frame site still appears, first where it first did."""
    seen: set[int] = set()
    for g in goroutines:
        block = getattr(g, "block", None)
        if block is not None:
            if id(shape := block.stack.shape) in seen:
                continue
            seen.add(id(shape))
        yield g


def groups(goroutines: list[Goroutine]) -> dict[Block, list[Goroutine]]:
    """The goroutines by :class:`Block` (stack and creator), each list in the goroutines' order,
    the blocks in the order they first appear; eager goroutines get blocks built from their frames."""
    found: defaultdict[Block, list[Goroutine]] = defaultdict(list)
    try:
        for g in goroutines:
            found[g.block].append(g)
        return found
    except AttributeError:  # not all read in bulk: the line reader's goroutines have no block
        found.clear()
    made: dict[tuple, Block] = {}
    shared: dict[str, Stack] = {}
    for g in goroutines:
        block = getattr(g, "block", None)
        if block is None:
            stack = stack_of(g, shared)
            key = (stack, g.created_by, g.created_file, g.created_lineno)
            block = made.get(key)
            if block is None:
                block = made[key] = Block(*key, g.elided, 0, g.source)
        found[block].append(g)
    return found


def in_order(goroutines: list[Goroutine]) -> list[Goroutine]:
    """Goroutines of one dump gathered from several groups, back in the dump's order (by line)."""
    return sorted(goroutines, key=attrgetter("line"))
