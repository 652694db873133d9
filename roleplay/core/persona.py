"""The persona: a simulated customer, as validated data.

Trainers write personas as YAML in ``personas/``; this module is the contract those files
follow. Every field carries a description, so ``roleplay personas schema`` prints a JSON
Schema editors can use for completion and inline checks.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Sequence
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Slug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$",
        min_length=2,
        max_length=64,
        description="Lower-case letters, digits, '-' or '_' (e.g. damaged-laptop).",
    ),
]
NonEmpty = Annotated[str, Field(min_length=1)]
#: Natural phrasings a candidate might write, for the reader to learn an item from.
Examples = list[NonEmpty]
#: Phrasings that look alike but do NOT count (negated, about something else, ...).
NearMisses = list[NonEmpty]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Move(StrEnum):
    """What the customer does on its turn. The director picks one; actors voice it."""

    opening = "opening"
    complain = "complain"
    demand = "demand"
    give_fact = "give_fact"
    repeat_fact = "repeat_fact"
    reject_offer = "reject_offer"
    accept = "accept"
    ask_manager = "ask_manager"
    leave = "leave"
    thank_close = "thank_close"
    # Reactions to what the candidate just did.
    consider_offer = "consider_offer"
    ask_next_steps = "ask_next_steps"
    clarify = "clarify"
    react_blame = "react_blame"
    refuse_secret = "refuse_secret"
    dont_know = "dont_know"


#: Moves a persona may leave without lines: the language's default lines voice them.
OPTIONAL_MOVES = {
    Move.consider_offer,
    Move.ask_next_steps,
    Move.clarify,
    Move.react_blame,
    Move.refuse_secret,
    Move.dont_know,
}


class ActKind(StrEnum):
    """What a candidate's message does, as read by :mod:`roleplay.understanding`."""

    greet = "greet"
    acknowledge = "acknowledge"
    apologize = "apologize"
    ownership = "ownership"
    reflect = "reflect"
    question = "question"
    ask_fact = "ask_fact"
    reask_fact = "reask_fact"
    offer = "offer"
    bad_offer = "bad_offer"
    next_steps = "next_steps"
    policy_recital = "policy_recital"
    dismissive = "dismissive"
    rude = "rude"
    blame = "blame"
    close = "close"
    manipulation = "manipulation"


class Act(BaseModel):
    """One thing a candidate message does, with the words that show it (stored per turn)."""

    kind: ActKind = Field(description="What the candidate did.")
    detail: str | None = Field(None, description="Fact or resolution id the act is about.")
    quote: str = Field(description="The words in the message it rests on, verbatim.")
    confidence: float | None = Field(None, description="How sure the reader was (0..1).")


class Briefing(_Strict):
    """What the candidate sees before the conversation starts."""

    channel: Literal["chat", "phone", "email"] = Field(
        "chat", description="How the customer contacts the company."
    )
    company: NonEmpty = Field(description="The company the candidate works for.")
    candidate_brief: NonEmpty = Field(
        description="What the candidate is told about the situation before it starts."
    )
    policy_card: NonEmpty = Field(
        description="The policy text the candidate may consult during the conversation."
    )


