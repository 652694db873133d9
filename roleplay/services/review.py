"""The reviewer's side as a service: sessions to filter and sort, reports with overrides,
cohort comparisons, side-by-side comparisons and exports. The dashboard page calls this."""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import mean
from typing import Any, Literal

from pydantic import BaseModel, Field

from grading.report import CriterionScore, GradeReport, marked_html, settle, to_html, writing_marks
from grading.rubric import get_rubric
from roleplay.errors import InvalidValue, NotFound
from roleplay.services.catalog import Catalog
from roleplay.storage.store import SessionInfo, Store

SortKey = Literal["date", "candidate", "persona", "overall", "outcome"]
FLAG_FILTERS = (
    "needs_review",
    "policy_violation",
    "injection_attempt",
    "unstable_score",
    "closed_unresolved",
)


#: The columns of a session row, in the dashboard table and in exports.
COLUMNS = [
    "session",
    "candidate",
    "persona",
    "mode",
    "source",
    "date",
    "status",
    "outcome",
    "overall",
    "result",
    "flags",
]
RESULT_WORDS = {"pass": "pass", "fail": "fail", "needs_review": "needs review"}
#: How people read an outcome or a flag; the ids stay in exports.
OUTCOME_WORDS = {
    "resolved": "resolved",
    "escalated": "asked for a manager",
    "abandoned": "customer left",
    "candidate_closed": "closed by the candidate",
    "max_turns": "turn limit reached",
    "time_limit": "time ran out",
}
FLAG_WORDS = {
    "policy_violation": "rule broken",
    "injection_attempt": "wrote to the grader",
    "closed_unresolved": "closed unresolved",
    "customer_fault": "blamed the customer",
    "unstable_score": "unstable judge score",
    "unsupported_language": "language not supported",
    "judge_fallback": "judge unavailable",
    "not_assessed": "not assessed",
    "needs_review": "needs review",
}


def words(value: str, table: dict[str, str]) -> str:
    """The human word for an id, the id itself when there is none."""
    return table.get(value, value.replace("_", " "))


#: What a session's status may be in the dashboard: ``abandoned`` is an active session
#: nobody has finished within :data:`ABANDONED_AFTER` of its start.
Status = Literal["active", "ended", "abandoned"]
STATUSES: tuple[str, ...] = ("active", "ended", "abandoned")
ABANDONED_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class SessionRow:
    id: int
    candidate: str
    persona: str
    mode: str
    source: str
    date: str
    status: str
    outcome: str
    overall: float | None
    passed: bool | None
    flags: list[str] = field(default_factory=list)
    verdict: str | None = None
    persona_label: str = ""  # "Company: customer", for people (the id stays in exports)

    def cells(self, flag_separator: str = ", ", *, human: bool = False) -> list[Any]:
        """The row's values in :data:`COLUMNS` order, blanks for what is not graded yet;
        ``human``: outcomes and flags in words (the dashboard), else their ids (exports)."""
        outcome = words(self.outcome, OUTCOME_WORDS) if human and self.outcome else self.outcome
        flags = [words(f, FLAG_WORDS) for f in self.flags] if human else self.flags
        return [
            self.id,
            self.candidate,
            (self.persona_label or self.persona) if human else self.persona,
            self.mode,
            self.source,
            self.date,
            self.status,
            outcome,
            "" if self.overall is None else self.overall,
            RESULT_WORDS.get(self.verdict or "", ""),
            flag_separator.join(flags),
        ]


@dataclass(frozen=True)
class Cohort:
    """A session's scores beside its persona's other graded sessions."""

    #: (criterion name, this session's score, the others' mean)
    rows: list[tuple[str, int | None, float | None]]
    #: how many other graded sessions the means are over
    others: int

    def caption(self) -> str:
        if not self.others:
            return "No other graded session of this persona yet to compare with."
        n = f"{self.others} other graded session{'s' if self.others != 1 else ''}"
        return f"Cohort mean: the {n} of this persona (this session not included)."


class RowFilter(BaseModel):
    """Which sessions a reviewer wants to see, and in which order (the dashboard's filters,
    and the query string of the export downloads)."""

    candidate: str = Field("", max_length=120, description="Part of the candidate's name.")
    persona: str | None = None
    mode: Literal["practice", "assessment"] | None = None
    outcome: str | None = None
    passed: bool | None = None
    flag: str | None = None
    status: Status | None = None
    since: date | None = Field(None, description="Sessions started on or after this day (UTC).")
    sort: SortKey = "date"

    @property
    def descending(self) -> bool:
        return self.sort in ("date", "overall")


