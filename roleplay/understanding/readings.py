"""The understanding layer's contract: what a turn was read to say, with how sure the reader is.

Both the director (the live customer) and the grader consume these readings, so they never
disagree about what a candidate did. Every decisive judgement carries a ``confidence``; a
reading below its threshold is reported as needing review instead of being acted on as fact.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from roleplay.core.persona import ActKind


class CustomerMove(StrEnum):
    """What a customer's message does, as read from its words."""

    accept = "accept"
    reject = "reject"
    ask_manager = "ask_manager"
    leave = "leave"
    thank_close = "thank_close"
    other = "other"


#: Candidate acts whose reading decides an outcome (ending the chat, a fail, a flag).
DECISIVE_ACTS = {ActKind.close, ActKind.manipulation}
#: Customer moves whose reading decides an outcome.
DECISIVE_MOVES = {CustomerMove.accept, CustomerMove.ask_manager, CustomerMove.leave}


class ActReading(BaseModel):
    """One thing a candidate message does, the words it rests on, and the reader's confidence."""

    kind: ActKind = Field(description="What the candidate did.")
    detail: str | None = Field(None, description="The fact or resolution id it is about.")
    quote: str = Field(description="The words in the message it rests on, verbatim.")
    confidence: float = Field(ge=0, le=1, description="How sure the reader is (0..1).")
    present: bool = Field(
        True,
        description="The reader's best guess is that the act is there (a decisive act can be "
        "returned below that, as a possibility to ask about).",
    )
    certain: bool = Field(
        True,
        description="Sure enough to act on. A decisive act (a close, a message to the grader) "
        "that is not certain is asked about or reviewed, never acted on.",
    )
    source: Literal["model", "hint", "llm", "value"] = Field(
        "model",
        description="model: the learned reader; hint: a persona pattern; llm: the LLM reader; "
        "value: the fact's value quoted back.",
    )


class RuleReading(BaseModel):
    """What a message does to one policy rule: breaks a must-not rule, or does a must step."""

    rule: str = Field(description="The policy rule id.")
    status: Literal["breach", "step"] = Field(
        description="breach: a must_not rule broken here; step: a must rule's step done here."
    )
    quote: str = Field(description="The words it rests on, verbatim.")
    confidence: float = Field(ge=0, le=1)
    certain: bool = Field(True, description="Sure enough to act on without review.")
    source: Literal["model", "hint", "llm"] = "model"


class CandidateReading(BaseModel):
    """Everything one candidate message was read to do."""

    acts: list[ActReading] = Field(default_factory=list)
    rules: list[RuleReading] = Field(default_factory=list)
    reader: str = Field(description="Which reader and model version made it.")

    def has(self, kind: ActKind, *, certain: bool = False) -> bool:
        return any(a.kind == kind and (a.certain or not certain) for a in self.acts)

    def best(self, kind: ActKind) -> ActReading | None:
        found = [a for a in self.acts if a.kind == kind]
        return max(found, key=lambda a: a.confidence) if found else None


class CustomerReading(BaseModel):
    """What one customer message was read to do."""

    move: CustomerMove
    confidence: float = Field(ge=0, le=1)
    certain: bool = Field(True, description="Sure enough to act on without review.")
    quote: str = Field(description="The words it rests on, verbatim.")
    scores: dict[str, float] = Field(
        default_factory=dict, description="The reader's probability for every move."
    )
    reader: str