class Fact(_Strict):
    """Something the customer knows. ``free`` facts are stated unprompted; ``on_ask`` facts
    are revealed only when the candidate asks for them (recognised from ``examples``, with
    ``asked_by`` patterns as an optional hint)."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] = Field(
        description="Placeholder name used in lines as {id} (lower-case, digits, underscores)."
    )
    value: NonEmpty = Field(description="Short value substituted for {id}, e.g. 'A1042'.")
    statement: str | None = Field(
        None,
        description="How the customer says it when giving the fact; defaults to the value.",
    )
    reveal: Literal["free", "on_ask"] = Field(
        "free", description="free: said unprompted. on_ask: only when the candidate asks."
    )
    description: str | None = Field(
        None, description="What the fact is, in plain words, e.g. 'the order number'."
    )
    examples: Examples = Field(
        default_factory=list,
        description="Ways a candidate asks for this fact, e.g. 'Could you send me a photo of "
        "the damage?'. An on_ask fact needs examples or asked_by patterns.",
    )
    near_misses: NearMisses = Field(
        default_factory=list,
        description="Questions that sound close but ask for something else.",
    )
    asked_by: list[NonEmpty] = Field(
        default_factory=list,
        description="Optional hint: regular expressions (case-insensitive) for questions that "
        "ask for this fact, e.g. 'photo|picture'.",
    )

    @property
    def said(self) -> str:
        return self.statement or self.value


class Resolution(_Strict):
    """A way the conversation could end, and how to recognise the candidate offering it."""

    id: Slug = Field(description="Identifier, e.g. replacement.")
    description: NonEmpty = Field(description="Plain-English description of the resolution.")
    examples: Examples = Field(
        default_factory=list,
        description="Ways a candidate offers it, e.g. 'I'll ship you a new one today'.",
    )
    near_misses: NearMisses = Field(
        default_factory=list,
        description="Mentions that are not an offer of it: negated ('I can't replace it'), "
        "asking what the customer wants, a different remedy, a condition not yet met.",
    )
    patterns: list[NonEmpty] = Field(
        default_factory=list,
        description="Optional hint: regular expressions (case-insensitive) that recognise an "
        "offer of this resolution. Negated offers ('I can't ...') never count.",
    )
    requires_facts: list[str] = Field(
        default_factory=list,
        description="Fact ids that must have come out before this offer can be accepted "
        "(e.g. the photo of the damage before a replacement).",
    )
    said_as: str | None = Field(
        None,
        description="How the customer says it back, to fill {offer} in her lines, e.g. 'send "
        "me a new laptop' ('Okay, if you can send me a new laptop, that works').",
    )


class Scenario(_Strict):
    """The hidden situation. The candidate never sees this directly."""

    reason: NonEmpty = Field(description="Why the customer is contacting the company.")
    facts: list[Fact] = Field(min_length=1, description="What the customer knows.")
    wants: NonEmpty = Field(description="What the customer wants at the start.")
    acceptable_resolutions: list[Resolution] = Field(
        min_length=1, description="Offers the customer can accept."
    )
    unacceptable_resolutions: list[Resolution] = Field(
        default_factory=list, description="Offers the customer rejects."
    )
    does_not_know: list[NonEmpty] = Field(
        default_factory=list,
        description="Things the customer does not know and says so if asked (never invented).",
    )


class Temperament(_Strict):
    """How the customer's mood moves. Mood runs from -5 (furious) to +5 (delighted)."""

    starting_mood: int = Field(-2, ge=-5, le=5, description="Mood at the opening, -5..5.")
    patience: int = Field(
        3,
        ge=1,
        le=10,
        description="How many unhelpful candidate turns in a row the customer tolerates "
        "before giving up (see breaking_point).",
    )
    breaking_point: Literal["manager", "leave"] = Field(
        "manager",
        description="What the customer does when patience or mood runs out: ask for a "
        "manager (ending 'escalated') or leave (ending 'abandoned').",
    )
    escalated_by: list[ActKind] = Field(
        default_factory=list,
        description="Candidate acts that cost this customer one extra mood point.",
    )
    calmed_by: list[ActKind] = Field(
        default_factory=list,
        description="Candidate acts that earn one extra mood point with this customer.",
    )
    trigger_phrases: list[NonEmpty] = Field(
        default_factory=list,
        description="Regular expressions for phrases that cost one extra mood point "
        "(e.g. 'calm down').",
    )
    notes: str = Field("", description="Free-text notes on the temperament for the LLM actor.")


class RuleDetect(_Strict):
    """Optional regular-expression hints for a policy rule (the reader learns the rule from
    its examples; these add precision where a phrase is unmistakable)."""

    patterns: list[NonEmpty] = Field(
        min_length=1,
        description="Regular expressions (case-insensitive). must: a candidate message must "
        "match one. must_not: no candidate message may match one (negated mentions, "
        'e.g. "I can\'t promise same-day", do not count).',
    )
    when: list[NonEmpty] = Field(
        default_factory=list,
        description="Condition patterns. must: the rule applies only once a candidate message "
        "matches one, and must be met by then. must_not: only messages that also match "
        "one can break the rule.",
    )
    unless: list[NonEmpty] = Field(
        default_factory=list,
        description="must_not only: a message that also matches one of these does not break "
        "the rule (e.g. a refund that mentions the return label).",
    )


