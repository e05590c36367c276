"""Calico selector language (auditor.policy.selector) against the behaviour of libcalico-go/lib/selector.

Rows marked "go:" mirror libcalico-go/lib/selector/parser/parser_test.go (selectorTests, badSelectors,
canonicalisationTests, the Visitor table without its prefix) or tokenizer/tokenizer_test.go; the others were
worked out by hand from parser/ast.go and tokenizer/tokenizer.go.
"""

from __future__ import annotations

import dataclasses
import itertools
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.policy.selector import (
    ALL,
    MAX_LABEL_LENGTH,
    AllNode,
    AndNode,
    ContainsNode,
    EndsWithNode,
    EqNode,
    GlobalNode,
    HasNode,
    InNode,
    NeNode,
    NotInNode,
    NotNode,
    OrNode,
    Selector,
    SelectorSyntaxError,
    StartsWithNode,
    parse,
)

AB = {"a": "a1", "b": "b1"}

# (selector, labels, expected) evaluated with namespaced=True.
EVAL_ROWS = [
    # go: selectorTests
    ('a == "b"', {"a": "b"}, True),
    ('a == "b"', {"a": "b", "c": "d"}, True),
    ('a == "b"', {}, False),
    ('a == "b"', {"a": "c"}, False),
    ('a == "b"', {"c": "d"}, False),
    ('a == "b" && c == "d"', {"a": "b", "c": "d"}, True),
    ('a == "b" && c == "d"', {"a": "b", "c": "e"}, False),
    ('a == "b" && c == "d"', {"a": "b"}, False),
    ('a == "b" || c == "d"', {"c": "d"}, True),
    ('a == "b" || c == "d"', {"a": "e", "c": "e"}, False),
    ('a == "b" || c == "d"', {}, False),
    ("a in {\"'\", '\"', \"c\"}", {"a": '"'}, True),
    ("a in {\"'\", '\"', \"c\"}", {"a": "'"}, True),
    ("a in {\"'\", '\"', \"c\"}", {}, False),
    ("a not in {\"'\", '\"', \"c\"}", {}, True),
    ("a not in {\"'\", '\"', \"c\"}", {"a": "e"}, True),
    ("a not in {\"'\", '\"', \"c\"}", {"a": "c"}, False),
    ('a != "b"', {"a": "a"}, True),
    ('a != "a"', {}, True),  # != is true when the label is absent (ast.go LabelNeValueNode)
    ("a != 'a'", {"a": "a"}, False),
    ('a contains "a"', {"a": "bab"}, True),
    ('a contains "a"', {"b": "aaa"}, False),
    ('a contains "a"', {"a": "b"}, False),
    ('a starts with "a"', {"a": "abb"}, True),
    ('a starts with "a"', {"a": "baa"}, False),
    ('a starts with "a"', {}, False),
    ('a ends with "a"', {"a": "bba"}, True),
    ('a ends with "a"', {"a": "aab"}, False),
    ('a ends with "a"', {"b": "aaa"}, False),
    ('!a in {"a"}', {"a": "b"}, True),
    ('a not in {"d", "e"}', {"a": "a"}, True),
    ("has(a)", {"a": "b"}, True),
    ("has(b)", {"a": "b"}, False),
    ("!has(a)", {"b": "b"}, True),
    ("!!has(b)", {"a": "b"}, False),
    ("!!! has(a)", {"a": "b"}, False),
    ("!! ! has(a)", {"a": "b"}, False),
    ("", {}, True),
    (" ", {"a": "b"}, True),
    ("all()", {}, True),
    (" all()", {"a": "b"}, True),
    ("a == 'a1' && b != 'b1'", AB, False),
    ("a != 'a1' && !b == 'b1'", AB, False),
    ("has(a) && !has(b)", {"a": "a"}, True),
    ("!(!has(a) || has(b))", {"a": "a"}, True),
    ("!(has(b) || !has(a))", {"a": "a"}, True),
    ("a == 'a1' || b != 'b1'", AB, True),
    ("a != 'a1' || b != 'b1'", AB, False),
    ("! a == 'a1' || ! b == 'b1'", AB, False),
    # go: tokenizer_test.go inputs
    ('calico/k8s_ns == "kube-system" && k8s-app == "kube-dns"', {"calico/k8s_ns": "kube-system", "k8s-app": "kube-dns"},
     True),
    ('contains contains "contains"', {"contains": "xcontainsx"}, True),
    ("has(calico/k8s_NS-.1/role)", {"calico/k8s_NS-.1/role": ""}, True),
    # absent labels and empty values
    ("!a in {\"a\"}", {}, True),
    ("has(a)", {"a": ""}, True),
    ('a == ""', {"a": ""}, True),
    ('a == ""', {}, False),
    ('a != ""', {}, True),
    ('a contains ""', {"a": "x"}, True),
    ('a contains ""', {}, False),
    ('a starts with ""', {"a": ""}, True),
    ('a ends with "x"', {}, False),
    ("a in {}", {"a": "x"}, False),
    ("a in {}", {}, False),
    ("a not in {}", {}, True),
    ("a not in {}", {"a": "x"}, True),
    ("a in {'x',}", {"a": "x"}, True),  # trailing comma accepted (parser.go set loop)
    ('!a == "x"', {}, True),
    ('!a == "x"', {"a": "x"}, False),
    # precedence: ! > && > ||
    ("has(a) || has(b) && has(c)", {"a": "1"}, True),
    ("(has(a) || has(b)) && has(c)", {"a": "1"}, False),
    ("!has(a) && has(b)", {"b": "1"}, True),
    ("!(has(a) && has(b))", {"a": "1", "b": "1"}, False),
    ("!has(a) || has(b)", {"a": "1"}, False),
    ("has(a) && has(b) || has(c)", {"c": "1"}, True),
    ("has(a) && (has(b) || has(c))", {"c": "1"}, False),
    ('!(a == "x" || b == "y")', {"a": "z"}, True),
    ('!(a == "x" || b == "y")', {"b": "y"}, False),
    ("!all()", {}, False),
    ('(a == "x")', {"a": "x"}, True),
    ("((((has(a)))))", {"a": "1"}, True),
    ('a == "x" || a == "y" || a == "z"', {"a": "z"}, True),
    ('a in {"x", "y"} && b not in {"x"}', {"a": "y"}, True),
    # quoting
    ("a == 'it\"s'", {"a": 'it"s'}, True),
    ('a == "it\'s"', {"a": "it's"}, True),
    ("a in {'a b', \"c,d\"}", {"a": "c,d"}, True),
    ('a == "x && y"', {"a": "x && y"}, True),
    ('a == "x\ny"', {"a": "x\ny"}, True),  # a newline inside a string is fine
    ('a == "X"', {"a": "x"}, False),
    ('A == "x"', {"a": "x"}, False),
    # whitespace variants (only space and tab)
    ('a=="b"', {"a": "b"}, True),
    ("\ta\t==\t'b'\t", {"a": "b"}, True),
    ("  (  has( a )  )  ", {"a": "b"}, True),
    ('a startswith "x"', {"a": "xy"}, True),
    ('a endswith "y"', {"a": "xy"}, True),
    ('a starts   with "x"', {"a": "xy"}, True),
    ('a notin {"x"}', {"a": "y"}, True),
    ('a notin{"x"}', {"a": "x"}, False),
    ('a contains"x"', {"a": "yxy"}, True),
    ("a in{'x'}&&b!='y'||c=='z'", {"a": "x"}, True),
    # label keys: dots, slashes, dashes, Calico's pcns./pcsa./projectcalico.org/ keys
    ('projectcalico.org/name == "default"', {"projectcalico.org/name": "default"}, True),
    ('pcns.foo == "bar"', {"pcns.foo": "bar"}, True),
    ('pcns.foo == "bar"', {"foo": "bar"}, False),
    ('pcns.projectcalico.org/name in {"dev", "prod"}', {"pcns.projectcalico.org/name": "prod"}, True),
    ("has(projectcalico.org/namespace)", {}, False),
    ("!has(projectcalico.org/namespace)", {"projectcalico.org/orchestrator": "k8s"}, True),
    ('pcsa.projectcalico.org/name == "default"', {"pcsa.projectcalico.org/name": "default"}, True),
    ("has(a-b_c.d/e)", {"a-b_c.d/e": "1"}, True),
    ('app.kubernetes.io/name != "web"', {"app.kubernetes.io/name": "web"}, False),
    ('k8s-app starts with "kube-" && !k8s-app ends with "dns"', {"k8s-app": "kube-proxy"}, True),
    ('-a == "x"', {"-a": "x"}, True),
    ('all == "x"', {"all": "x"}, True),  # keywords are not reserved
    ("has(has)", {"has": ""}, True),
]

