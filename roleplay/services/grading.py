"""Grading as a service: a stored session, a transcript or a transcript file in, a report out.

The web app's background grading and ``roleplay grade`` both come here, so they resolve the
same persona version (the one the session ran with, by content hash; studio versions
included) and the same rubric (saved in the studio, else built-in).
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tqdm import tqdm

from grading.grader import grade, make_judge
from grading.judge import Judge
from grading.report import GradeReport
from roleplay.config import Settings
from roleplay.core.transcript import Transcript, read_transcript
from roleplay.errors import InputError, NotFound
from roleplay.services.catalog import Catalog
from roleplay.understanding import Reader, reader_for


@dataclass
class BulkResult:
    """What grading a folder did."""

    total: int
    skipped: int
    graded: int = 0
    errors: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)


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

    def grade_folder(
        self,
        folder: Path,
        out: Path,
        rubric_id: str = "default",
        *,
        concurrency: int = 4,
        resume: bool = False,
        progress: bool = True,
    ) -> BulkResult:
        """Grade every ``*.json`` transcript under ``folder`` into ``out`` as JSON lines, one
        per file as it is graded (so an interruption loses nothing). With ``resume``, files
        already in ``out`` are skipped; without it ``out`` is started afresh. ``concurrency``
        grades run at once (worth raising with an LLM judge, whose calls wait on the network).
        A file that cannot be graded gets a line with its error; the others go on."""
        self.catalog.rubric(rubric_id)  # a clear error before any work
        files = sorted(p for p in folder.rglob("*.json") if p.resolve() != out.resolve())
        done: set[str] = set()
        kept: list[str] = []
        if resume and out.exists():
            for line in out.read_text(encoding="utf-8").splitlines():
                try:
                    done.add(str(json.loads(line)["file"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by the interruption: graded again
                kept.append(line)
            # drop the cut-short line, so what follows starts on a line of its own
            out.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        todo = [p for p in files if str(p.relative_to(folder)) not in done]
        out.parent.mkdir(parents=True, exist_ok=True)
        result = BulkResult(total=len(files), skipped=len(files) - len(todo))

        def one(path: Path) -> dict[str, Any]:
            name = str(path.relative_to(folder))
            try:
                report = self.grade_transcript(self.read(path), rubric_id, source=str(path))
            except (InputError, NotFound) as exc:
                return {"file": name, "error": str(exc)}
            return {
                "file": name,
                "verdict": report.verdict,
                "overall": report.overall,
                "report": report.model_dump(mode="json"),
            }

        mode = "a" if resume else "w"
        with (
            out.open(mode, encoding="utf-8") as sink,
            ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool,
            tqdm(
                total=len(todo),
                desc="grading",
                unit="transcript",
                file=sys.stderr,
                disable=not progress,
            ) as bar,
        ):
            futures = [pool.submit(one, path) for path in todo]
            for future in as_completed(futures):  # each line written as soon as it is done
                row = future.result()
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                if "error" in row:
                    result.errors += 1
                else:
                    result.graded += 1
                    result.verdicts[row["verdict"]] = result.verdicts.get(row["verdict"], 0) + 1
                bar.update()
        return result

    def grade_file(self, path: Path, rubric_id: str = "default") -> GradeReport:
        return self.grade_transcript(self.read(path), rubric_id, source=str(path))

    def calibrate(self, data: Path, sample: int | None = None) -> dict[str, Any]:
        from grading.calibration import calibrate

        return calibrate(data, self.settings, sample=sample)

    def calibrate_transcripts(self, folder: Path, rubric_id: str = "default") -> dict[str, Any]:
        """Verdicts and scores against a folder of human-labelled transcripts."""
        from grading.calibration import transcript_figures

        return transcript_figures(folder, lambda t: self.grade_transcript(t, rubric_id))
