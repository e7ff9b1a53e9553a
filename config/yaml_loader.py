"""The one YAML loader: every YAML file pvrelief reads goes through here.

The collector config, device profiles, SunSpec models, alarm catalogs and allocation inputs
all load with ``load_yaml``/``parse_yaml``. What it guarantees:

- every key and item keeps its 1-based line (``Lines``), so later errors can name it;
- a key written twice is an error naming both lines, never "the last one wins";
- only plain data: strings, numbers, booleans, null, dates, lists and mappings. Any other
  tag (``!foo``, ``!!binary``, ``!!set``, ``!!python/...``) and merge keys (``<<``) are refused;
- it cannot be made to crash or swell: the file size, the node count after expanding aliases
  (an "alias bomb" of 500 bytes would otherwise expand to gigabytes) and the nesting depth are
  bounded, and the document is built from parser events with a loop, not recursion;
- no string value carries a control character (an escaped ``"\\0"`` in a host reached the
  socket layer before) or a lone surrogate;
- with ``exact=True`` (allocation inputs) a number is built from its text as written: a
  ``Decimal`` for ``0.3247``, an ``int`` read in base 10 for ``0300``, never a float; any
  other notation (``1_000``, ``+5``, ``1.5e+3``, ``0x10``, ``.inf``) is refused.

Every problem raises ``YamlError`` (a ``ConfigError``) whose message starts ``file:line:``.
Callers outside the config map it to their own error (the allocator: ``InputError``).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import yaml

from config.errors import YamlError

Loc = tuple[str | int, ...]
Lines = dict[Loc, int]

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES = 1_000_000  # scalars, lists and mappings, every alias counted at its full size
MAX_DEPTH = 64  # nested lists and mappings; a full config nests 13 deep

_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_STD}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_SEQ, _MAP = f"{_STD}seq", f"{_STD}map"
# characters YAML itself refuses in a file (the parser's own error carries no line)
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# characters no value may hold: C0 controls but tab and newline, DEL, C1, lone surrogates;
# a key holds neither tab nor newline (it is printed as a one-line path in every error)
_NOT_IN_VALUE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_IN_KEY = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_EVENTS = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _Resolver(yaml.resolver.Resolver):
    """YAML 1.1 implicit types without ``<<`` (merge) and ``=`` (value): those stay text."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, rx) for tag, rx in rules if tag not in (f"{_STD}merge", f"{_STD}value")]
        for first, rules in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }


_RESOLVER = _Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def read_yaml_source(path: Path) -> tuple[str, bytes]:
    """The text of ``path`` (UTF-8, a BOM allowed) and its raw bytes, within the size limit."""
    source = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # never more, whatever the file claims to be
    except OSError as e:
        raise YamlError(f"{source}: cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_FILE_BYTES:
        line = raw[:MAX_FILE_BYTES].count(b"\n") + 1
        raise YamlError(f"{source}:{line}: the file passes {MAX_FILE_BYTES // 2**20} MiB here, "
                        "the limit for a YAML file")
    try:
        return raw.decode("utf-8-sig"), raw
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        what = ("the file ends inside a character" if e.reason == "unexpected end of data"
                else f"byte 0x{raw[e.start]:02x} at byte offset {e.start}")
        raise YamlError(f"{source}:{line}: not UTF-8 ({what}); save the file as UTF-8") from None


def load_yaml(path: Path, *, exact: bool = False) -> tuple[Any, Lines]:
    """Read and parse ``path``: the data (None for an empty file) and the line of every key."""
    text, _ = read_yaml_source(path)
    return parse_yaml(text, str(path), exact=exact)


def parse_yaml(text: str, source: str, *, exact: bool = False) -> tuple[Any, Lines]:
    """Parse ``text``, naming ``source`` in errors; see the module docstring for the rules."""
    text = text.removeprefix("\ufeff")
    if len(text) > MAX_FILE_BYTES:  # characters: a cheap bound, the exact one is on bytes
        raise YamlError(f"{source}:1: more than {MAX_FILE_BYTES // 2**20} MiB of text, "
                        "the limit for a YAML file")
    if bad := _NOT_YAML.search(text):
        raise YamlError(f"{source}:{_line_at(text, bad.start())}: character "
                        f"U+{ord(bad.group()):04X} is not allowed in a YAML file")
    builder = _Builder(source, exact)
    try:
        for event in yaml.parse(text, Loader=_EVENTS):
            builder.feed(event)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(f"{source}:{line}: YAML syntax error: {e.problem or e.context}") from None
    except yaml.reader.ReaderError as e:
        raise YamlError(f"{source}:{_line_at(text, e.position)}: {e.reason}") from None
    except yaml.YAMLError as e:  # any other parser complaint: still a line, never a traceback
        first = (str(e).splitlines() or ["unreadable"])[0]  # one line, like every problem
        raise YamlError(f"{source}:1: YAML error: {first}") from None
    return builder.root, builder.lines


def line_of(lines: Lines, loc: Loc) -> int | None:
    """The line of the deepest known prefix of ``loc``."""
    for end in range(len(loc), -1, -1):
        if (found := lines.get(tuple(loc[:end]))) is not None:
            return found
    return None


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


@dataclass(slots=True)
class _Open:
    """A list or mapping whose end event has not come yet."""

    value: dict[str, Any] | list[Any]
    loc: Loc
    anchor: str | None
    key: str | None = None  # in a mapping: the key whose value comes next
    key_line: dict[str, int] = field(default_factory=dict)
    size: int = 1  # nodes inside, itself included
    height: int = 1  # nesting levels inside, itself included


@dataclass(frozen=True, slots=True)
class _Anchored:
    value: Any
    size: int
    height: int


class _Builder:
    """Builds the document from parser events, with an explicit stack instead of recursion."""

    def __init__(self, source: str, exact: bool) -> None:
        self.source, self.exact = source, exact
        self.root: Any = None
        self.lines: Lines = {}
        self.stack: list[_Open] = []
        self.anchors: dict[str, _Anchored] = {}
        self.nodes = 0
        self.documents = 0

    def fail(self, event: yaml.Event, message: str) -> YamlError:
        return YamlError(f"{self.source}:{event.start_mark.line + 1}: {message}")

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.fail(event, "a second YAML document ('---'): give one per file")
        elif isinstance(event, yaml.ScalarEvent):
            self.scalar(event)
        elif isinstance(event, yaml.AliasEvent):
            self.alias(event)
        elif isinstance(event, yaml.CollectionStartEvent):
            self.open(event)
        elif isinstance(event, yaml.CollectionEndEvent):
            done = self.stack.pop()
            if done.anchor is not None:
                self.anchors[done.anchor] = _Anchored(done.value, done.size, done.height)
            self.place(done.value, done.size, done.height)

    # -- nodes ---------------------------------------------------------------------------------
    def child_loc(self, event: yaml.Event) -> Loc:
        """Where the node starting at ``event`` goes; records its line."""
        line = event.start_mark.line + 1
        if not self.stack:
            self.lines[()] = line
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            loc: Loc = (*top.loc, len(top.value))
            self.lines[loc] = line
            return loc
        if top.key is None:
            raise self.fail(event, "a key must be plain text, not a list, a mapping or an alias")
        return (*top.loc, top.key)  # its line is the key's, recorded with the key

    def count(self, event: yaml.Event, size: int, height: int) -> None:
        self.nodes += size
        if self.nodes > MAX_NODES:
            what = (f"alias *{event.anchor} expands" if isinstance(event, yaml.AliasEvent)
                    else "the document grows")
            raise self.fail(event, f"{what} past {MAX_NODES:,} nodes, the limit for a YAML "
                                   "file (aliases count at their full size)")
        if len(self.stack) + height > MAX_DEPTH:
            raise self.fail(event, f"lists and mappings nest deeper than {MAX_DEPTH} levels, "
                                   "the limit for a YAML file")

    def open(self, event: yaml.CollectionStartEvent) -> None:
        is_map = isinstance(event, yaml.MappingStartEvent)
        if event.tag not in (None, "!", _MAP if is_map else _SEQ):
            raise self.fail(event, f"tag {_shown(event.tag)} is not allowed: {_PLAIN_DATA}")
        loc = self.child_loc(event)
        self.count(event, 1, 1)
        self.stack.append(_Open({} if is_map else [], loc, event.anchor))

    def scalar(self, event: yaml.ScalarEvent) -> None:
        top = self.stack[-1] if self.stack else None
        if isinstance(top, _Open) and isinstance(top.value, dict) and top.key is None:
            self.key(top, event)
            return
        self.child_loc(event)
        self.count(event, 1, 0)
        value = self.construct(event)
        if event.anchor is not None:
            self.anchors[event.anchor] = _Anchored(value, 1, 0)
        self.place(value, 1, 0)

    def alias(self, event: yaml.AliasEvent) -> None:
        target = self.anchors.get(event.anchor)
        if target is None:
            raise self.fail(event, f"alias *{event.anchor} names no anchor &{event.anchor} "
                                   "complete before it")
        self.child_loc(event)
        self.count(event, target.size, target.height)
        # a copy: two places in the data never share one mutable object
        self.place(copy.deepcopy(target.value), target.size, target.height)

    def key(self, top: _Open, event: yaml.ScalarEvent) -> None:
        assert isinstance(top.value, dict)
        self.count(event, 1, 0)
        key, line = event.value, event.start_mark.line + 1
        if event.tag not in (None, "!", f"{_STD}str"):
            raise self.fail(event, f"key {key!r} has tag {_shown(event.tag)}: keys are plain text")
        if event.anchor is not None:
            raise self.fail(event, f"key {key!r} has an anchor: anchors go on values")
        if key == "<<":
            raise self.fail(event, "merge keys (<<) are not supported: write the keys out")
        if key in top.key_line:
            raise self.fail(event, f"duplicate key {key!r} (first at line {top.key_line[key]})")
        self.check_text(event, key, "a key", _NOT_IN_KEY)
        top.key, top.key_line[key] = key, line
        self.lines[(*top.loc, key)] = line

    def place(self, value: Any, size: int, height: int) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.size += size
        top.height = max(top.height, height + 1)
        if isinstance(top.value, list):
            top.value.append(value)
        else:
            assert top.key is not None
            top.value[top.key] = value
            top.key = None

    # -- scalars -------------------------------------------------------------------------------
    def construct(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag not in _SCALAR_TAGS:
            raise self.fail(event, f"tag {_shown(tag)} is not allowed: {_PLAIN_DATA}")
        kind = tag.removeprefix(_STD)
        if self.exact and kind in ("int", "float"):
            return self.exact_number(event, kind)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:  # the tag's function itself: construct_object() would cache every node forever
            value = _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
        # SafeConstructor's own failures: int('abc'), a bool table miss, a regex non-match in
        # timestamps (AttributeError), a date out of range; mapped here, at its only caller
        except (yaml.YAMLError, ValueError, KeyError, AttributeError, OverflowError,
                TypeError):
            raise self.fail(event, f"cannot read {_short(event.value)} as {kind}") from None
        if isinstance(value, str):
            self.check_text(event, value, "a value", _NOT_IN_VALUE)
        return value

    def exact_number(self, event: yaml.ScalarEvent, kind: str) -> int | Decimal:
        # plain decimals only: no 1_000, +5, 1.5e+3, .5, 0x10, .inf or 1:30 in money and energy
        if _PLAIN_DECIMAL.fullmatch(event.value):
            return int(event.value, 10) if kind == "int" else Decimal(event.value)
        raise self.fail(event, f"{_short(event.value)}: write numbers in plain decimals "
                               "(e.g. 3660 or 0.3247) in this file")

    def check_text(self, event: yaml.Event, text: str, what: str, refused: re.Pattern[str]
                   ) -> None:
        if bad := refused.search(text):
            raise self.fail(event, f"{what} holds the control character "
                                   f"U+{ord(bad.group()):04X} ({_short(text)})")


_PLAIN_DATA = ("pvrelief reads plain data (text, numbers, true/false, null, dates, lists and "
               "mappings)")


def _shown(tag: str | None) -> str:
    return str(tag).replace(_STD, "!!", 1) if str(tag).startswith(_STD) else str(tag)


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")