# (selector, labels, namespaced, expected): global() is modelled by the namespaced flag (module docstring).
GLOBAL_ROWS = [
    ("global()", {}, False, True),
    ("global()", {}, True, False),
    ("global()", {"a": "b"}, False, True),
    (" global( ) ", {"a": "b"}, True, False),
    ("!global()", {}, True, True),
    ("!global()", {}, False, False),
    ("all()", {}, False, True),
    ("all()", {}, True, True),
    ("", {}, False, True),
    ("global() || has(a)", {"a": "1"}, True, True),
    ("global() || has(a)", {}, True, False),
    ("global() && has(a)", {"a": "1"}, False, True),
    ("global() && has(a)", {}, False, False),
    ("has(a)", {"a": "1"}, False, True),
    ('a != "x"', {}, False, True),
]

# (selector, expected 0-based column)
ERROR_ROWS = [
    ("b == b", 5),  # go: badSelectors (label == label)
    ("b contains b", 11),  # go
    ("b starts with b", 14),  # go
    ("b ends with b", 12),  # go
    ("'b1' == b", 0),  # go: literal on lhs
    ("b", 1),  # go: bare label
    ("a b", 2),  # go
    ("!", 1),  # go
    ('foo == "bar" &', 13),  # go
    ('foo == "bar" |', 13),  # go
    ("foo != ||", 7),  # go
    ('foo in {"", ||', 12),  # go
    ('foo in ""', 7),  # go: expected set literal
    ('"FOO', 0),  # go: unterminated string
    ("\"FOO'", 0),  # go
    ("'FOO", 0),  # go
    ("(", 1),  # go
    ('(a == "foo"', 11),  # go
    (")", 0),  # go
    ("()", 1),  # go
    ("%", 0),  # go
    ('a == "b" && %', 12),  # go
    ('a == "b" || %', 12),  # go
    ("a ", 2),  # go
    ("has(foo) &&", 11),  # go
    ("label starts foo \"value\"", 6),  # go: tokenizer_test.go
    ("label squiggles \"value\"", 6),  # go: tokenizer_test.go
    ("a ==", 4),
    ("a = 'b'", 2),
    ("a in {,}", 6),
    ("a in {'x' 'y'}", 10),
    ("a in {'x',,}", 10),
    ("has(", 4),
    ("has(a", 5),
    ("has()", 4),
    ("has (a)", 4),  # no space allowed between has and (
    ("all(x)", 4),
    ("global(", 7),
    ("a containsx 'b'", 2),  # word boundary after the operator
    ("a !in {'b'}", 2),
    ("a == 'b' c == 'd'", 9),
    ("a == 'b' )", 9),
    ("a == 'b'\n", 8),  # only space and tab are whitespace (tokenizer.go trimWhitespace)
    ("a ==\n'b'", 4),
    ("has(a) && (b == 'c'", 19),
    ("has(a) && (b == 'c' || !)", 24),
    ("x" * (MAX_LABEL_LENGTH + 1) + " == 'a'", 0),
    ("has(" + "x" * (MAX_LABEL_LENGTH + 1) + ")", 4),
]