class PolicyRule(_Strict):
    """A company policy rule in machine-checkable form."""

    id: Slug = Field(description="Identifier, e.g. no-express-shipping.")
    text: NonEmpty = Field(description="The rule in plain English.")
    kind: Literal["must", "must_not"] = Field(description="must: required; must_not: forbidden.")
    examples: Examples = Field(
        default_factory=list,
        description="must_not: messages that break the rule. must: messages that do the "
        "required step.",
    )
    near_misses: NearMisses = Field(
        default_factory=list,
        description="Messages that look like the examples but keep the rule (e.g. 'I can't "
        "promise same-day shipping'), or that only resemble the step.",
    )
    before: list[str] = Field(
        default_factory=list,
        description="must only: resolution ids (acceptable or not) the step must come before; "
        "the rule applies once one of them is offered. Empty: the step is due by the end.",
    )
    asks: list[str] = Field(
        default_factory=list,
        description="must only: fact ids; asking the customer for one of them (or asking her "
        "to confirm it) does the step, read as any question for a fact is (e.g. 'ask which "
        "items are missing', 'verify the order number').",
    )
    offers: list[str] = Field(
        default_factory=list,
        description="must only: acceptable resolution ids the customer is entitled to (e.g. "
        "'cancelled appointments get priority'); the step is offering one of them, read as "
        "any offer is. The rule applies once the facts one of them requires are known.",
    )
    covers: list[int] = Field(
        default_factory=list,
        description="Numbers of the policy-card items this rule checks; card items no rule "
        "covers are reported as not checked.",
    )
    asks_for_secret: bool = Field(
        False,
        description="must_not only: breaking it means asking the customer for something she "
        "must never give (a password, a PIN); she refuses.",
    )
    detect: RuleDetect | None = Field(
        None, description="Optional hint: how the rule is matched with regular expressions."
    )


class Lines(_Strict):
    """Trainer-authored lines for the scripted customer, one bank per move.

    ``{placeholders}`` name facts by id; ``{fact}`` is the fact being given or repeated.
    """

    opening: list[NonEmpty] = Field(min_length=1, description="The customer's first message.")
    complain: list[NonEmpty] = Field(min_length=1, description="Complaining about the problem.")
    demand: list[NonEmpty] = Field(min_length=1, description="Demanding what they want.")
    give_fact: list[NonEmpty] = Field(
        min_length=1, description="Giving a fact when asked; use {fact}."
    )
    repeat_fact: list[NonEmpty] = Field(
        default_factory=lambda: ["I already told you that. {fact}"],
        description="Answering a question about a fact already given; use {fact}.",
    )
    reject_offer: list[NonEmpty] = Field(min_length=1, description="Rejecting an offer.")
    accept: list[NonEmpty] = Field(min_length=1, description="Accepting an acceptable offer.")
    ask_manager: list[NonEmpty] = Field(min_length=1, description="Demanding a manager.")
    leave: list[NonEmpty] = Field(min_length=1, description="Giving up and leaving.")
    thank_close: list[NonEmpty] = Field(min_length=1, description="Thanking and closing.")
    consider_offer: list[NonEmpty] = Field(
        default_factory=list,
        description="An acceptable offer heard while still too upset to take it; use {offer}.",
    )
    ask_next_steps: list[NonEmpty] = Field(
        default_factory=list,
        description="After accepting, asking what happens next (when, how she will know).",
    )
    clarify: list[NonEmpty] = Field(
        default_factory=list,
        description="Checking what the candidate meant when it was unclear ({offer} when an "
        "offer was unclear).",
    )
    react_blame: list[NonEmpty] = Field(
        default_factory=list, description="Reacting to being blamed for the problem."
    )
    refuse_secret: list[NonEmpty] = Field(
        default_factory=list,
        description="Refusing to give something that must never be asked for (a password, a "
        "PIN, a full card number).",
    )
    dont_know: list[NonEmpty] = Field(
        default_factory=list,
        description="Answering a question about something she does not know (scenario "
        "does_not_know).",
    )

    def bank(self, move: Move) -> list[str]:
        return list(getattr(self, move.value))


