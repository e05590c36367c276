"""Calico's label-selector language: tokenizer -> parser -> AST, evaluated against a label map.

This is a port of libcalico-go/lib/selector (``tokenizer/tokenizer.go``, ``parser/parser.go``,
``parser/ast.go``, ``parser/stringset.go``), following the newest tokenizer (the one with word-boundary checks
and ``MaxLabelLength``). Where the Go code and the docs differ, the Go code wins.

Grammar (precedence ``!`` > ``&&`` > ``||``)::

    selector  := <empty> | or
    or        := and ( '||' and )*
    and       := operation ( '&&' operation )*
    operation := '!'* ( 'has(' KEY ')' | 'all()' | 'global()' | '(' or ')'
                      | KEY ('==' | '!=' | 'contains' | 'starts with' | 'ends with') STRING
                      | KEY ('in' | 'not in') '{' [ STRING ( ',' STRING )* [','] ] '}' )

Facts read in the Go source, some of them surprising:

- Whitespace is only space and tab (``trimWhitespace``). A newline anywhere outside a quoted string is a syntax
  error, including a trailing one (what a YAML ``|`` or ``>`` block scalar leaves). An empty or space/tab-only
  selector is ``all()`` (``parseRoot``).
- A label key is 1..512 characters of ``[A-Za-z0-9_./-]`` (``identifierChar``, ``MaxLabelLength``); nothing else
  is checked, so ``-a``, ``/`` and ``a..b`` are keys. Keywords are not reserved: ``contains contains "x"`` and
  ``all == "x"`` are valid. ``has(``, ``all(`` and ``global(`` must have no space before the ``(`` (``has (a)``
  is the label ``has`` followed by a parenthesis: an error), but may have spaces inside: ``has( a )``.
- After a label the operators are matched as prefixes with a word-boundary check only after the last word, and
  whitespace between the words is optional: ``a startswith "x"``, ``a notin{"x"}`` and ``a contains"x"`` are valid.
- Strings are in single or double quotes with no escapes: the value is everything up to the next quote of the
  same kind, so it may hold the other kind of quote, spaces, braces or newlines, but never both kinds of quote.
- Any number of leading ``!`` collapse to one boolean (``parseOperation``): ``!!has(a)`` *is* ``has(a)``. A ``!``
  negates one operation, so ``!a == "b"`` means ``!(a == "b")``, and it applies to every kind of operation,
  ``!all()``, ``!global()`` and ``!( ... )`` included.
- Sets may be empty and may end with a comma: ``a in {}`` (always false), ``a not in {"x",}``. Their values are
  sorted (Go compares bytes; for UTF-8 that is code-point order) and de-duplicated (``ConvertToStringSetInPlace``).
- Absent labels (``ast.go``): ``==``, ``in``, ``contains``, ``starts with``, ``ends with`` are false;
  ``!=`` and ``not in`` are *true* (``LabelNeValueNode``/``LabelNotInSetNode`` return true when the key is absent).
- Canonical form (``collectFragments``): ``&&``/``||`` groups are always parenthesised, ``!`` is printed with no
  space, strings use double quotes unless they contain one. ``!(!has(a))`` prints ``!!has(a)``, which reparses as
  ``has(a)``: Calico's String() is not idempotent there (the parenthesised operand keeps its own ``!``).

``global()``: in the Go parser ``GlobalNode.Evaluate`` returns **true unconditionally**, exactly like ``all()``.
Its meaning comes from a textual rewrite in ``updateprocessors/rules.go`` (``getEndpointSelector``): in a rule's
*namespaceSelector* (after prefixing keys with ``pcns.`` and canonicalising) ``all()`` is replaced by
``has(projectcalico.org/namespace)`` and ``global()`` by ``!has(projectcalico.org/namespace)``, i.e. "only
endpoints/network sets that are in no namespace". (That rewrite is a plain ``strings.Replace`` on the printed
selector, so it would also rewrite a quoted value such as ``a == "all()"``.) Outside namespaceSelectors global()
is not rewritten and behaves as all(). Here the rewrite's effect is modelled by a flag:
``evaluate(labels, namespaced=...)`` makes ``global()`` true only when ``namespaced`` is False; ``all()`` is
always true, so a caller evaluating a namespaceSelector must still apply the ``all()`` half of the rewrite
(``all()`` there does *not* match non-namespaced things), and a caller emulating global() outside a
namespaceSelector should pass ``namespaced=False``.

Syntax errors carry the 0-based column (index into the Python string) of the offending character or token.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Callable, Mapping, NamedTuple

__all__ = [
    "ALL",
    "AllNode",
    "AndNode",
    "ContainsNode",
    "EndsWithNode",
    "EqNode",
    "GlobalNode",
    "HasNode",
    "InNode",
    "MAX_LABEL_LENGTH",
    "NeNode",
    "Node",
    "NotInNode",
    "NotNode",
    "OrNode",
    "Selector",
    "SelectorSyntaxError",
    "StartsWithNode",
    "parse",
    "tokenize",
]

MAX_LABEL_LENGTH = 512  # tokenizer.go MaxLabelLength
_WHITESPACE = " \t"  # tokenizer.go trimWhitespace: no newlines, no other Unicode space
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")


class SelectorSyntaxError(ValueError):
    """A selector that Calico would reject; ``column`` is the 0-based index of the offending character/token."""

    def __init__(self, text: str, column: int, message: str):
        self.text = text
        self.column = column
        self.message = message
        super().__init__(text, column, message)

    def __str__(self) -> str:
        # Show only the line holding the column (quoted strings may contain newlines) and keep tabs in the
        # caret line so the caret stays under the right character.
        start = self.text.rfind("\n", 0, self.column) + 1
        end = self.text.find("\n", self.column)
        line = self.text[start:] if end < 0 else self.text[start:end]
        pad = "".join("\t" if c == "\t" else " " for c in self.text[start:self.column])
        return f"{self.message} at column {self.column}\n    {line}\n    {pad}^"

    def __reduce__(self):
        return (type(self), (self.text, self.column, self.message))


# --- tokenizer (tokenizer.go) -----------------------------------------------------------------------------------

EOF, LABEL, STRING, LBRACE, RBRACE, COMMA, EQ, NE, IN, NOT, NOTIN = range(11)
CONTAINS, STARTSWITH, ENDSWITH, ALL_, HAS, LPAREN, RPAREN, AND, OR, GLOBAL = range(11, 21)

_OP_NAMES = {EQ: "==", NE: "!=", CONTAINS: "contains", STARTSWITH: "starts with", ENDSWITH: "ends with",
             IN: "in", NOTIN: "not in"}
_SINGLE = {"(": LPAREN, ")": RPAREN, "{": LBRACE, "}": RBRACE, ",": COMMA}
# Operators recognised right after a label, in the order tokenizer.go tries them; each is a list of words.
_LABEL_OPERATORS = ((CONTAINS, ("contains",)), (STARTSWITH, ("starts", "with")), (ENDSWITH, ("ends", "with")),
                    (NOTIN, ("not", "in")), (IN, ("in",)))


class Token(NamedTuple):
    kind: int
    value: str  # label name, has() label, or string literal contents; "" otherwise
    start: int  # column of the first character
    end: int  # column after the last character


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WHITESPACE:
        i += 1
    return i


def _cut_identifier(text: str, i: int) -> int:
    """End of the label key starting at ``i`` (tokenizer.go cutIdentifier); raises if empty or too long."""
    j, n = i, len(text)
    while j < n and text[j] in _IDENT_CHARS:
        j += 1
    if j == i:
        found = repr(text[i]) if i < n else "end of selector"
        raise SelectorSyntaxError(text, i, f"expected a label name, found {found}")
    if j - i > MAX_LABEL_LENGTH:
        raise SelectorSyntaxError(text, i, f"label name longer than {MAX_LABEL_LENGTH} characters")
    return j


def _cut_words(text: str, i: int, words: tuple[str, ...]) -> int:
    """End of ``words`` at ``i`` (optional whitespace between them, word boundary after the last), or -1.

    tokenizer.go cutPrefixCheckBreak / cutMultiWordPrefixCheckBreak: only the last word needs a boundary, so
    "notin" is "not in". Go's multi-word helper skips whitespace *before* its boundary check, so it rejects
    ``b starts with b`` in the tokenizer ("expected operator"); checking right after the word instead accepts
    exactly the same selectors (an operator is always followed by a string or '{', never a label character)
    but lets the parser point at the ``b`` that should have been a value.
    """
    j = i
    for idx, word in enumerate(words):
        if idx:
            j = _skip_ws(text, j)
        if not text.startswith(word, j):
            return -1
        j += len(word)
    if j < len(text) and text[j] in _IDENT_CHARS:
        return -1
    return j


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, always ending with an EOF token (tokenizer.go AppendTokens)."""
    tokens: list[Token] = []
    n = len(text)
    i = 0
    while True:
        i = _skip_ws(text, i)
        if i >= n:
            tokens.append(Token(EOF, "", n, n))
            return tokens
        c = text[i]
        if c in _SINGLE:
            tokens.append(Token(_SINGLE[c], "", i, i + 1))
            i += 1
        elif c == '"' or c == "'":
            close = text.find(c, i + 1)
            if close < 0:
                raise SelectorSyntaxError(text, i, f"unterminated string: no closing {c}")
            tokens.append(Token(STRING, text[i + 1:close], i, close + 1))
            i = close + 1
        elif c == "=":
            if not text.startswith("==", i):
                raise SelectorSyntaxError(text, i, "expected '==' (a single '=' is not an operator)")
            tokens.append(Token(EQ, "", i, i + 2))
            i += 2
        elif c == "!":
            # "!=" wins wherever it appears; otherwise "!" is a negation (tokenizer.go).
            if text.startswith("!=", i):
                tokens.append(Token(NE, "", i, i + 2))
                i += 2
            else:
                tokens.append(Token(NOT, "", i, i + 1))
                i += 1
        elif c == "&" or c == "|":
            if not text.startswith(c + c, i):
                raise SelectorSyntaxError(text, i, f"expected '{c}{c}'")
            tokens.append(Token(AND if c == "&" else OR, "", i, i + 2))
            i += 2
        elif tokens and tokens[-1].kind == LABEL:
            # Right after a label only an operator may follow (not has(), all() or another label).
            for kind, words in _LABEL_OPERATORS:
                end = _cut_words(text, i, words)
                if end >= 0:
                    tokens.append(Token(kind, "", i, end))
                    i = end
                    break
            else:
                raise SelectorSyntaxError(text, i, f"expected an operator after label {tokens[-1].value!r}")
        elif text.startswith("has(", i):
            j = _skip_ws(text, i + 4)
            k = _cut_identifier(text, j)
            key = text[j:k]
            k = _skip_ws(text, k)
            if k >= n or text[k] != ")":
                raise SelectorSyntaxError(text, k, "expected ')' to close 'has('")
            tokens.append(Token(HAS, key, i, k + 1))
            i = k + 1
        elif text.startswith("all(", i) or text.startswith("global(", i):
            name = "all" if c == "a" else "global"
            j = _skip_ws(text, i + len(name) + 1)
            if j >= n or text[j] != ")":
                raise SelectorSyntaxError(text, j, f"expected ')' after '{name}('")
            tokens.append(Token(ALL_ if name == "all" else GLOBAL, "", i, j + 1))
            i = j + 1
        elif c in _IDENT_CHARS:
            j = _cut_identifier(text, i)
            tokens.append(Token(LABEL, text[i:j], i, j))
            i = j
        else:
            raise SelectorSyntaxError(text, i, f"unexpected character {c!r}")