# (input, canonical String())
CANONICAL_ROWS = [
    # go: canonicalisationTests
    ("", "all()"),
    (" all() ", "all()"),
    (" (all() )", "all()"),
    ("! (has( b)||! has(a ))", "!(has(b) || !has(a))"),
    ('! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")'),
    ("a == \"'\"", "a == \"'\""),
    ("a == '\"'", "a == '\"'"),
    ("a contains '\"'", "a contains '\"'"),
    ("a contains \"'\"", "a contains \"'\""),
    ("a startswith '\"'", "a starts with '\"'"),
    ("a endswith \"'\"", "a ends with \"'\""),
    ("a!='\"'", "a != '\"'"),
    ('a in {"d"}', 'a in {"d"}'),
    ('a in {"d", "a", "b"}', 'a in {"a", "b", "d"}'),
    ('a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}'),
    # go: Visitor table, without the prefix
    ("k == 'v'", 'k == "v"'),
    ("k starts with 'v'", 'k starts with "v"'),
    ("k == 'v' && x == 'y'", '(k == "v" && x == "y")'),
    ("k == 'v' || has(x)", '(k == "v" || has(x))'),
    ("!(k == 'v')", '!k == "v"'),
    ("k not in {'v'}", 'k not in {"v"}'),
    ("!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
     '!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})'),
    # by hand
    ("a in {}", "a in {}"),
    ("a not in {'x',}", 'a not in {"x"}'),
    ("\tglobal( )", "global()"),
    ("!!has(a)", "has(a)"),
    ("!(!has(a))", "!!has(a)"),  # Calico's String() is not idempotent here
    ("(a == 'x' && b == 'y') && c == 'z'", '((a == "x" && b == "y") && c == "z")'),
    ("a == 'x' && b == 'y' && c == 'z'", '(a == "x" && b == "y" && c == "z")'),
]


