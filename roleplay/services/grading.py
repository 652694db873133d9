"""Grading as a service: a stored session, a transcript or a transcript file in, a report out.

The web app's background grading and ``roleplay grade`` both come here, so they resolve the
same persona version (the one the session ran with, by content hash; studio versions
included) and the same rubric (saved in the studio, else built-in).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from grading.grader import grade, make_judge
from grading.judge import Judge
from grading.report import GradeReport
from roleplay.config import Settings
from roleplay.core.transcript import Transcript, read_transcript
from roleplay.errors import InputError, NotFound
from roleplay.services.catalog import Catalog
from roleplay.understanding import Reader, reader_for


class GradingService:
    def __init__(self, settings: Settings, catalog: Catalog, reader: Reader | None = None) -> None:
        self.settings = settings
        self.catalog = catalog
        self.reader = reader or reader_for(settings)

    @cached_property
    def judge(self) -> Judge | None:
        """The configured LLM judge, or None (evidence grader only)."""
        return make_judge(self.settings)

    def grade_transcript(
        self, transcript: Transcript, rubric_id: str = "default", *, source: str = ""
    ) -> GradeReport:
        """Grade with the persona version the transcript ran with (the latest when the
        transcript does not say)."""
        try:
            persona = self.catalog.persona_version(
                transcript.persona, transcript.persona_version or ""
            )
        except NotFound as exc:
            if source:
                raise InputError(source, "persona", f"{exc.message}; {exc.hint or ''}") from None
            raise
        return grade(
            transcript,
            persona,
            self.catalog.rubric(rubric_id),
            judge=self.judge,
            samples=self.settings.judge_samples,
            prices=self.settings.prices,
            reader=self.reader,
        )

    def read(self, path: Path) -> Transcript:
        return read_transcript(path)

    def grade_file(self, path: Path, rubric_id: str = "default") -> GradeReport:
        return self.grade_transcript(self.read(path), rubric_id, source=str(path))

    def calibrate(self, data: Path, sample: int | None = None) -> dict[str, Any]:
        from grading.calibration import calibrate

        return calibrate(data, self.settings, sample=sample)

    def calibrate_transcripts(self, folder: Path, rubric_id: str = "default") -> dict[str, Any]:
        """Verdicts and scores against a folder of human-labelled transcripts."""
        from grading.calibration import transcript_figures

        return transcript_figures(folder, lambda t: self.grade_transcript(t, rubric_id))
