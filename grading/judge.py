"""The LLM judge: ``prompt | model.with_structured_output(...)`` on top of the evidence layer.

The judge reasons before it scores, sees the rubric's level descriptors and the evidence
layer's findings, and must quote the transcript verbatim. Output that does not parse, misses
criteria or quotes words that are not in the cited turn is re-asked (bounded); a criterion still
invalid after that keeps its evidence score with a ``judge_fallback`` flag. With k samples the
median is used and the spread reported; a spread of two levels or more is ``unstable_score``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, Field

from grading.evidence import EvidenceResult
from grading.rubric import Criterion, Rubric
from roleplay.core.persona import Persona
from roleplay.core.transcript import Transcript
from roleplay.errors import BackendError
from roleplay.llm import ChatBackend, Message


class QuotedEvidence(BaseModel):
    """A verbatim quote and the number of the turn it comes from."""

    turn: int = Field(description="Turn number as shown in the transcript, e.g. 3.")
    quote: str = Field(description="Words copied exactly from that turn.")


class CriterionJudgement(BaseModel):
    """The judge's verdict on one criterion. Reasoning comes first, then the score."""

    criterion: str = Field(description="Criterion id from the rubric.")
    reasoning: str = Field(description="What the agent did and did not do, and why.")
    score: int = Field(ge=1, le=5, description="Rubric level 1-5.")
    evidence: list[QuotedEvidence] = Field(description="Verbatim quotes supporting the score.")


class Judgement(BaseModel):
    """Verdicts for the requested criteria."""

    criteria: list[CriterionJudgement]


@lru_cache(maxsize=1)
def prompts() -> dict[str, Any]:
    text = resources.files("grading.prompts").joinpath("judge.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


PROMPT_VERSION: str = prompts()["prompt_version"]


def render_transcript(transcript: Transcript) -> str:
    lines = []
    for i, turn in enumerate(transcript.turns):
        who = "CUSTOMER" if turn.speaker == "customer" else "AGENT"
        lines.append(f"[turn {i}] {who}: {turn.text}")
    return "\n".join(lines)


def _criteria_text(criteria: list[Criterion]) -> str:
    parts = []
    for c in criteria:
        levels = "\n".join(f"    {n}: {c.levels[n]}" for n in sorted(c.levels))
        parts.append(f"- {c.id} ({c.name}, weight {c.weight}): {c.description}\n{levels}")
    return "\n".join(parts)


def _findings_text(evidence: EvidenceResult, criteria: list[Criterion]) -> str:
    wanted = {c.id for c in criteria}
    lines = [
        f"- {s.criterion}: evidence score {s.shown}; {s.rationale}"
        for s in evidence.scores
        if s.criterion in wanted
    ]
    lines += [f"- flag {f.kind}: {f.detail}" for f in evidence.flags]
    return "\n".join(lines) or "- none"


@dataclass
class JudgeRun:
    """What one judging pass produced, for the report and the token benchmark."""

    verdicts: dict[str, CriterionJudgement] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Whether the server reported every token count (else some are tiktoken estimates).
    reported: bool = True
    last_raw: str | None = None


class Judge:
    """Runs the judge with bounded re-asks and verbatim-quote checks."""

    def __init__(self, backend: ChatBackend, *, max_attempts: int = 3) -> None:
        self.backend = backend
        self.model = backend.model
        self.max_attempts = max_attempts

    def messages(
        self,
        transcript: Transcript,
        persona: Persona,
        rubric: Rubric,
        criteria: list[Criterion],
        evidence: EvidenceResult,
    ) -> list[Message]:
        p = prompts()
        human = str(p["human"]).format(
            company=persona.briefing.company,
            persona_name=persona.name,
            wants=persona.scenario.wants,
            policy=persona.briefing.policy_card,
            rubric_id=rubric.id,
            rubric_version=rubric.version,
            criteria=_criteria_text(criteria),
            findings=_findings_text(evidence, criteria),
            transcript=render_transcript(transcript),
            criterion_ids=", ".join(c.id for c in criteria),
        )
        return [Message("system", str(p["system"])), Message("user", human)]

    def judge(
        self,
        transcript: Transcript,
        persona: Persona,
        rubric: Rubric,
        criteria: list[Criterion],
        evidence: EvidenceResult,
    ) -> JudgeRun:
        """One judging pass over ``criteria``. Raises BackendError if the backend fails."""
        run = JudgeRun()
        msgs = self.messages(transcript, persona, rubric, criteria, evidence)
        pending = {c.id for c in criteria}
        for attempt in range(1, self.max_attempts + 1):
            run.attempts = attempt
            try:
                answer = self.backend.structured(Judgement, msgs)
            except BackendError as exc:
                exc.attempts = attempt
                raise
            run.prompt_tokens += answer.usage.prompt_tokens
            run.completion_tokens += answer.usage.completion_tokens
            run.reported = run.reported and answer.usage.reported
            raw_text = answer.raw
            run.last_raw = raw_text
            problems = self._accept(answer.parsed, answer.error, transcript, pending, run)
            if not pending:
                break
            run.problems = {cid: problems.get(cid, "no verdict given") for cid in pending}
            reask = str(prompts()["reask"]).format(
                problems="; ".join(f"{cid}: {why}" for cid, why in run.problems.items()),
                criterion_ids=", ".join(sorted(pending)),
            )
            msgs = [*msgs, Message("assistant", raw_text or "(no answer)"), Message("user", reask)]
        for cid in list(run.problems):
            if cid in run.verdicts:
                del run.problems[cid]
        return run

    @staticmethod
    def _accept(
        parsed: Judgement | None,
        error: str | None,
        transcript: Transcript,
        pending: set[str],
        run: JudgeRun,
    ) -> dict[str, str]:
        """Keep the valid verdicts; return why the others were rejected."""
        problems: dict[str, str] = {}
        if parsed is None:
            return dict.fromkeys(pending, error or "no structured answer")
        for verdict in parsed.criteria:
            if verdict.criterion not in pending:
                continue
            bad = [
                e
                for e in verdict.evidence
                if not (0 <= e.turn < len(transcript.turns))
                or e.quote.strip() not in transcript.turns[e.turn].text
            ]
            if bad:
                problems[verdict.criterion] = "quotes not found verbatim in their turn: " + (
                    "; ".join(f"turn {e.turn}: {e.quote[:60]!r}" for e in bad[:3])
                )
                continue
            run.verdicts[verdict.criterion] = verdict
            pending.discard(verdict.criterion)
        return problems


def median_score(scores: list[int]) -> int:
    return round(statistics.median(scores))


__all__ = [
    "PROMPT_VERSION",
    "BackendError",
    "CriterionJudgement",
    "Judge",
    "JudgeRun",
    "Judgement",
    "median_score",
    "render_transcript",
]
