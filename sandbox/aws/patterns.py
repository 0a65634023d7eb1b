"""DataSync's SIMPLE_PATTERN filters, applied to real paths.

The rules (https://docs.aws.amazon.com/datasync/latest/userguide/filtering.html):
a filter is patterns joined by ``|``; matching is case-sensitive and against
the path relative to the location, which starts with ``/``; ``*`` stands for
any characters, ``/`` included; ``/dir`` and ``/dir/`` both match the folder
and everything in it; ``\\`` escapes the next character (``\\|``, ``\\*``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable


class SimplePatternFilter:
    def __init__(self, values: Iterable[str]) -> None:
        """``values``: the ``Value`` of each ``FilterRule`` (all of type SIMPLE_PATTERN)."""
        self.patterns = [p for value in values for p in _split(value) if p]
        self._regexes = [_compile(p) for p in self.patterns]

    def matches(self, path: str) -> bool:
        """True when ``path`` (relative, with a leading ``/``) or a folder above it matches."""
        parts = path.rstrip("/").split("/")
        prefixes = ["/".join(parts[:n]) for n in range(2, len(parts) + 1)]
        return any(regex.fullmatch(prefix) for prefix in prefixes for regex in self._regexes)

    def __bool__(self) -> bool:
        return bool(self.patterns)


def _split(value: str) -> list[str]:
    """Split on the ``|`` that are not escaped, keeping escapes for ``_compile``."""
    patterns, current, escaped = [], "", False
    for char in value:
        if escaped:
            current += "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            patterns.append(current)
            current = ""
        else:
            current += char
    patterns.append(current)
    return patterns


def _compile(pattern: str) -> re.Pattern[str]:
    if len(pattern) > 1 and pattern.endswith("/") and not pattern.endswith("\\/"):
        pattern = pattern[:-1]
    regex, escaped = "", False
    for char in pattern:
        if escaped:
            regex += re.escape(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            regex += ".*"
        else:
            regex += re.escape(char)
    return re.compile(regex, re.DOTALL)
