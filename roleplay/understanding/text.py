"""Small text helpers shared by the readers: negation around a pattern's match, and whether a
message says one of the customer's facts back. Their word lists are data
(``data/lexicons.yaml``), each with examples the tests check."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from roleplay.core import patterns
from roleplay.core.patterns import Match

_WORD = re.compile(r"[\w$€£#'-]+")


@lru_cache(maxsize=1)
def lexicons() -> dict[str, Any]:
    text = resources.files("roleplay.understanding").joinpath("data").joinpath("lexicons.yaml")
    data: dict[str, Any] = yaml.safe_load(text.read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=1)
def _negation() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], int]:
    n = lexicons()["negation"]
    return (
        re.compile(n["negators"], re.IGNORECASE),
        re.compile(n["not_negators"], re.IGNORECASE),
        re.compile(n["clause_breaks"], re.IGNORECASE),
        int(n["window_words"]),
    )


def negated(text: str, start: int) -> bool:
    """Whether the words just before ``start``, in the same clause, negate what follows."""
    negators, safe, breaks, window_words = _negation()
    window = text[max(0, start - 80) : start]
    found = list(breaks.finditer(window))
    if found:
        window = window[found[-1].end() :]
    window = safe.sub("", window)
    return bool(negators.search(" ".join(window.split()[-window_words:])))


def affirmed(pattern: str, text: str) -> Match | None:
    """First match of a trainer's ``pattern`` in ``text`` that is not negated in its clause."""
    for match in patterns.finditer(pattern, text):
        if not negated(text, match.start()):
            return match
    return None


def any_affirmed(hints: Iterable[str], text: str) -> Match | None:
    for pattern in hints:
        found = affirmed(pattern, text)
        if found:
            return found
    return None


def any_match(hints: Iterable[str], text: str) -> Match | None:
    for pattern in hints:
        found = patterns.search(pattern, text)
        if found:
            return found
    return None


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    return frozenset(str(w).lower() for w in lexicons()["stop_words"]["words"])


def content_words(text: str) -> set[str]:
    """Distinctive words: four letters or more, or anything with a digit ("14", "A1042")."""
    stop = _stop_words()
    return {
        w.lower().strip("'")
        for w in _WORD.findall(text)
        if (len(w) >= 4 or any(c.isdigit() for c in w)) and w.lower() not in stop
    }


def mentions_fact(text: str, value: str) -> str | None:
    """The words of ``text`` that say a fact back: its whole value, or two of its content
    words (verbatim, so they can be cited); None when it does not."""
    low = text.lower()
    at = low.find(value.lower())
    if at >= 0:
        return text[at : at + len(value)]
    words = content_words(value)
    hits = [m for w in words if (m := re.search(rf"\b{re.escape(w)}", low))]
    if len(words) >= 2 and len(hits) >= 2:
        first = min(hits, key=lambda m: m.start())
        return text[first.start() : first.end()]
    return None


@lru_cache(maxsize=1)
def _grader_patterns() -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE) for p in lexicons()["addressed_to_grader"]["patterns"]]


def addressed_to_grader(text: str) -> str | None:
    """The words of ``text`` that can only be meant for a grader or the simulation."""
    for pattern in _grader_patterns():
        found = pattern.search(text)
        if found:
            return found.group(0).strip()
    return None


@lru_cache(maxsize=1)
def _unmistakable() -> dict[str, list[re.Pattern[str]]]:
    acts = lexicons()["unmistakable"]["acts"]
    return {act: [re.compile(p, re.IGNORECASE) for p in found] for act, found in acts.items()}


def shouting(text: str) -> str | None:
    """Written in capitals: most letters upper-case, or three or more words in capitals."""
    letters = [c for c in text if c.isalpha()]
    caps = [w for w in _WORD.findall(text) if len(w) >= 3 and w.isupper() and w.isalpha()]
    if len(caps) >= 3 or (
        len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    ):
        return " ".join(caps[:6]) or text[:40]
    return None


def unmistakable(text: str) -> dict[str, str]:
    """Act → the words that do it beyond doubt (see ``data/lexicons.yaml``)."""
    found: dict[str, str] = {}
    for act, compiled in _unmistakable().items():
        for pattern in compiled:
            hit = pattern.search(text)
            if hit and not negated(text, hit.start()):
                found[act] = hit.group(0)
                break
    loud = shouting(text)
    if loud and "rude" not in found:
        found["rude"] = loud
    return found
