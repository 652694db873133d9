"""Trainer-written regular expressions, run safely on untrusted text.

Personas carry patterns (``asked_by``, resolution hints, policy rules, trigger phrases) that
run on whatever a candidate types. A pattern with catastrophic backtracking, such as
``(a|aa)+$``, could otherwise stall the server on a short message, so every pattern is
compiled with the ``regex`` package and every search carries a timeout
(:data:`SEARCH_TIMEOUT`, then once more :data:`RETRY_TIMEOUT`): a pattern that runs out of
both counts as no match, is logged once and is not run again. The
validator also rejects patterns that are slow on probe strings (:func:`slow_pattern`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import lru_cache

import regex

log = logging.getLogger(__name__)

#: Seconds one search may take on one message. The budget is wall-clock time, so on a busy
#: server (many candidates, grading threads) an innocent pattern can run out of it while it
#: waits for the CPU: a search that runs out is tried once more with :data:`RETRY_TIMEOUT`.
SEARCH_TIMEOUT = 0.05
RETRY_TIMEOUT = 0.5
#: Seconds a probe may take in the validator before the pattern is called too slow.
PROBE_TIMEOUT = 0.05

Match = regex.Match[str]

#: Patterns that ran out of both budgets: from then on they count as no match, unrun.
_slow: set[str] = set()


@lru_cache(maxsize=8192)
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile a trainer-written pattern the one way the product uses them: case-insensitive,
    with Python ``re`` syntax."""
    return regex.compile(pattern, regex.IGNORECASE | regex.VERSION0)


def _matches(pattern: str, text: str, first: bool) -> list[Match]:
    if pattern in _slow:
        return []
    compiled = compile_pattern(pattern)
    for budget in (SEARCH_TIMEOUT, RETRY_TIMEOUT):
        try:
            if first:
                found = compiled.search(text, timeout=budget)
                return [found] if found else []
            return list(compiled.finditer(text, timeout=budget))
        except TimeoutError:
            continue
    _slow.add(pattern)
    log.warning(
        "pattern %r timed out twice on a %d-character text; it counts as no match from now on "
        "(fix it in the persona: `roleplay personas validate` names slow patterns)",
        pattern,
        len(text),
    )
    return []


def search(pattern: str, text: str) -> Match | None:
    """The first match of ``pattern`` in ``text``, or None (also when the search times out)."""
    found = _matches(pattern, text, first=True)
    return found[0] if found else None


def finditer(pattern: str, text: str) -> Iterator[Match]:
    """Every match of ``pattern`` in ``text`` (none when the search times out)."""
    yield from _matches(pattern, text, first=False)


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