class Limits(_Strict):
    """When a conversation stops regardless of how it goes."""

    max_turns: int = Field(20, ge=2, le=200, description="Maximum candidate messages.")
    time_limit_minutes: float | None = Field(
        None, gt=0, description="Optional wall-clock limit for the conversation."
    )


class Persona(_Strict):
    """A simulated customer: identity, briefing, hidden scenario, temperament, policy, lines."""

    id: Slug = Field(description="Unique id across the library, e.g. damaged-laptop.")
    name: NonEmpty = Field(description="The customer's name.")
    language: Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] = Field(
        "en", description="BCP-47 language of the conversation, e.g. en or nb."
    )
    difficulty: int = Field(ge=1, le=5, description="1 (easy) to 5 (very hard).")
    industry: NonEmpty = Field(description="Industry, e.g. retail, airline, telecom.")
    tags: list[NonEmpty] = Field(default_factory=list, description="Free tags for filtering.")
    briefing: Briefing = Field(description="What the candidate is told.")
    scenario: Scenario = Field(description="The hidden scenario.")
    temperament: Temperament = Field(
        default_factory=lambda: Temperament(), description="How the mood moves."
    )
    policy_rules: list[PolicyRule] = Field(
        default_factory=list, description="Company policy, checkable in code by the grader."
    )
    lines: Lines = Field(description="Lines for the scripted customer.")
    limits: Limits = Field(default_factory=lambda: Limits(), description="Turn and time limits.")

    @field_validator("tags")
    @classmethod
    def _lower_tags(cls, v: list[str]) -> list[str]:
        return [t.lower() for t in v]

    def fact(self, fact_id: str) -> Fact:
        for f in self.scenario.facts:
            if f.id == fact_id:
                return f
        raise KeyError(fact_id)

    def statements(self, fact_ids: Sequence[str]) -> str:
        """How the customer says these facts, in order, as one piece of text."""
        return " ".join(self.fact(f).said for f in fact_ids)

    def render(self, template: str, give_facts: Sequence[str] = (), offer: str = "") -> str:
        """Fill a line's placeholders: ``{fact_id}`` with the fact's value, ``{fact}`` with
        the statements of ``give_facts``, ``{offer}`` with how the customer says the offer in
        play back; whitespace collapsed."""
        values = {f.id: f.value for f in self.scenario.facts}
        values["fact"] = self.statements(give_facts)
        values["offer"] = offer
        return " ".join(template.format(**values).split())

    def said_as(self, resolution_id: str | None) -> str:
        """How the customer says a resolution back (for {offer})."""
        for res in [*self.scenario.acceptable_resolutions, *self.scenario.unacceptable_resolutions]:
            if res.id == resolution_id:
                return res.said_as or res.description.rstrip(".").lower()
        return ""

    @cached_property
    def content_hash(self) -> str:
        """Short hash of the persona's content: sessions record which version they ran."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def card_items(policy_card: str) -> dict[int, str]:
    """The numbered items of a policy card (``1. ...``), continuation lines joined; a card
    without numbers counts each non-empty line as an item."""
    items: dict[int, str] = {}
    current: int | None = None
    lines = [line.strip() for line in policy_card.splitlines() if line.strip()]
    for line in lines:
        head, _, rest = line.partition(".")
        if head.isdigit() and rest.startswith(" "):
            current = int(head)
            items[current] = rest.strip()
        elif current is not None:
            items[current] += " " + line
    if not items:
        items = {n: line for n, line in enumerate(lines, start=1)}
    return items


def placeholders(template: str) -> list[str]:
    """The ``{names}`` used in a line; raises ValueError for malformed braces."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