# --- AST (ast.go) -----------------------------------------------------------------------------------------------


def _quote(value: str) -> str:
    """ast.go appendLabelOpAndQuotedString: double quotes unless the value contains one."""
    q = "'" if '"' in value else '"'
    return q + value + q


class Node:
    """Base of the AST nodes. Subclasses are frozen dataclasses (hashable, compared structurally)."""

    __slots__ = ()

    def evaluate(self, labels: Mapping[str, str], namespaced: bool = True) -> bool:
        raise NotImplementedError

    def fragments(self, out: list[str]) -> None:
        """Append the canonical text of this node to ``out`` (ast.go collectFragments)."""
        raise NotImplementedError

    def children(self) -> tuple[Node, ...]:
        return ()

    def __str__(self) -> str:
        out: list[str] = []
        self.fragments(out)
        return "".join(out)


@dataclass(frozen=True, slots=True)
class AllNode(Node):
    """``all()``: always true."""

    def evaluate(self, labels, namespaced=True):
        return True

    def fragments(self, out):
        out.append("all()")


@dataclass(frozen=True, slots=True)
class GlobalNode(Node):
    """``global()``: true only for non-namespaced things.

    ast.go GlobalNode.Evaluate returns true unconditionally; the non-namespaced meaning is the namespaceSelector
    rewrite ``global()`` -> ``!has(projectcalico.org/namespace)`` in updateprocessors/rules.go (module docstring).
    """

    def evaluate(self, labels, namespaced=True):
        return not namespaced

    def fragments(self, out):
        out.append("global()")


