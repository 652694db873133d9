"""Checks on what the LLM customer says before anyone sees it.

A reply fails when it breaks character (talks like an assistant, mentions being an AI or a
simulation, talks about prompts or instructions), or gives away something the director has
not released: a hidden fact, a policy rule the customer cannot know, or the hidden scenario's
wording. Failing replies are regenerated once, then replaced by the scripted line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from roleplay.core.persona import Persona

_BREAKS = re.compile(
    r"|".join(
        [
            r"\bas an? (ai|language model|assistant|chatbot|llm)\b",
            r"\b(i'?m|i am) (just )?(an? )?(ai|language model|assistant|chatbot|bot|llm|"
            r"virtual assistant|simulation|simulated)\b",
            r"\blanguage model\b",
            r"\b(openai|chatgpt|gpt-?\d)\b",
            r"\bhow (can|may) i (help|assist) you\b",
            r"\bi (can'?t|cannot|won'?t) (help|assist) with (that|this request)\b",
            r"\b(system|hidden) (prompt|instructions?)\b",
            r"\bmy (instructions|prompt|programming|guidelines|scenario)\b",
            r"\b(role-?play|in character|out of character|this simulation)\b",
            r"\bmood (score|level|is now)\b",
            r"\b(persona|rubric|grader)\b",
            r"###\w+###",
            r"\b(conversation|outcome|status) *[:=] *(resolved|escalated|abandoned|satisfied)\b",
        ]
    ),
    re.IGNORECASE,
)


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.findall(r"[\w$€£#'-]+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def check_reply(text: str, persona: Persona, released: Iterable[str]) -> list[str]:
    """Reasons the reply must not be shown; empty when it is fine."""
    problems: list[str] = []
    m = _BREAKS.search(text)
    if m:
        problems.append(f"breaks character: {m.group(0)!r}")
    released_ids = set(released)
    low = text.lower()
    for fact in persona.scenario.facts:
        if fact.reveal != "on_ask" or fact.id in released_ids:
            continue
        if fact.value.lower() in low or (
            fact.statement and _ngrams(fact.statement, 5) & _ngrams(text, 5)
        ):
            problems.append(f"reveals unreleased fact {fact.id!r}")
    reply_grams = _ngrams(text, 5)
    for rule in persona.policy_rules:
        if _ngrams(rule.text, 5) & reply_grams:
            problems.append(f"recites policy rule {rule.id!r}")
    if _ngrams(persona.temperament.notes, 5) & reply_grams:
        problems.append("recites hidden temperament notes")
    return problems
