"""Trainer-written regular expressions, run safely on untrusted text.

Personas carry patterns (``asked_by``, resolution hints, policy rules, trigger phrases) that
run on whatever a candidate types. A pattern with catastrophic backtracking, such as
``(a|aa)+$``, could otherwise stall the server on a short message, so every pattern is
compiled with the ``regex`` package and every search carries a timeout
(:data:`SEARCH_TIMEOUT`): a search that runs out counts as no match and is logged. The
validator also rejects patterns that are slow on probe strings (:func:`slow_pattern`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import lru_cache

import regex

log = logging.getLogger(__name__)

#: Seconds one search may take on one message before it counts as no match.
SEARCH_TIMEOUT = 0.05
#: Seconds a probe may take in the validator before the pattern is called too slow.
PROBE_TIMEOUT = 0.05

Match = regex.Match[str]


@lru_cache(maxsize=8192)
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile a trainer-written pattern the one way the product uses them: case-insensitive,
    with Python ``re`` syntax."""
    return regex.compile(pattern, regex.IGNORECASE | regex.VERSION0)


def search(pattern: str, text: str) -> Match | None:
    """The first match of ``pattern`` in ``text``, or None (also when the search times out)."""
    try:
        return compile_pattern(pattern).search(text, timeout=SEARCH_TIMEOUT)
    except TimeoutError:
        log.warning("pattern %r timed out on a %d-character text", pattern, len(text))
        return None


def finditer(pattern: str, text: str) -> Iterator[Match]:
    """Every match of ``pattern`` in ``text``; stops quietly when the search times out."""
    try:
        yield from compile_pattern(pattern).finditer(text, timeout=SEARCH_TIMEOUT)
    except TimeoutError:
        log.warning("pattern %r timed out on a %d-character text", pattern, len(text))


def slow_pattern(pattern: str) -> bool:
    """Whether the pattern backtracks catastrophically on simple probe strings: each
    character it names repeated, then a character that cannot match."""
    try:
        compiled = compile_pattern(pattern)
    except regex.error:
        return False
    chars = {c for c in pattern.lower() if c.isalnum()} | {" ", "a"}
    for ch in sorted(chars):
        for probe in (ch * 40 + "\x00", (ch + " ") * 20 + "\x00"):
            try:
                compiled.search(probe, timeout=PROBE_TIMEOUT)
            except TimeoutError:
                return True
    return False