@dataclass(frozen=True, slots=True)
class HasNode(Node):
    """``has(key)``: the label is present, whatever its value (even empty)."""

    key: str

    def evaluate(self, labels, namespaced=True):
        return self.key in labels

    def fragments(self, out):
        out.append(f"has({self.key})")


@dataclass(frozen=True, slots=True)
class EqNode(Node):
    """``key == "value"``: false when the label is absent."""

    key: str
    value: str

    def evaluate(self, labels, namespaced=True):
        return labels.get(self.key) == self.value  # absent -> None != value

    def fragments(self, out):
        out.append(f"{self.key} == {_quote(self.value)}")


@dataclass(frozen=True, slots=True)
class NeNode(Node):
    """``key != "value"``: TRUE when the label is absent (ast.go LabelNeValueNode), unlike ``!has`` logic."""

    key: str
    value: str

    def evaluate(self, labels, namespaced=True):
        return labels.get(self.key) != self.value

    def fragments(self, out):
        out.append(f"{self.key} != {_quote(self.value)}")


@dataclass(frozen=True, slots=True)
class ContainsNode(Node):
    """``key contains "s"``: substring test; false when absent."""

    key: str
    value: str

    def evaluate(self, labels, namespaced=True):
        v = labels.get(self.key)
        return v is not None and self.value in v

    def fragments(self, out):
        out.append(f"{self.key} contains {_quote(self.value)}")


