"""Label and field selectors, in the string syntax of list calls and the structured
``LabelSelector`` form of Deployments, Jobs and Velero specs.

Both compile to a list of :class:`Requirement`; parse errors raise ValueError,
which the API answers with 400 as a real server does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_SET_TERM = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")
_COMPARISON = re.compile(r"^([^!=<>\s]+)\s*(==|=|!=|<|>)\s*(\S*)$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        try:
            number, bound = int(value or ""), int(self.values[0])
        except ValueError:
            return False
        return number > bound if self.op == "gt" else number < bound


def matches(requirements: list[Requirement], labels: dict[str, str] | None) -> bool:
    return all(r.matches(labels or {}) for r in requirements)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside a ``(...)`` value set."""
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    terms.append(current.strip())
    return [t for t in terms if t]


def _checked(key: str, values: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    if not _KEY.match(key):
        raise ValueError(f"unable to parse requirement: invalid label key {key!r}")
    for value in values:
        if not _VALUE.match(value):
            raise ValueError(f"unable to parse requirement: invalid label value {value!r}")
    return key, values


def parse_label_selector(text: str | None) -> list[Requirement]:
    """``a=b,c!=d,e in (x,y),f notin (z),g,!h`` into requirements."""
    requirements = []
    for term in _split_terms(text or ""):
        if term.startswith("!"):
            key, _ = _checked(term[1:].strip(), ())
            requirements.append(Requirement(key, "!"))
        elif match := _SET_TERM.match(term):
            values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
            key, values = _checked(match.group(1), values)
            requirements.append(Requirement(key, match.group(2), values))
        elif match := _COMPARISON.match(term):
            key, (value,) = _checked(match.group(1), (match.group(3),))
            op = {"=": "in", "==": "in", "!=": "notin", ">": "gt", "<": "lt"}[match.group(2)]
            requirements.append(Requirement(key, op, (value,)))
        elif _KEY.match(term):
            requirements.append(Requirement(term, "exists"))
        else:
            raise ValueError(f"unable to parse requirement: {term!r}")
    return requirements


def from_label_selector(selector: dict[str, Any] | None) -> list[Requirement]:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions) into requirements."""
    selector = selector or {}
    requirements = [
        Requirement(key, "in", (value,))
        for key, value in (selector.get("matchLabels") or {}).items()
    ]
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expression in selector.get("matchExpressions") or []:
        if expression.get("operator") not in operators:
            raise ValueError(
                f"{expression.get('operator')!r} is not a valid label selector operator"
            )
        requirements.append(
            Requirement(
                expression["key"],
                operators[expression["operator"]],
                tuple(expression.get("values") or ()),
            )
        )
    return requirements


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    value: str
    negated: bool

    def matches(self, obj: dict[str, Any]) -> bool:
        current: Any = obj
        for part in self.path.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if isinstance(current, bool):
            actual = str(current).lower()
        else:
            actual = "" if current is None else str(current)
        return (actual == self.value) != self.negated


def parse_field_selector(text: str | None, supported: tuple[str, ...]) -> list[FieldRequirement]:
    """``metadata.name=x,status.phase!=Running``; paths outside ``supported`` are refused."""
    requirements = []
    for term in _split_terms(text or ""):
        match = re.match(r"^([\w.]+)\s*(==|=|!=)\s*(.*)$", term)
        if not match:
            raise ValueError(f"invalid selector: {term!r}; can't understand {term!r}")
        path, op, value = match.groups()
        if path not in ("metadata.name", "metadata.namespace", *supported):
            raise ValueError(f"field label not supported: {path}")
        requirements.append(FieldRequirement(path, value, op == "!="))
    return requirements
