"""Grading service: transcript + persona + rubric → report. The CLI and the web app use it.

The evidence layer always runs. When a judge is given (``ROLEPLAY_GRADER_MODEL``), its
verdicts replace the evidence scores criterion by criterion, under three rules computed here:
a broken must-not policy rule keeps policy adherence at the evidence score (the judge cannot
overrule a compliance blocker); when the candidate tried to instruct the grader, no judged
score may exceed the evidence score; and a criterion the judge could not answer validly keeps
its evidence score with a ``judge_fallback`` flag. Written communication is judged on top of
the spelling check: the judge adds grammar and clarity and may lower the evidence score, never
raise it (misspellings are counted in code), and the words the check flagged stay cited.
"""

from __future__ import annotations

from datetime import UTC, datetime

from grading.evidence import EvidenceResult, Judgement, Readings, evidence_grade, read
from grading.judge import PROMPT_VERSION, CriterionJudgement, Judge, JudgeRun, median_score
from grading.report import (
    CriterionScore,
    Evidence,
    Flag,
    GradeReport,
    Provenance,
    overall_score,
    verdict_of,
)
from grading.rubric import Rubric
from roleplay import __version__
from roleplay.config import Settings
from roleplay.core.persona import Persona
from roleplay.core.transcript import TokenUsage, Transcript
from roleplay.errors import BackendError
from roleplay.llm.tokens import cost_usd
from roleplay.understanding import Reader

#: A judge spread of this many levels or more over k samples flags the criterion unstable.
UNSTABLE_SPREAD = 2
#: Criteria whose evidence score is a ceiling for the judge (counted in code).
COUNTED_IN_CODE = frozenset({"written_communication"})


def make_judge(settings: Settings) -> Judge | None:
    """The configured judge, or None when no grader model is set."""
    if not settings.grader_model:
        return None
    from roleplay.llm import chat_backend

    temperature = 0.0 if settings.judge_samples == 1 else 0.7
    return Judge(chat_backend(settings, "grader", temperature=temperature))


def grade(
    transcript: Transcript,
    persona: Persona,
    rubric: Rubric,
    *,
    judge: Judge | None = None,
    samples: int = 1,
    prices: dict[str, tuple[float, float]] | None = None,
    reader: Reader | None = None,
) -> GradeReport:
    """Grade with the evidence layer, and the LLM judge on top when one is given."""
    readings = read(transcript, persona, reader)
    result = evidence_grade(transcript, persona, rubric.criteria, readings=readings)
    review = _depends_on(transcript, persona, rubric, readings, result)
    scores, flags = result.scores, result.flags
    engine: str = "evidence"
    usage: TokenUsage | None = None
    runs: list[JudgeRun] = []
    if judge is not None:
        try:
            for _ in range(samples):
                runs.append(judge.judge(transcript, persona, rubric, rubric.criteria, result))
        except BackendError as exc:
            flags.append(
                Flag(
                    kind="judge_fallback",
                    detail=f"LLM judge unavailable ({exc.message}); evidence scores "
                    "used for every criterion",
                )
            )
        if runs:
            engine = "evidence+llm"
            usage = TokenUsage()
            for run in runs:
                usage.add(
                    run.prompt_tokens,
                    run.completion_tokens,
                    cost_usd(judge.model, run.prompt_tokens, run.completion_tokens, prices or {}),
                    run.reported,
                )
            _apply_judge(scores, flags, runs, rubric)
    _mark_blockers(flags, rubric)
    for judgement in review:
        flags.append(
            Flag(
                kind="needs_review",
                turns=[judgement.turn],
                detail=f"{judgement.describe()}; the verdict depends on it "
                f"(settle with an override of {judgement.criterion})",
                criterion=judgement.criterion,
            )
        )
    overall = overall_score(scores)
    verdict = verdict_of(overall, rubric.pass_mark, flags)
    return GradeReport(
        persona=persona.id,
        persona_version=transcript.persona_version or persona.content_hash,
        outcome=result.annotations.outcome.value if result.annotations.outcome else None,
        criteria=scores,
        overall=overall,
        verdict=verdict,
        passed=verdict == "pass",
        pass_mark=rubric.pass_mark,
        flags=flags,
        provenance=Provenance(
            engine="evidence+llm" if engine == "evidence+llm" else "evidence",
            model=judge.model if judge is not None and engine == "evidence+llm" else None,
            rubric_id=rubric.id,
            rubric_version=rubric.version,
            rubric_hash=rubric.content_hash,
            reader=readings.reader,
            prompt_version=PROMPT_VERSION if engine == "evidence+llm" else None,
            grader_version=__version__,
            graded_at=datetime.now(UTC),
            judge_attempts=sum(r.attempts for r in runs) if runs else None,
            judge_raw_output=next(
                ((r.last_raw or "")[:4000] for r in reversed(runs) if r.problems), None
            ),
        ),
        usage=usage,
    )