#: A spreadsheet reads a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a leading formula character is quoted away."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class ReviewService:
    def __init__(self, store: Store, catalog: Catalog | None = None) -> None:
        self.store = store
        self.catalog = catalog

    def _levels(self, rubric_id: str) -> dict[str, dict[int, str]]:
        rubric = self.catalog.rubric(rubric_id) if self.catalog else get_rubric(rubric_id)
        return {c.id: c.levels for c in rubric.criteria}

    # ------------------------------------------------------------------ reports
    def report(self, session_id: int) -> GradeReport | None:
        """The stored report with every override applied and the overall recomputed."""
        state = self.store.grade(session_id)
        if state is None or state[1] is None:
            return None
        report = GradeReport.model_validate(state[1])
        overrides = self.store.overrides(session_id)
        if overrides:
            levels = self._levels(report.provenance.rubric_id)
            for o in overrides:
                c = report.score(o.criterion)
                c.score, c.source = o.new_score, "override"
                c.level = levels.get(o.criterion, {}).get(o.new_score, c.level)
                c.rationale = (
                    f"{c.rationale} [overridden to {o.new_score} by {o.by_user}: {o.note}]"
                )
            settle(report, {o.criterion: o.new_score for o in overrides})
        return report

    def override(
        self, session_id: int, criterion: str, score: int, note: str, user: str
    ) -> GradeReport:
        """Change one criterion's score, with a required note. The original stays stored."""
        if not note.strip():
            raise InvalidValue("note", "a note is required: say why the score changes")
        if score not in (1, 2, 3, 4, 5):
            raise InvalidValue("score", "the new score must be a whole number from 1 to 5")
        current = self.report(session_id)
        if current is None:
            raise NotFound(f"session {session_id} has no grade yet")
        try:
            old = current.score(criterion).score
        except StopIteration:
            raise InvalidValue("criterion", f"this rubric has no criterion {criterion!r}") from None
        self.store.add_override(session_id, criterion, old, score, note.strip(), user)
        report = self.report(session_id)
        assert report is not None
        return report

    # ------------------------------------------------------------------ lists
    def filtered(self, f: RowFilter) -> list[SessionRow]:
        return self.rows(
            candidate=f.candidate,
            persona=f.persona,
            mode=f.mode,
            outcome=f.outcome,
            passed=f.passed,
            flag=f.flag,
            status=f.status,
            since=datetime.combine(f.since, time(), UTC) if f.since else None,
            sort=f.sort,
            descending=f.descending,
        )

    def rows(
        self,
        *,
        candidate: str = "",
        persona: str | None = None,
        mode: str | None = None,
        outcome: str | None = None,
        passed: bool | None = None,
        flag: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        sort: SortKey = "date",
        descending: bool = True,
    ) -> list[SessionRow]:
        out: list[SessionRow] = []
        now = datetime.now(UTC)
        labels: dict[str, str] = {}
        for s in self.store.list_sessions():
            if s.persona_id not in labels:
                labels[s.persona_id] = (
                    self.catalog.persona_label(s.persona_id) if self.catalog else s.persona_id
                )
            row = self._row(s, now, labels[s.persona_id])
            if status and row.status != status:
                continue
            if candidate and candidate.lower() not in row.candidate.lower():
                continue
            if persona and row.persona != persona:
                continue
            if mode and row.mode != mode:
                continue
            if outcome and row.outcome != outcome:
                continue
            if passed is not None and row.passed is not passed:
                continue
            if flag and flag not in row.flags:
                continue
            if since and s.started_at < since:
                continue
            out.append(row)
        key = {
            "date": lambda r: r.date,
            "candidate": lambda r: r.candidate.lower(),
            "persona": lambda r: r.persona,
            "overall": lambda r: -1 if r.overall is None else r.overall,
            "outcome": lambda r: r.outcome,
        }[sort]
        return sorted(out, key=key, reverse=descending)

    def _row(self, s: SessionInfo, now: datetime, persona_label: str = "") -> SessionRow:
        report = self.report(s.id) if s.grade_status == "done" else None
        stale = s.status == "active" and now - s.started_at > ABANDONED_AFTER
        return SessionRow(
            id=s.id,
            candidate=s.candidate_name or "",
            persona=s.persona_id,
            persona_label=persona_label,
            mode=s.mode,
            source=s.source,
            date=s.started_at.strftime("%Y-%m-%d %H:%M"),
            status="abandoned" if stale else s.status,
            outcome=s.outcome or "",
            overall=report.overall if report else None,
            passed=report.passed if report else None,
            verdict=report.verdict if report else None,
            flags=sorted({f.kind for f in report.flags}) if report else [],
        )

    # ------------------------------------------------------------------ views
    def mood_series(self, session_id: int) -> list[tuple[int, int]]:
        return [
            (i, t.mood)
            for i, t in enumerate(self.store.turns(session_id))
            if t.speaker == "customer" and t.mood is not None
        ]

    def cohort(self, session_id: int) -> Cohort:
        """Per criterion: this session's score and the mean over the persona's other graded
        sessions (this one left out), and how many those are."""
        report = self.report(session_id)
        if report is None:
            return Cohort([], 0)
        others: dict[str, list[int]] = {}
        count = 0
        for s in self.store.list_sessions():
            if s.persona_id != report.persona or s.id == session_id:
                continue
            other = self.report(s.id) if s.grade_status == "done" else None
            count += other is not None
            for c in other.criteria if other else []:
                if c.score is not None:
                    others.setdefault(c.criterion, []).append(c.score)
        rows = [
            (
                c.name,
                c.score,
                round(mean(others[c.criterion]), 2) if others.get(c.criterion) else None,
            )
            for c in report.criteria
        ]
        return Cohort(rows, count)

    def compare(self, session_ids: list[int]) -> tuple[list[str], list[list[Any]]]:
        """Criteria down, candidates across. All sessions must share a persona."""
        reports = [(sid, self.report(sid)) for sid in session_ids]
        missing = [str(sid) for sid, r in reports if r is None]
        if missing:
            raise InvalidValue("sessions", f"no grade yet for session(s) {', '.join(missing)}")
        personas = {r.persona for _, r in reports if r}
        if len(personas) > 1:
            raise InvalidValue(
                "sessions",
                f"compare sessions of one persona at a time (got {', '.join(sorted(personas))})",
            )
        names = {s.id: s.candidate_name or f"session {s.id}" for s in self.store.list_sessions()}
        headers = ["criterion", *[f"{names.get(sid, sid)} (#{sid})" for sid, _ in reports]]
        first = reports[0][1]
        assert first is not None
        body: list[list[Any]] = []
        for c in first.criteria:
            body.append([c.name, *[_score(r.score(c.criterion)) if r else "" for _, r in reports]])
        body.append(["overall", *[r.overall if r else "" for _, r in reports]])
        body.append(["result", *[RESULT_WORDS[r.verdict] if r else "" for _, r in reports]])
        return headers, body

    # ------------------------------------------------------------------ exports
    @staticmethod
    def export_csv(rows: list[SessionRow]) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["id", *COLUMNS[1:]])  # the export's header names the id "id"
        writer.writerows([csv_safe(cell) for cell in r.cells(";")] for r in rows)
        return buffer.getvalue()

    @staticmethod
    def export_json(rows: list[SessionRow]) -> str:
        return json.dumps([asdict(r) for r in rows], indent=2)

    def session_html(self, session_id: int) -> str:
        """A printable page: the report, then the transcript. Everything is escaped."""
        report = self.report(session_id)
        transcript = self.store.transcript(session_id)
        marks = writing_marks(report)
        turns = "".join(
            f"<p><b>{i}. {'Customer' if t.speaker == 'customer' else 'Candidate'}</b>"
            f"{f' (mood {t.mood})' if t.speaker == 'customer' and t.mood is not None else ''}: "
            f"{marked_html(t.text, marks.get(i, []))}</p>"
            for i, t in enumerate(transcript.turns)
        )
        audit = "".join(
            f"<li>{html.escape(o.criterion)}: {o.old_score} → {o.new_score} by "
            f"{html.escape(o.by_user)}: {html.escape(o.note)}</li>"
            for o in self.store.overrides(session_id)
        )
        info = self.store.session(session_id)
        about = [
            ("Session", str(session_id)),
            ("Candidate", info.candidate_name or "(no name given)"),
            ("Persona", transcript.persona),
            ("Mode", info.mode),
            ("Started", f"{info.started_at:%Y-%m-%d %H:%M} UTC"),
            ("Ended", f"{info.ended_at:%Y-%m-%d %H:%M} UTC" if info.ended_at else "not yet"),
        ]
        body = to_html(report, about) if report else "<p>Not graded yet.</p>"
        extra = (f"<h2>Overrides</h2><ul>{audit}</ul>" if audit else "") + (
            f"<h2>Transcript</h2>{turns}"
        )
        return body.replace("</body>", extra + "</body>") if "</body>" in body else body + extra


def _score(c: CriterionScore) -> str:
    return c.shown