@pytest.mark.parametrize(("text", "labels", "expected"), EVAL_ROWS)
def test_evaluate(text, labels, expected):
    sel = parse(text)
    assert sel.evaluate(labels) is expected
    assert parse(str(sel)).evaluate(labels) is expected  # go: "should match after canonicalising"


@pytest.mark.parametrize(("text", "labels", "namespaced", "expected"), GLOBAL_ROWS)
def test_global_and_namespaced_flag(text, labels, namespaced, expected):
    assert parse(text).evaluate(labels, namespaced=namespaced) is expected


@pytest.mark.parametrize(("text", "column"), ERROR_ROWS)
def test_syntax_error_column(text, column):
    with pytest.raises(SelectorSyntaxError) as info:
        parse(text)
    err = info.value
    assert err.column == column, err.message
    assert err.text == text
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(("text", "canonical"), CANONICAL_ROWS)
def test_canonical_form(text, canonical):
    assert str(parse(text)) == canonical


def test_eval_table_sizes():
    assert len(EVAL_ROWS) >= 70 and len(ERROR_ROWS) >= 15


def test_error_message_shows_selector_and_caret():
    with pytest.raises(SelectorSyntaxError) as info:
        parse("a == b")
    err = info.value
    assert err.message == "expected a value after '==', found label 'b'"
    assert str(err).splitlines() == [
        "expected a value after '==', found label 'b' at column 5",
        "    a == b",
        "         ^",
    ]
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.text, copy.column, copy.message) == (err.text, err.column, err.message)


def test_error_caret_keeps_tabs_and_uses_the_right_line():
    with pytest.raises(SelectorSyntaxError) as info:
        parse('a\t==\t"x\ny" && %')
    lines = str(info.value).splitlines()
    assert lines[1] == '    y" && %'
    assert lines[2] == "          ^"
    with pytest.raises(SelectorSyntaxError) as info:
        parse("\ta = 'b'")
    assert str(info.value).splitlines()[2] == "    \t  ^"


def test_label_length_limit():
    key = "k" * MAX_LABEL_LENGTH
    assert parse(f"{key} == 'v'").label_keys == {key}
    assert parse(f"has({key})").evaluate({key: ""})


def test_double_negation_collapses_but_parenthesised_does_not():
    assert parse("!!has(a)").root == HasNode("a")
    assert parse("!!!has(a)").root == NotNode(HasNode("a"))
    assert parse("!(!has(a))").root == NotNode(NotNode(HasNode("a")))


def test_ast_shapes():
    assert parse("a == 'x' && b != 'y' || !c in {'z', 'w'}").root == OrNode((
        AndNode((EqNode("a", "x"), NeNode("b", "y"))),
        NotNode(InNode("c", ("w", "z"))),
    ))
    assert parse("a contains 'x' && a starts with 'y' && a ends with 'z' && a not in {}").root == AndNode((
        ContainsNode("a", "x"), StartsWithNode("a", "y"), EndsWithNode("a", "z"), NotInNode("a", ())))
    assert parse(" ").root == AllNode()
    assert parse("global()").root == GlobalNode()
    assert InNode("a", ("y", "x", "y")) == InNode("a", ("x", "y"))
    assert InNode("a", ("y", "x", "y")).values == ("x", "y")


def test_selector_identity_hash_and_immutability():
    a, b = parse("a=='b'&&has(c)"), parse('(a == "b" && has(c))')
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != parse("has(c) && a == 'b'")
    assert parse("x == 'y'") is parse("x == 'y'")  # cached
    with pytest.raises(AttributeError):
        a.root = AllNode()
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.root.operands = ()
    assert ALL == parse("") == Selector(AllNode()) and str(ALL) == "all()"
    assert repr(ALL) == "Selector('all()')"
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(TypeError):
        parse(None)