@dataclass(frozen=True, slots=True)
class StartsWithNode(Node):
    """``key starts with "s"``: false when absent."""

    key: str
    value: str

    def evaluate(self, labels, namespaced=True):
        v = labels.get(self.key)
        return v is not None and v.startswith(self.value)

    def fragments(self, out):
        out.append(f"{self.key} starts with {_quote(self.value)}")


@dataclass(frozen=True, slots=True)
class EndsWithNode(Node):
    """``key ends with "s"``: false when absent."""

    key: str
    value: str

    def evaluate(self, labels, namespaced=True):
        v = labels.get(self.key)
        return v is not None and v.endswith(self.value)

    def fragments(self, out):
        out.append(f"{self.key} ends with {_quote(self.value)}")


def _normalise_set(node, values) -> None:
    # stringset.go ConvertToStringSetInPlace: sorted, de-duplicated. Set on a frozen dataclass via object.
    ordered = tuple(sorted(set(values)))
    object.__setattr__(node, "values", ordered)
    object.__setattr__(node, "_lookup", frozenset(ordered))


def _set_text(values: tuple[str, ...]) -> str:
    return "{" + ", ".join(_quote(v) for v in values) + "}"


@dataclass(frozen=True, slots=True)
class InNode(Node):
    """``key in {"a", "b"}``: false when absent; ``in {}`` is always false. Values are kept sorted and unique."""

    key: str
    values: tuple[str, ...]
    _lookup: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        _normalise_set(self, self.values)

    def evaluate(self, labels, namespaced=True):
        return labels.get(self.key) in self._lookup  # None is never in the set

    def fragments(self, out):
        out.append(f"{self.key} in {_set_text(self.values)}")


