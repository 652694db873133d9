"""The LLM reader: a configured chat model reads turns through the one LLM seam, with the
persona's items given by their descriptions, and the local reader behind it.

Structured output (``ChatBackend.structured``) fills :class:`CandidateAnswer` or
:class:`CustomerAnswer`. Every quote must appear verbatim in the message and every id must
name an item of the persona; an answer that fails either check, does not validate, or never
arrives (a backend error) is replaced by the local reader's reading of the same turn, so a
reading always exists and is always grounded in the text.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from roleplay.config import Settings
from roleplay.core.persona import ActKind, Persona
from roleplay.errors import BackendError
from roleplay.llm import ChatBackend, Message, chat_backend
from roleplay.understanding import Context, Reader
from roleplay.understanding.readings import (
    ActReading,
    CandidateReading,
    CustomerMove,
    CustomerReading,
    RuleReading,
)

log = logging.getLogger(__name__)

#: An LLM reading at least this sure is acted on without review.
CERTAIN = 0.8
#: Below this an act is left out (a decisive one is kept as a possibility to review).
PRESENT = 0.5

ActName = Literal[
    "greet",
    "apologize",
    "acknowledge",
    "ownership",
    "question",
    "ask_fact",
    "offer",
    "next_steps",
    "policy_recital",
    "dismissive",
    "rude",
    "blame",
    "close",
    "manipulation",
]


class AnswerAct(BaseModel):
    kind: ActName = Field(description="The act.")
    about: str | None = Field(None, description="The fact or resolution id, for ask_fact/offer.")
    quote: str = Field(description="The words of the message it rests on, copied exactly.")
    confidence: float = Field(ge=0, le=1)


class AnswerRule(BaseModel):
    rule: str = Field(description="The policy rule id.")
    status: Literal["breach", "step"]
    quote: str = Field(description="The words of the message it rests on, copied exactly.")
    confidence: float = Field(ge=0, le=1)


class CandidateAnswer(BaseModel):
    """What the agent's message does."""

    acts: list[AnswerAct] = Field(default_factory=list)
    rules: list[AnswerRule] = Field(default_factory=list)


class CustomerAnswer(BaseModel):
    """What the customer's message does."""

    move: Literal["accept", "reject", "ask_manager", "leave", "thank_close", "other"]
    quote: str = Field(description="The words of the message it rests on, copied exactly.")
    confidence: float = Field(ge=0, le=1)


@lru_cache(maxsize=1)
def prompts() -> dict[str, Any]:
    text = resources.files("roleplay.understanding.prompts").joinpath("reader.yaml")
    data: dict[str, Any] = yaml.safe_load(text.read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=1)
def _act_descriptions() -> str:
    data_dir = resources.files("roleplay.understanding").joinpath("data")
    acts = yaml.safe_load(data_dir.joinpath("acts.en.yaml").read_text(encoding="utf-8"))["acts"]
    lines = [f"- {name}: {item['description']}" for name, item in acts.items()]
    lines.append("- ask_fact: a question asking the customer for one of the facts below.")
    return "\n".join(lines)


