"""Grading service: transcript + persona + rubric → report. The CLI and the web app use it."""

from __future__ import annotations

from datetime import UTC, datetime

from grading.evidence import evidence_grade
from grading.report import GradeReport, Provenance, overall_score
from grading.rubric import Rubric
from roleplay import __version__
from roleplay.persona import Persona
from roleplay.transcript import Transcript


def grade(transcript: Transcript, persona: Persona, rubric: Rubric) -> GradeReport:
    """Grade with the evidence layer (offline, deterministic)."""
    result = evidence_grade(transcript, persona, rubric.criteria)
    for flag in result.flags:
        if flag.kind in rubric.fail_on:
            flag.blocker = True
    overall = overall_score(result.scores)
    blocked = any(f.blocker for f in result.flags)
    return GradeReport(
        persona=persona.id,
        persona_version=transcript.persona_version or persona.content_hash,
        outcome=result.annotations.outcome.value if result.annotations.outcome else None,
        criteria=result.scores,
        overall=overall,
        passed=overall >= rubric.pass_mark and not blocked,
        pass_mark=rubric.pass_mark,
        flags=result.flags,
        provenance=Provenance(
            engine="evidence",
            rubric_id=rubric.id,
            rubric_version=rubric.version,
            rubric_hash=rubric.content_hash,
            grader_version=__version__,
            graded_at=datetime.now(UTC),
        ),
    )