@dataclass(frozen=True, slots=True)
class NotInNode(Node):
    """``key not in {...}``: TRUE when the label is absent (ast.go LabelNotInSetNode)."""

    key: str
    values: tuple[str, ...]
    _lookup: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        _normalise_set(self, self.values)

    def evaluate(self, labels, namespaced=True):
        return labels.get(self.key) not in self._lookup

    def fragments(self, out):
        out.append(f"{self.key} not in {_set_text(self.values)}")


@dataclass(frozen=True, slots=True)
class NotNode(Node):
    """``!operand``. The parser never builds ``NotNode(NotNode(x))`` from ``!!x`` (the ``!`` collapse)."""

    operand: Node

    def evaluate(self, labels, namespaced=True):
        return not self.operand.evaluate(labels, namespaced)

    def fragments(self, out):
        out.append("!")
        self.operand.fragments(out)

    def children(self):
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class AndNode(Node):
    """``(a && b && ...)``: two or more operands, always printed in parentheses."""

    operands: tuple[Node, ...]

    def evaluate(self, labels, namespaced=True):
        for op in self.operands:
            if not op.evaluate(labels, namespaced):
                return False
        return True

    def fragments(self, out):
        _join(out, self.operands, " && ")

    def children(self):
        return self.operands


@dataclass(frozen=True, slots=True)
class OrNode(Node):
    """``(a || b || ...)``: two or more operands, always printed in parentheses."""

    operands: tuple[Node, ...]

    def evaluate(self, labels, namespaced=True):
        for op in self.operands:
            if op.evaluate(labels, namespaced):
                return True
        return False

    def fragments(self, out):
        _join(out, self.operands, " || ")

    def children(self):
        return self.operands


def _join(out: list[str], operands: tuple[Node, ...], sep: str) -> None:
    out.append("(")
    for idx, op in enumerate(operands):
        if idx:
            out.append(sep)
        op.fragments(out)
    out.append(")")


_KEYED = (HasNode, EqNode, NeNode, ContainsNode, StartsWithNode, EndsWithNode, InNode, NotInNode)


