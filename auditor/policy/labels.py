"""Kubernetes label selectors (metav1.LabelSelector): parse, validate, match, print.

Semantics are those of k8s.io/apimachinery `labels.Selector` built by `metav1.LabelSelectorAsSelector`:
matchLabels and matchExpressions are ANDed; an empty selector matches everything; `NotIn` and `DoesNotExist` are
true when the key is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..model import validate_label_key, validate_label_value

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class SelectorError(ValueError):
    """An invalid selector; `field` is the path inside the selector (e.g. ``matchExpressions[0].operator``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op == "In":
            return labels.get(self.key) in self.values
        if op == "NotIn":
            value = labels.get(self.key)
            return value is None or value not in self.values
        if op == "Exists":
            return self.key in labels
        return self.key not in labels

    def __str__(self) -> str:
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        values = sorted(self.values)
        if self.operator == "In" and len(values) == 1:
            return f"{self.key}={values[0]}"
        word = "in" if self.operator == "In" else "notin"
        return f"{self.key} {word} ({','.join(values)})"


@dataclass(frozen=True)
class LabelSelector:
    """A parsed, validated label selector; equality and hash follow its canonical requirements."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Matches everything (``{}``)."""
        return not self.requirements

    @property
    def label_keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self.requirements)

    def matches(self, labels: Mapping[str, str]) -> bool:
        for req in self.requirements:
            if not req.matches(labels):
                return False
        return True

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements) if self.requirements else "{}"


MATCH_ALL = LabelSelector()


def parse_label_selector(raw: object, field: str = "") -> LabelSelector:
    """Validate a metav1.LabelSelector as written in a manifest and return its canonical form.

    Raises SelectorError naming the offending field. `None` is not accepted here: callers decide what an absent
    selector means (it differs between fields).
    """
    if not isinstance(raw, Mapping):
        raise SelectorError(field, f"must be an object with matchLabels/matchExpressions, got {_kind(raw)}")
    unknown = set(raw) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(field, f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    reqs: dict[tuple, Requirement] = {}
    match_labels = raw.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise SelectorError(_join(field, "matchLabels"),
                            f"must be a map of label key to value, got {_kind(match_labels)}")
    for key, value in match_labels.items():
        where = _join(field, f"matchLabels[{key}]")
        problem = validate_label_key(key) or validate_label_value(value)
        if problem:
            raise SelectorError(where, problem)
        req = Requirement(key, "In", frozenset([value]))
        reqs[(req.key, req.operator, req.values)] = req
    expressions = raw.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise SelectorError(_join(field, "matchExpressions"), f"must be a list, got {_kind(expressions)}")
    for i, expr in enumerate(expressions):
        where = _join(field, f"matchExpressions[{i}]")
        if not isinstance(expr, Mapping):
            raise SelectorError(where, f"must be an object with key, operator, values, got {_kind(expr)}")
        key = expr.get("key")
        problem = validate_label_key(key)
        if problem:
            raise SelectorError(where + ".key", problem)
        op = expr.get("operator")
        if op not in OPERATORS:
            raise SelectorError(where + ".operator", f"{op!r} is not one of {', '.join(OPERATORS)}")
        values = expr.get("values") or []
        if not isinstance(values, list):
            raise SelectorError(where + ".values", f"must be a list, got {_kind(values)}")
        if op in ("In", "NotIn") and not values:
            raise SelectorError(where + ".values", f"must be non-empty when operator is {op}")
        if op in ("Exists", "DoesNotExist") and values:
            raise SelectorError(where + ".values", f"must be empty when operator is {op}")
        texts = []
        for j, value in enumerate(values):
            problem = validate_label_value(value)
            if problem:
                raise SelectorError(f"{where}.values[{j}]", problem)
            texts.append(value)
        req = Requirement(key, op, frozenset(texts))
        reqs[(req.key, req.operator, req.values)] = req
    ordered = sorted(reqs.values(), key=lambda r: (r.key, OPERATORS.index(r.operator), sorted(r.values)))
    return LabelSelector(tuple(ordered))


def _kind(value: object) -> str:
    return type(value).__name__ if value is not None else "null"


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def parse_selector_text(text: str) -> LabelSelector:
    """A selector in kubectl's `-l` syntax (`app=web,tier in (a,b),!legacy,env!=dev`) -> LabelSelector.

    `=`/`==` and `in` are In, `!=` and `notin` are NotIn, a bare key is Exists, `!key` is DoesNotExist.
    Raises SelectorError with the offending part.
    """
    import re

    parts: list[str] = []
    depth, current = 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip() or parts:
        parts.append(current)
    expressions: list[dict] = []
    for part in (p.strip() for p in parts):
        if not part:
            raise SelectorError("", f"empty requirement in {text!r}")
        match = re.fullmatch(r"(\S+?)\s+(in|notin)\s*\(([^()]*)\)", part)
        if match:
            values = [v.strip() for v in match.group(3).split(",") if v.strip()]
            expressions.append({"key": match.group(1), "operator": "In" if match.group(2) == "in" else "NotIn",
                                "values": values})
            continue
        match = re.fullmatch(r"([^=!\s]+)\s*(==|=|!=)\s*(\S*)", part)
        if match:
            expressions.append({"key": match.group(1), "operator": "NotIn" if match.group(2) == "!=" else "In",
                                "values": [match.group(3)]})
            continue
        if part.startswith("!") and re.fullmatch(r"![^=!\s()]+", part):
            expressions.append({"key": part[1:], "operator": "DoesNotExist"})
            continue
        if re.fullmatch(r"[^=!\s()]+", part):
            expressions.append({"key": part, "operator": "Exists"})
            continue
        raise SelectorError("", f"cannot read requirement {part!r} (write key=value, key!=value, key in (a,b), "
                                "key notin (a,b), key or !key)")
    return parse_label_selector({"matchExpressions": expressions})