def _mark_blockers(flags: list[Flag], rubric: Rubric) -> None:
    for flag in flags:
        if flag.kind in rubric.fail_on:
            flag.blocker = True


def _evidence_verdict(result: EvidenceResult, rubric: Rubric) -> str:
    flags = [f.model_copy() for f in result.flags]
    _mark_blockers(flags, rubric)
    return verdict_of(overall_score(result.scores), rubric.pass_mark, flags)


#: At most this many uncertain judgements are tried the other way; beyond, all need review.
MAX_FLIPS = 8


def _depends_on(
    transcript: Transcript,
    persona: Persona,
    rubric: Rubric,
    readings: Readings,
    base: EvidenceResult,
) -> list[Judgement]:
    """The uncertain decisive judgements the verdict depends on: graded the other way (all
    readings of the same thing together: every breach of one rule, every close, every
    acceptance), the evidence verdict changes."""
    groups: dict[tuple[str, str], list[Judgement]] = {}
    for j in readings.judgements:
        if not j.certain:
            key = (j.kind, j.detail if j.kind == "breach" else "")
            groups.setdefault(key, []).append(j)
    if not groups:
        return []
    if len(groups) > MAX_FLIPS:
        return [g[0] for g in groups.values()]
    before = _evidence_verdict(base, rubric)
    out = []
    for group in groups.values():
        flipped = evidence_grade(
            transcript,
            persona,
            rubric.criteria,
            readings=readings,
            assume={j.key: not j.likely for j in group},
        )
        if _evidence_verdict(flipped, rubric) != before:
            out.append(max(group, key=lambda j: abs(j.confidence - 0.5)))
    return out


def _apply_judge(
    scores: list[CriterionScore], flags: list[Flag], runs: list[JudgeRun], rubric: Rubric
) -> None:
    blocked_policy = any(f.kind == "policy_violation" and f.blocker for f in flags)
    injected = any(f.kind == "injection_attempt" for f in flags)
    levels = {c.id: c.levels for c in rubric.criteria}
    for s in scores:
        verdicts = [r.verdicts[s.criterion] for r in runs if s.criterion in r.verdicts]
        if not verdicts:
            why = next(
                (r.problems[s.criterion] for r in reversed(runs) if s.criterion in r.problems),
                "no verdict",
            )
            flags.append(
                Flag(
                    kind="judge_fallback",
                    detail=f"{s.criterion}: judge output rejected after "
                    f"{runs[-1].attempts} attempt(s) ({why}); evidence score kept",
                )
            )
            continue
        judged = median_score([v.score for v in verdicts])
        if len(runs) > 1:
            s.spread = max(v.score for v in verdicts) - min(v.score for v in verdicts)
            if s.spread >= UNSTABLE_SPREAD:
                flags.append(
                    Flag(
                        kind="unstable_score",
                        detail=f"{s.criterion}: judge scores "
                        f"{sorted(v.score for v in verdicts)} over {len(runs)} samples",
                    )
                )
        if s.criterion == "policy_adherence" and blocked_policy:
            s.rationale += f" (judge said {judged}; a compliance blocker cannot be overruled)"
            continue
        if injected and s.score is not None and judged > s.score:
            s.rationale += (
                f" (judge said {judged}; capped at the evidence score because the "
                "candidate tried to instruct the grader)"
            )
            continue
        chosen = _closest(verdicts, judged)
        rationale = chosen.reasoning
        quoted = [Evidence(turn=e.turn, quote=e.quote.strip()) for e in chosen.evidence]
        if s.criterion in COUNTED_IN_CODE and s.score is not None:
            if judged >= s.score:
                s.rationale += f" (judge: {chosen.reasoning})"
                continue
            rationale = f"{chosen.reasoning} (spelling check: {s.rationale})"
            quoted = [*s.evidence, *quoted]
        s.score, s.source, s.level = judged, "llm", levels[s.criterion][judged]
        s.rationale, s.evidence = rationale, quoted


def _closest(verdicts: list[CriterionJudgement], score: int) -> CriterionJudgement:
    return min(verdicts, key=lambda v: abs(v.score - score))