# --- parser (parser.go) -----------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list, mirroring parser.go (which works on token slices)."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def error(self, tok: Token, message: str) -> SelectorSyntaxError:
        return SelectorSyntaxError(self.text, tok.start, message)

    def describe(self, tok: Token) -> str:
        if tok.kind == EOF:
            return "end of selector"
        if tok.kind == LABEL:
            return f"label {tok.value!r}"
        if tok.kind == STRING:
            return f"string {self.text[tok.start:tok.end]}"
        return f"'{self.text[tok.start:tok.end]}'"

    def parse_root(self) -> Node:
        if self.tokens[0].kind == EOF:
            return AllNode()  # parser.go parseRoot: empty selector is all()
        node = self.parse_or()
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            raise self.error(tok, f"unexpected {self.describe(tok)}, expected '&&', '||' or end of selector")
        return node

    def parse_or(self) -> Node:
        nodes = [self.parse_and()]
        while self.tokens[self.i].kind == OR:
            self.i += 1
            nodes.append(self.parse_and())
        return nodes[0] if len(nodes) == 1 else OrNode(tuple(nodes))

    def parse_and(self) -> Node:
        nodes = [self.parse_operation()]
        while self.tokens[self.i].kind == AND:
            self.i += 1
            nodes.append(self.parse_operation())
        return nodes[0] if len(nodes) == 1 else AndNode(tuple(nodes))

    def parse_operation(self) -> Node:
        tokens = self.tokens
        negated = False
        while tokens[self.i].kind == NOT:  # parser.go: collapse leading "!"s to one boolean
            negated = not negated
            self.i += 1
        tok = tokens[self.i]
        kind = tok.kind
        if kind == HAS:
            node: Node = HasNode(tok.value)
            self.i += 1
        elif kind == ALL_:
            node = AllNode()
            self.i += 1
        elif kind == GLOBAL:
            node = GlobalNode()
            self.i += 1
        elif kind == LABEL:
            node = self.parse_label_operation(tok)
        elif kind == LPAREN:
            self.i += 1
            node = self.parse_or()
            close = tokens[self.i]
            if close.kind != RPAREN:
                raise self.error(close, f"expected ')' to close '(' at column {tok.start}, "
                                        f"found {self.describe(close)}")
            self.i += 1
        else:
            raise self.error(tok, f"expected an expression, found {self.describe(tok)}")
        return NotNode(node) if negated else node

    def parse_label_operation(self, label: Token) -> Node:
        tokens = self.tokens
        op = tokens[self.i + 1]  # exists: the last token is EOF and `label` is not it
        key = label.value
        if op.kind in (EQ, NE, CONTAINS, STARTSWITH, ENDSWITH):
            value = tokens[self.i + 2]
            if value.kind != STRING:
                raise self.error(value, f"expected a value after '{_OP_NAMES[op.kind]}', "
                                        f"found {self.describe(value)}")
            self.i += 3
            cls = {EQ: EqNode, NE: NeNode, CONTAINS: ContainsNode, STARTSWITH: StartsWithNode,
                   ENDSWITH: EndsWithNode}[op.kind]
            return cls(key, value.value)
        if op.kind in (IN, NOTIN):
            brace = tokens[self.i + 2]
            if brace.kind != LBRACE:
                raise self.error(brace, f"expected '{{' after '{_OP_NAMES[op.kind]}', found {self.describe(brace)}")
            self.i += 3
            values: list[str] = []
            expect_value = True  # only for the error message
            while tokens[self.i].kind == STRING:  # parser.go: string (',' string)* with an optional trailing ','
                values.append(tokens[self.i].value)
                self.i += 1
                if tokens[self.i].kind != COMMA:
                    expect_value = False
                    break
                self.i += 1
            end = tokens[self.i]
            if end.kind != RBRACE:
                wanted = "a value or '}'" if expect_value else "',' or '}'"
                raise self.error(end, f"expected {wanted} in set, found {self.describe(end)}")
            self.i += 1
            return (InNode if op.kind == IN else NotInNode)(key, tuple(values))
        raise self.error(op, f"expected an operator after label {key!r}, found {self.describe(op)}")


# --- public API -------------------------------------------------------------------------------------------------


