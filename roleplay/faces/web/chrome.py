"""The candidate page's own words in the persona's language (``chrome.yaml``), so a
Norwegian customer does not sit inside an English page."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

FILE = Path(__file__).with_name("chrome.yaml")


class Chrome(BaseModel):
    """Every string the candidate page shows around the conversation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_card: str
    start: str
    conversation: str
    placeholder: str
    send: str
    retry: str
    end: str
    end_yes: str
    end_no: str
    time_left: str
    time_up: str
    channel: dict[str, str]
    practice: str
    assessment: str
    for_name: str
    minutes_one: str
    minutes_many: str
    end_question_assessment_html: str
    end_question_practice_html: str
    attempts_one_html: str
    attempts_many_html: str
    no_attempts: str
    complete_html: str
    ended: str
    outcomes: dict[str, str]
    backend_html: str
    grading: str
    grading_failed: str


@lru_cache(maxsize=1)
def _all() -> dict[str, Chrome]:
    data = yaml.safe_load(FILE.read_text(encoding="utf-8"))
    return {lang: Chrome.model_validate(words) for lang, words in data.items()}


def chrome(language: str | None) -> Chrome:
    """The words for ``language`` (``nb``, ``en-GB``: by its first part); English otherwise."""
    sets = _all()
    return sets.get((language or "en").split("-")[0].lower(), sets["en"])


def languages() -> list[str]:
    return sorted(_all())
