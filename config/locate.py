"""Find where each field of a text-format protobuf file is written.

`google.protobuf.text_format` keeps no source positions, so validation errors
could not name a line. This module re-reads the text with a small tokenizer
(same token rules as text_format's) and records the line and column of every
field name, keyed by its path.

A path is a tuple of `(field_name, index)` pairs from the root message, where
`index` counts the earlier occurrences of that field name in the same parent
message. That is the element's position in a repeated field (text_format
appends in file order) and 0 for a singular field, so the path of any set
field of the parsed message can be rebuilt by walking it.

Only call this on text that `text_format.Parse` accepted: on malformed text it
does its best and never raises.
"""
from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional, Tuple

PathKey = Tuple[Tuple[str, int], ...]

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<comment>#[^\n]*)"
    r"|(?P<ident>[A-Za-z_][0-9A-Za-z_+-]*)"
    r"|(?P<number>(?:[0-9+-]|\.[0-9])[0-9A-Za-z_.+-]*)"
    r"|(?P<string>\"(?:[^\"\n\\]|\\.)*(?:\"|\\?$)|'(?:[^'\n\\]|\\.)*(?:'|\\?$))"
    r"|(?P<symbol>.)",
    re.MULTILINE,
)


class _Tok(NamedTuple):
    text: str
    kind: str
    line: int  # 1-based
    col: int   # 1-based


def tokenize(text: str) -> List[_Tok]:
    """Tokens with their 1-based line and column; spaces and comments dropped."""
    tokens: List[_Tok] = []
    line, line_start = 1, 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "symbol"
        if kind not in ("space", "comment"):
            tokens.append(_Tok(m.group(), kind, line, m.start() - line_start + 1))
        newlines = m.group().count("\n")
        if newlines:
            line += newlines
            line_start = m.start() + m.group().rindex("\n") + 1
    return tokens


class _Parser:
    """Recursive descent over the tokens, recording where each field name is written."""

    def __init__(self, tokens: List[_Tok]):
        self.toks, self.i = tokens, 0
        self.out: Dict[PathKey, Tuple[int, int]] = {}

    def at(self, *texts: str) -> bool:
        return self.i < len(self.toks) and self.toks[self.i].text in texts

    def message(self, prefix: PathKey, close: Optional[str]) -> None:
        counts: Dict[str, int] = {}
        while self.i < len(self.toks) and not (close and self.at(close)):
            start = self.i
            self.field(prefix, counts)
            self.i += self.i == start  # malformed input: never loop forever
        self.i += bool(close and self.at(close))

    def field(self, prefix: PathKey, counts: Dict[str, int]) -> None:
        name_tok = self.toks[self.i]
        self.i += 1
        if name_tok.text == "[":  # extension or Any type URL: [a.b.c]
            end = next((j for j in range(self.i, len(self.toks)) if self.toks[j].text == "]"), len(self.toks))
            name, self.i = "[" + "".join(t.text for t in self.toks[self.i:end]) + "]", end + 1
        elif name_tok.kind == "ident":
            name = name_tok.text
        else:
            return
        self.i += self.at(":")
        if self.at("["):  # list syntax: name: [v1, v2] or name [{..}, {..}]
            self.i += 1
            while self.i < len(self.toks) and not self.at("]"):
                self.value(prefix, name, name_tok, counts)
                self.i += self.at(",")
            self.i += 1
        else:
            self.value(prefix, name, name_tok, counts)
        self.i += self.at(",", ";")

    def value(self, prefix: PathKey, name: str, name_tok: _Tok, counts: Dict[str, int]) -> None:
        index = counts[name] = counts.get(name, -1) + 1
        key = prefix + ((name, index),)
        self.out.setdefault(key, (name_tok.line, name_tok.col))
        if self.i >= len(self.toks):
            return
        tok = self.toks[self.i]
        self.i += 1
        if tok.text in ("{", "<"):
            self.message(key, "}" if tok.text == "{" else ">")
        while tok.kind == "string" and self.i < len(self.toks) and self.toks[self.i].kind == "string":
            self.i += 1  # "a" "b" concatenation


def field_locations(text: str) -> Dict[PathKey, Tuple[int, int]]:
    """Map each field path in `text` to the (line, column) of its name, 1-based."""
    parser = _Parser(tokenize(text))
    parser.message((), None)
    return parser.out


def locate(locations: Dict[PathKey, Tuple[int, int]], key: PathKey) -> Optional[Tuple[int, int]]:
    """Position of `key`, or of its nearest written ancestor; None if none is written."""
    for n in range(len(key), 0, -1):
        pos = locations.get(key[:n])
        if pos is not None:
            return pos
    return None


def dotted(key: PathKey) -> str:
    """`model.ssd.feature_extractor.type`-style name of a path (indices dropped)."""
    return ".".join(name for name, _ in key)