class Selector:
    """A parsed selector: immutable, hashable, equal to another when their canonical strings are equal."""

    __slots__ = ("root", "_canonical", "label_keys", "uses_global")

    root: Node
    label_keys: frozenset[str]
    uses_global: bool

    def __init__(self, root: Node):
        keys: set[str] = set()
        uses_global = False
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, _KEYED):
                keys.add(node.key)
            elif isinstance(node, GlobalNode):
                uses_global = True
            stack.extend(node.children())
        set_ = object.__setattr__
        set_(self, "root", root)
        set_(self, "_canonical", str(root))
        set_(self, "label_keys", frozenset(keys))
        set_(self, "uses_global", uses_global)

    def __setattr__(self, name, value):
        raise AttributeError("Selector is immutable")

    def __delattr__(self, name):
        raise AttributeError("Selector is immutable")

    def evaluate(self, labels: Mapping[str, str], *, namespaced: bool = True) -> bool:
        """Whether ``labels`` match; ``namespaced`` only matters to ``global()`` (module docstring)."""
        return self.root.evaluate(labels, namespaced)

    def evaluate_unknown(self, labels: Mapping[str, str], unknown: Callable[[str], bool], *,
                         namespaced: bool = True) -> bool | None:
        """Like `evaluate`, when the keys for which ``unknown(key)`` is true may be absent or hold any value
        (labels that were never read): True or False when every such completion agrees, None ("maybe") otherwise.

        Exact when the unknown keys are only tested by ``has``/``==``/``!=``/``in``/``not in``: a value that no literal
        of the selector names behaves like any other such value, so trying "absent", every literal and one fresh
        value covers every completion. With ``contains``/``starts with``/``ends with`` on an unknown key (or too
        many combinations) it falls back to Kleene's three-valued logic, which never decides wrongly but may say
        None for a selector that is in fact decided.
        """
        open_keys = sorted(k for k in self.label_keys if unknown(k))
        if not open_keys:
            return self.root.evaluate(labels, namespaced)
        candidates: dict[str, set] = {k: {None, _FRESH} for k in open_keys}
        patterns = False
        stack = [self.root]
        while stack:
            node = stack.pop()
            stack.extend(node.children())
            if isinstance(node, _KEYED) and node.key in candidates:
                if isinstance(node, (ContainsNode, StartsWithNode, EndsWithNode)):
                    patterns = True
                candidates[node.key].update(getattr(node, "values", None) or [getattr(node, "value", None)])
        combos = 1
        for values in candidates.values():
            combos *= len(values)
        if combos > _MAX_COMPLETIONS:
            return _kleene(self.root, labels, unknown, namespaced)
        base = {k: v for k, v in labels.items() if k not in candidates}
        seen: set[bool] = set()
        for values in itertools.product(*(tuple(candidates[k]) for k in open_keys)):
            completion = dict(base)
            completion.update({k: v for k, v in zip(open_keys, values) if v is not None})
            seen.add(self.root.evaluate(completion, namespaced))
            if len(seen) > 1:
                return None
        answer = seen.pop()
        if patterns:
            return _kleene(self.root, labels, unknown, namespaced)  # candidates may have missed a completion
        return answer

    def __str__(self) -> str:
        return self._canonical

    def __repr__(self) -> str:
        return f"Selector({self._canonical!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selector):
            return NotImplemented
        return self._canonical == other._canonical

    def __hash__(self) -> int:
        return hash(self._canonical)

    def __reduce__(self):
        return (Selector, (self.root,))


_FRESH = "\x00netaudit: a value no selector names"
_MAX_COMPLETIONS = 4096


def _kleene(node: Node, labels: Mapping[str, str], unknown: Callable[[str], bool], namespaced: bool) -> bool | None:
    """Three-valued (Kleene) evaluation: a test on an unknown key is None, and None spreads through !, && and ||
    unless the other operands decide."""
    if isinstance(node, _KEYED):
        return None if unknown(node.key) else node.evaluate(labels, namespaced)
    if isinstance(node, NotNode):
        inner = _kleene(node.operand, labels, unknown, namespaced)
        return None if inner is None else not inner
    if isinstance(node, (AndNode, OrNode)):
        decisive = isinstance(node, OrNode)  # True decides an ||, False decides an &&
        result: bool | None = not decisive
        for op in node.operands:
            value = _kleene(op, labels, unknown, namespaced)
            if value is decisive:
                return decisive
            if value is None:
                result = None
        return result
    return node.evaluate(labels, namespaced)


@functools.lru_cache(maxsize=8192)
def parse(text: str) -> Selector:
    """Parse a Calico selector; raises SelectorSyntaxError. Results are cached by input text."""
    if not isinstance(text, str):
        raise TypeError(f"selector must be a str, not {type(text).__name__}")
    return Selector(_Parser(text).parse_root())


ALL: Selector = parse("all()")