def test_label_keys_and_uses_global():
    sel = parse("pcns.x == 'a' || !has(y) && (z not in {} || w starts with 'q') && global()")
    assert sel.label_keys == {"pcns.x", "y", "z", "w"}
    assert sel.uses_global
    assert parse("all()").label_keys == frozenset() and not parse("all()").uses_global
    assert not parse("a contains 'global()'").uses_global


# --- hypothesis -------------------------------------------------------------------------------------------------

KEY_POOL = ["a", "b", "pcns.projectcalico.org/name", "projectcalico.org/namespace", "app.kubernetes.io/name",
            "a-b_c.d/e", "contains", "in"]
VALUE_POOL = ["", "a", "ab", "ba", "x y", 'q"', "q'", "é", "{,}"]
IDENT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-"

keys = st.one_of(st.sampled_from(KEY_POOL), st.text(IDENT, min_size=1, max_size=8))
values = st.one_of(
    st.sampled_from(VALUE_POOL),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6),
).filter(lambda v: not ('"' in v and "'" in v))  # no selector string can hold both kinds of quote
value_sets = st.lists(values, max_size=4).map(tuple)

leaves = st.one_of(
    st.just(AllNode()),
    st.just(GlobalNode()),
    st.builds(HasNode, keys),
    st.builds(EqNode, keys, values),
    st.builds(NeNode, keys, values),
    st.builds(ContainsNode, keys, values),
    st.builds(StartsWithNode, keys, values),
    st.builds(EndsWithNode, keys, values),
    st.builds(InNode, keys, value_sets),
    st.builds(NotInNode, keys, value_sets),
)


def _extend(children):
    operands = st.lists(children, min_size=2, max_size=4).map(tuple)
    # The parser folds "!!x" into x, so the printed form of Not(Not(x)) cannot round-trip: never generate it.
    return st.one_of(st.builds(AndNode, operands), st.builds(OrNode, operands),
                     st.builds(NotNode, children.filter(lambda n: not isinstance(n, NotNode))))


asts = st.recursive(leaves, _extend, max_leaves=12)
label_maps = st.dictionaries(st.sampled_from(KEY_POOL), st.sampled_from(VALUE_POOL), max_size=5)


def oracle(node, labels, namespaced):
    """An independent reading of ast.go, written as one dispatch over node types."""
    if isinstance(node, AllNode):
        return True
    if isinstance(node, GlobalNode):
        return not namespaced
    if isinstance(node, NotNode):
        return not oracle(node.operand, labels, namespaced)
    if isinstance(node, AndNode):
        return all(oracle(op, labels, namespaced) for op in node.operands)
    if isinstance(node, OrNode):
        return any(oracle(op, labels, namespaced) for op in node.operands)
    present = node.key in labels
    value = labels.get(node.key)
    if isinstance(node, HasNode):
        return present
    if isinstance(node, NeNode):
        return not present or value != node.value
    if isinstance(node, NotInNode):
        return not present or value not in node.values
    if not present:
        return False
    if isinstance(node, EqNode):
        return value == node.value
    if isinstance(node, ContainsNode):
        return node.value in value
    if isinstance(node, StartsWithNode):
        return value.startswith(node.value)
    if isinstance(node, EndsWithNode):
        return value.endswith(node.value)
    assert isinstance(node, InNode)
    return value in node.values


@settings(max_examples=300)
@given(asts, st.lists(label_maps, min_size=1, max_size=4))
def test_round_trip_through_canonical_form(ast, label_list):
    text = str(ast)
    sel = parse(text)
    assert sel.root == ast
    assert str(sel) == text
    assert sel == Selector(ast)
    for labels in label_list:
        for namespaced in (True, False):
            expected = oracle(ast, labels, namespaced)
            assert ast.evaluate(labels, namespaced) is expected
            assert sel.evaluate(labels, namespaced=namespaced) is expected


@given(asts)
def test_label_keys_cover_every_key_read(ast):
    sel = Selector(ast)
    # Labels outside label_keys never change the result.
    base = {k: "a" for k in sel.label_keys}
    noise = {**base, "zz-not-read": "a", "pcns.unrelated": "x"}
    assert not {"zz-not-read", "pcns.unrelated"} & sel.label_keys
    for namespaced in (True, False):
        assert sel.evaluate(base, namespaced=namespaced) == sel.evaluate(noise, namespaced=namespaced)