class LLMReader:
    """Reads turns with a chat model; the local reader answers when the model cannot."""

    def __init__(self, backend: ChatBackend, *, fallback: Reader) -> None:
        self.backend = backend
        self.fallback = fallback
        self.name = f"llm:{backend.model}:{prompts()['prompt_version']}"

    @classmethod
    def from_settings(cls, settings: Settings, *, fallback: Reader) -> LLMReader:
        return cls(chat_backend(settings, "reader", temperature=0.0), fallback=fallback)

    # ------------------------------------------------------------------ candidate
    def read_candidate(
        self, text: str, persona: Persona, context: Context | None = None
    ) -> CandidateReading:
        context = context or Context()
        p = prompts()
        sc = persona.scenario
        system = str(p["candidate_system"]).format(
            acts=_act_descriptions(),
            facts="\n".join(f"- {f.id}: {f.description or f.value}" for f in sc.facts),
            resolutions="\n".join(
                [f"- {r.id} (acceptable): {r.description}" for r in sc.acceptable_resolutions]
                + [f"- {r.id} (unacceptable): {r.description}" for r in sc.unacceptable_resolutions]
            ),
            rules="\n".join(f"- {r.id} ({r.kind}): {r.text}" for r in persona.policy_rules)
            or "- (none)",
        )
        human = str(p["candidate_human"]).format(
            stated=", ".join(sorted(context.stated)) or "none", message=text
        )
        try:
            answer = self.backend.structured(
                CandidateAnswer, [Message("system", system), Message("user", human)]
            )
        except BackendError as exc:
            log.warning("LLM reader unavailable (%s); the local reader reads this turn", exc)
            return self.fallback.read_candidate(text, persona, context)
        reading = self._candidate(answer.parsed, text, persona, context) if answer.parsed else None
        if reading is None:
            log.info("LLM reader answer rejected (%s); local reader used", answer.error or "checks")
            return self.fallback.read_candidate(text, persona, context)
        return reading

    def _candidate(
        self, answer: CandidateAnswer, text: str, persona: Persona, context: Context
    ) -> CandidateReading | None:
        """The answer as a reading, or None when a quote or an id does not check out."""
        facts = {f.id for f in persona.scenario.facts}
        acceptable = {r.id for r in persona.scenario.acceptable_resolutions}
        resolutions = acceptable | {r.id for r in persona.scenario.unacceptable_resolutions}
        rules = {r.id: r for r in persona.policy_rules}
        acts: list[ActReading] = []
        for a in answer.acts:
            quote = a.quote.strip()
            if not quote or quote not in text:
                return None
            kind = ActKind(a.kind)
            detail = a.about
            if kind == ActKind.ask_fact:
                if detail not in facts:
                    return None
                if detail in context.stated:
                    kind = ActKind.reask_fact
            elif kind == ActKind.offer:
                if detail is None:
                    pass  # a generic offer
                elif detail not in resolutions:
                    return None
                elif detail not in acceptable:
                    kind = ActKind.bad_offer
            else:
                detail = None
            acts.append(
                ActReading(
                    kind=kind,
                    detail=detail,
                    quote=quote[:200],
                    confidence=a.confidence,
                    present=a.confidence >= PRESENT,
                    certain=a.confidence >= CERTAIN,
                    source="llm",
                )
            )
        readings: list[RuleReading] = []
        for r in answer.rules:
            quote = r.quote.strip()
            rule = rules.get(r.rule)
            if rule is None or not quote or quote not in text:
                return None
            expected = "breach" if rule.kind == "must_not" else "step"
            if r.status != expected or r.confidence < PRESENT:
                continue
            readings.append(
                RuleReading(
                    rule=r.rule,
                    status=r.status,
                    quote=quote[:200],
                    confidence=r.confidence,
                    certain=r.confidence >= CERTAIN,
                    source="llm",
                )
            )
        # The facts said back are a matter of the words, as for the local reader.
        local = self.fallback.read_candidate(text, persona, context)
        acts += [a for a in local.acts if a.kind == ActKind.reflect]
        return CandidateReading(acts=acts, rules=readings, reader=self.name)

    # ------------------------------------------------------------------ customer
    def read_customer(self, text: str) -> CustomerReading:
        p = prompts()
        msgs = [
            Message("system", str(p["customer_system"])),
            Message("user", str(p["customer_human"]).format(message=text)),
        ]
        try:
            answer = self.backend.structured(CustomerAnswer, msgs)
        except BackendError as exc:
            log.warning("LLM reader unavailable (%s); the local reader reads this turn", exc)
            return self.fallback.read_customer(text)
        parsed = answer.parsed
        if parsed is None or not parsed.quote.strip() or parsed.quote.strip() not in text:
            return self.fallback.read_customer(text)
        return CustomerReading(
            move=CustomerMove(parsed.move),
            confidence=parsed.confidence,
            certain=parsed.confidence >= CERTAIN,
            quote=parsed.quote.strip()[:200],
            scores={parsed.move: parsed.confidence},
            reader=self.name,
        )
