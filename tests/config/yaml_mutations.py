"""Hypothesis strategies that damage a YAML file: bytes, structure and known-nasty snippets.

The snippets are the cases a hostile-input review found crashing the old loaders: tags, bad
constructor input, control characters, escapes, alias bombs, deep nesting, cut characters.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

# 10 levels of 9 aliases each: about 500 bytes that would expand to 9**10 strings
ALIAS_BOMB = "bomb:\n" + "".join(
    f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 9) if i else ', '.join(['lol'] * 9)}]\n"
    for i in range(10)
)
DEEP = "[" * 500 + "]" * 500

SNIPPETS = [
    "!foo ", "!!merge ", "!!pairs ", "!!binary ", "!!binary 'junk!' ", "!!int abc", "!!int ",
    "!!float x", "!!float ", "!!bool 甲村", "!!bool ", "!!timestamp x", "!!timestamp ",
    "!!set ", "!!omap ", "!!python/object:os.system ", "!!str ", "!!null ", "<<: ", "<<",
    "&a ", "*a", "*nope", "? ", ": ", "- ", "{", "}", "[", "]", ",", "#", "|", ">", "%YAML 1.1\n",
    "---\n", "...\n", "\t", "\x1b", "\x00", "\x7f", "\u0085", "\u2028", "\ufeff", '"\\0"',
    '"\\e"', '"\\x07"', '"\\ud800"', "'", '"', "甲村", "1e999", ".inf", ".nan", "-.inf",
    "0x7FFFFFFFFFFFFFFFFFFF", "99999999999999999999999999", "1" * 5000, "1:30:00", "0o17",
    "2020-02-30", "2020-06-21T25:00:00", "~", "null", "yes", "NO", "=", DEEP, "\n" + ALIAS_BOMB,
    "\n  " + "- " * 300 + "x\n",
]
INTERESTING_BYTES = [0x00, 0x1B, 0x7F, 0x80, 0xC3, 0xE7, 0xFF, 0xFE, 0x09, 0x0A, 0x0D, 0x20,
                     0x22, 0x27, 0x21, 0x26, 0x2A, 0x3A, 0x2D, 0x5B, 0x7B, 0x23, 0x7C, 0x3E]


@st.composite
def byte_mutations(draw: st.DrawFn, original: bytes) -> bytes:
    """1 to 4 edits: replace, insert, delete, duplicate a line, truncate (maybe mid-char)."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["replace", "insert", "snippet", "delete", "line",
                                     "truncate"]))
        if kind == "replace" and at < len(data):
            data[at] = draw(st.sampled_from(INTERESTING_BYTES) | st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "snippet":
            data[at:at] = draw(st.sampled_from(SNIPPETS)).encode("utf-8")
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif kind == "line":
            lines = bytes(data).splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines.insert(i + draw(st.integers(0, 3)), lines[i])  # a duplicate key, often
                data = bytearray(b"".join(lines))
        elif kind == "truncate":
            data = data[:at]
    return bytes(data)


def _paths(node: Any, here: tuple = ()) -> list[tuple]:
    out = [here]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*here, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*here, i))
    return out


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


# keys the models know, so that an added entry reaches a validator, not only "extra input"
KNOWN_KEYS = ["id", "name", "host", "port", "unit_id", "repeat", "profile", "timezone",
              "spool_dir", "quarantine_file", "token", "password", "username", "url", "file",
              "env", "value", "start", "seed", "faults", "devices", "gateways", "plants",
              "from", "kw", "fraction", "grid", "subsidy", "meter", "usage_split", "shares",
              "tariffs", "deductions", "capacity_kwp", "shared_kwp", "kind"]
NASTY_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-2**70, 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "10.0.0.1\x00", "a\x1bb", "../../etc/passwd", "UPPER-Id",
                     "a.b", "甲村", "::1", "[::1]", "999.1.1.1", "host name", "-bad-", "x" * 300,
                     "Asia/Shanghai\x00", "Asia/" + "x" * 300, "http://admin:pw@host",
                     "2020-13-01", "/" + "d/" * 2100, "1e999999999", "-0.000", "２００００"]),
    st.fixed_dictionaries({"file": st.sampled_from(["x" * 300, "/etc", "/", "nope", ""])}),
    st.fixed_dictionaries({"env": st.sampled_from(["PATH", "NOPE_NOT_SET", "", "A=B"])}),
    st.integers(0, 300).map(_nested),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                         max_size=3),
)


@st.composite
def structural_mutations(draw: st.DrawFn, original: bytes) -> bytes:
    """Re-dump the document after replacing, deleting or adding an entry somewhere in it."""
    doc = yaml.safe_load(original.decode("utf-8"))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        kind = draw(st.sampled_from(["replace", "delete", "add"]))
        if kind == "replace":
            parent[path[-1]] = draw(NASTY_VALUES)
        elif kind == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(KNOWN_KEYS) | st.text(max_size=12))] = draw(NASTY_VALUES)
        else:
            parent.append(draw(NASTY_VALUES))
    try:
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, RecursionError):  # PyYAML cannot write it: keep the original
        return original
    return text.encode("utf-8", "surrogatepass")


def mutations(original: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(byte_mutations(original), structural_mutations(original))