@given(st.text(alphabet=" \t\n!&|=(){},'\"abhs.lginotcewr/-%", max_size=30))
def test_arbitrary_text_parses_or_raises_syntax_error(text):
    try:
        sel = parse(text)
    except SelectorSyntaxError as err:
        assert 0 <= err.column <= len(text)
        assert err.text == text
        str(err)
    else:
        assert parse(str(sel)) == parse(str(parse(str(sel))))


# --- labels that were never read (evaluate_unknown) ---------------------------------------------------------------

SMALL_KEYS = ["a", "b", "c"]
SMALL_VALUES = ["", "x", "y", "xy", "yx"]
small_leaves = st.one_of(
    st.just(AllNode()),
    st.just(GlobalNode()),
    st.builds(HasNode, st.sampled_from(SMALL_KEYS)),
    st.builds(EqNode, st.sampled_from(SMALL_KEYS), st.sampled_from(SMALL_VALUES)),
    st.builds(NeNode, st.sampled_from(SMALL_KEYS), st.sampled_from(SMALL_VALUES)),
    st.builds(InNode, st.sampled_from(SMALL_KEYS), st.lists(st.sampled_from(SMALL_VALUES), max_size=3).map(tuple)),
    st.builds(NotInNode, st.sampled_from(SMALL_KEYS), st.lists(st.sampled_from(SMALL_VALUES), max_size=3).map(tuple)),
    st.builds(ContainsNode, st.sampled_from(SMALL_KEYS), st.sampled_from(SMALL_VALUES)),
    st.builds(StartsWithNode, st.sampled_from(SMALL_KEYS), st.sampled_from(SMALL_VALUES)),
    st.builds(EndsWithNode, st.sampled_from(SMALL_KEYS), st.sampled_from(SMALL_VALUES)),
)
small_asts = st.recursive(small_leaves, _extend, max_leaves=8)
PATTERNS = (ContainsNode, StartsWithNode, EndsWithNode)


def _completions(labels, open_keys):
    """Every way the open keys can be absent or hold a value: the literals, their concatenations, and others."""
    domain = [None, "", "x", "y", "xy", "yx", "xyx", "zz", "x y"]
    for values in itertools.product(domain, repeat=len(open_keys)):
        done = {k: v for k, v in labels.items() if k not in open_keys}
        done.update({k: v for k, v in zip(open_keys, values) if v is not None})
        yield done


def _uses_pattern_on(node, keys):
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, PATTERNS) and n.key in keys:
            return True
        stack.extend(n.children())
    return False


@settings(max_examples=400)
@given(small_asts, st.dictionaries(st.sampled_from(SMALL_KEYS), st.sampled_from(SMALL_VALUES), max_size=3),
       st.sets(st.sampled_from(SMALL_KEYS)), st.booleans())
def test_evaluate_unknown_never_decides_wrongly_and_is_exact_without_patterns(ast, labels, open_keys, namespaced):
    sel = Selector(ast)
    got = sel.evaluate_unknown(labels, lambda k: k in open_keys, namespaced=namespaced)
    keys = sorted(open_keys)
    results = {oracle(ast, done, namespaced) for done in _completions(labels, keys)}
    if got is not None:
        assert results == {got}, f"{sel}: decided {got}, but completions give {results}"
    elif not _uses_pattern_on(ast, open_keys):
        assert len(results) == 2, f"{sel}: maybe, but every completion gives {results}"
    if not open_keys:
        assert got is oracle(ast, labels, namespaced)


def test_evaluate_unknown_examples():
    unknown = {"pcns.team"}.__contains__
    assert parse("pcns.team == 'b'").evaluate_unknown({}, unknown) is None
    assert parse("pcns.team == 'b' || pcns.team != 'b'").evaluate_unknown({}, unknown) is True  # a tautology
    assert parse("pcns.team in {}").evaluate_unknown({}, unknown) is False
    assert parse("pcns.projectcalico.org/name == 'q'").evaluate_unknown(
        {"pcns.projectcalico.org/name": "q"}, unknown) is True
    assert parse("pcns.team == 'b' && app == 'x'").evaluate_unknown({"app": "y"}, unknown) is False
    assert parse("pcns.team starts with 'a' && pcns.team ends with 'b'").evaluate_unknown({}, unknown) is None
