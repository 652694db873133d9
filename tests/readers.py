"""A reader for tests: the local reader, with one message also read a given, uncertain way.

Grading logic (what an uncertain reading does to a score or a verdict) is tested with it, so
the tests do not hang on where the shipped model's probabilities happen to fall."""

from __future__ import annotations

from roleplay.core.persona import ActKind, Persona
from roleplay.understanding import Context, local_reader
from roleplay.understanding.readings import (
    ActReading,
    CandidateReading,
    CustomerReading,
    RuleReading,
)


class Doubt:
    """Reads ``text`` (one message, or each of several) as also doing ``act`` (or breaking
    ``rule``) with confidence 0.6, not certain; every other message as the local reader does."""

    def __init__(
        self,
        text: str | tuple[str, ...],
        *,
        act: ActKind | None = None,
        rule: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.base = local_reader()
        self.name = self.base.name
        self.texts = (text,) if isinstance(text, str) else text
        self.act, self.rule, self.detail = act, rule, detail

    confidence, certain = 0.6, False

    def read_candidate(
        self, text: str, persona: Persona, context: Context | None = None
    ) -> CandidateReading:
        reading = self.base.read_candidate(text, persona, context)
        if text not in self.texts:
            return reading
        update: dict[str, object] = {}
        if self.act is not None:
            doubt = ActReading(
                kind=self.act,
                detail=self.detail,
                quote=text,
                confidence=self.confidence,
                present=True,
                certain=self.certain,
            )
            update["acts"] = [*(a for a in reading.acts if a.kind != self.act), doubt]
        if self.rule is not None:
            breach = RuleReading(
                rule=self.rule,
                status="breach",
                quote=text,
                confidence=self.confidence,
                certain=self.certain,
            )
            update["rules"] = [*reading.rules, breach]
        return reading.model_copy(update=update)

    def read_customer(self, text: str) -> CustomerReading:
        return self.base.read_customer(text)


class Sure(Doubt):
    """Like :class:`Doubt`, but the reading is certain (confidence 0.95): for what the
    director or the grader does with a reading it acts on."""

    confidence, certain = 0.95, True
