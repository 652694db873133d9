"""The grade report: per-criterion scores with cited evidence, flags, overall and provenance."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from roleplay.core.transcript import TokenUsage

FlagKind = Literal[
    "policy_violation",
    "injection_attempt",
    "closed_unresolved",
    "customer_fault",
    "unstable_score",
    "unsupported_language",
    "judge_fallback",
    "not_assessed",
    "needs_review",
]


class Evidence(BaseModel):
    """A quote from the transcript a score rests on. ``turn`` indexes ``transcript.turns``."""

    turn: int = Field(ge=0, description="Index of the turn in the transcript.")
    quote: str = Field(description="Words from that turn, verbatim.")
    note: str | None = Field(
        None, description="What is wrong with the words, e.g. a misspelling and its fix."
    )


class CriterionScore(BaseModel):
    criterion: str
    name: str
    weight: float
    score: int | None = Field(None, ge=1, le=5, description="1-5; None when not assessed.")
    level: str = Field("", description="The rubric's descriptor for the score.")
    rationale: str
    evidence: list[Evidence] = Field(default_factory=list)
    source: Literal["evidence", "llm", "override"] = "evidence"
    spread: int | None = Field(
        None, description="Max minus min judge score over k samples (k > 1 only)."
    )

    @property
    def shown(self) -> str:
        """The score as people read it: ``4/5``, or ``n/a`` when not assessed."""
        return f"{self.score}/5" if self.score is not None else "n/a"


class Flag(BaseModel):
    kind: FlagKind
    detail: str
    turns: list[int] = Field(default_factory=list)
    blocker: bool = Field(False, description="A compliance blocker: the grade cannot pass.")
    criterion: str | None = Field(
        None, description="needs_review: the criterion whose override settles it."
    )


class Provenance(BaseModel):
    engine: Literal["evidence", "evidence+llm"]
    model: str | None = None
    rubric_id: str
    rubric_version: int
    rubric_hash: str
    reader: str | None = Field(None, description="The reader (and version) that read the turns.")
    prompt_version: str | None = None
    grader_version: str
    graded_at: datetime
    judge_attempts: int | None = Field(
        None, description="Judge calls made, re-asks included, over every sample."
    )
    judge_raw_output: str | None = Field(
        None,
        description="The judge's last raw output when some of it was rejected (kept so a "
        "reviewer can see what the model said).",
    )


Verdict = Literal["pass", "fail", "needs_review"]


class GradeReport(BaseModel):
    """What a hiring team reads. ``overall`` and the verdict are computed in code."""

    persona: str
    persona_version: str | None = None
    outcome: str | None = None
    criteria: list[CriterionScore]
    overall: float = Field(ge=0, le=100)
    verdict: Verdict = Field(
        "fail",
        description="pass, fail, or needs_review: a decisive reading was too uncertain and "
        "the verdict depends on it (a reviewer settles it with an override).",
    )
    passed: bool = Field(description="True only when the verdict is pass.")
    pass_mark: float
    flags: list[Flag] = Field(default_factory=list)
    provenance: Provenance
    usage: TokenUsage | None = Field(None, description="Judge tokens (tiktoken) and cost.")

    def score(self, criterion: str) -> CriterionScore:
        return next(c for c in self.criteria if c.criterion == criterion)

    def flagged(self, kind: FlagKind) -> list[Flag]:
        return [f for f in self.flags if f.kind == kind]


def settle(report: GradeReport, overridden: dict[str, int]) -> None:
    """Apply reviewers' overrides (criterion → new score) to the flags and the verdict: an
    override of the criterion a needs-review flag names settles it; a policy-adherence
    override above 1 lifts a broken-rule blocker, a resolution override of 4 or more lifts
    closed-unresolved."""
    kept: list[Flag] = []
    for flag in report.flags:
        if flag.kind == "needs_review" and flag.criterion in overridden:
            continue
        if flag.kind == "policy_violation" and overridden.get("policy_adherence", 1) >= 2:
            flag = flag.model_copy(update={"blocker": False})
        if flag.kind == "closed_unresolved" and overridden.get("resolution", 1) >= 4:
            flag = flag.model_copy(update={"blocker": False})
        kept.append(flag)
    report.flags = kept
    report.overall = overall_score(report.criteria)
    report.verdict = verdict_of(report.overall, report.pass_mark, report.flags)
    report.passed = report.verdict == "pass"


def verdict_of(overall: float, pass_mark: float, flags: list[Flag]) -> Verdict:
    """The one place pass and fail are decided: the overall against the pass mark, any
    blocker fails, and an unsettled needs-review flag leaves it to a reviewer."""
    if any(f.kind == "needs_review" for f in flags):
        return "needs_review"
    if any(f.blocker for f in flags):
        return "fail"
    return "pass" if overall >= pass_mark else "fail"


def overall_score(criteria: list[CriterionScore]) -> float:
    """Weighted mean of the assessed scores, mapped from 1..5 to 0..100."""
    assessed = [c for c in criteria if c.score is not None]
    total = sum(c.weight for c in assessed)
    if not total:
        return 0.0
    value = sum(c.weight * ((c.score or 1) - 1) / 4 for c in assessed) / total * 100
    return round(value, 1)


def points(overall: float) -> str:
    """The overall as people read it everywhere (dashboard, reports, exports): one decimal,
    none when whole ("91.7", "100")."""
    return f"{overall:.1f}".removesuffix(".0")


VERDICT_WORDS: dict[str, str] = {"pass": "pass", "fail": "fail", "needs_review": "needs review"}


def render_text(report: GradeReport, source: str = "") -> str:
    head = f"{source}  " if source else ""
    verdict = VERDICT_WORDS[report.verdict].upper()
    lines = [
        f"{head}persona {report.persona} · outcome {report.outcome or '-'} · "
        f"overall {points(report.overall)}/100 · {verdict} (pass mark {report.pass_mark:.0f})"
    ]
    for c in report.criteria:
        lines.append(f"  {c.name:<24} {c.shown:>4}  {c.rationale}")
        for ev in c.evidence[:3]:
            lines.append(f'      turn {ev.turn}: "{ev.quote}"')
    for f in report.flags:
        turns = f" (turns {', '.join(map(str, f.turns))})" if f.turns else ""
        lines.append(f"  flag {f.kind}{' [blocker]' if f.blocker else ''}: {f.detail}{turns}")
    p = report.provenance
    lines.append(
        f"  graded by {p.engine}{' / ' + p.model if p.model else ''} with rubric "
        f"{p.rubric_id} v{p.rubric_version} ({p.rubric_hash})"
    )
    return "\n".join(lines)


def to_markdown(report: GradeReport) -> str:
    verdict = VERDICT_WORDS[report.verdict].capitalize()
    out = [
        f"# Grade report: {report.persona}",
        "",
        f"**Overall {points(report.overall)}/100, {verdict}** (pass mark {report.pass_mark:.0f}). "
        f"Outcome: {report.outcome or '-'}.",
        "",
        "| Criterion | Score | Level | Rationale |",
        "|---|---|---|---|",
    ]
    for c in report.criteria:
        cells = [c.name, c.shown, c.level, c.rationale]
        out.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    out.append("")
    for c in report.criteria:
        if c.evidence:
            out.append(f"**{c.name}**")
            out.extend(f"- turn {e.turn}: “{e.quote}”" for e in c.evidence)
            out.append("")
    if report.flags:
        out.append("## Flags")
        for f in report.flags:
            out.append(f"- **{f.kind}**{' (blocker)' if f.blocker else ''}: {f.detail}")
        out.append("")
    p = report.provenance
    out.append(
        f"_Graded {p.graded_at:%Y-%m-%d %H:%M} UTC by {p.engine}"
        f"{' / ' + p.model if p.model else ''}, rubric {p.rubric_id} v{p.rubric_version} "
        f"({p.rubric_hash}), grader {p.grader_version}._"
    )
    return "\n".join(out) + "\n"


def to_html(report: GradeReport, about: Sequence[tuple[str, str]] = ()) -> str:
    """A printable HTML page, headed by ``about`` (label, value: who, what, when). Everything
    from the transcript is escaped."""
    e = html.escape
    facts = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in about)
    rows = []
    for c in report.criteria:
        evidence = "".join(f"<li>turn {ev.turn}: “{e(ev.quote)}”</li>" for ev in c.evidence)
        rows.append(
            f"<tr><td>{e(c.name)}</td><td>{c.shown}</td><td>{e(c.level)}</td>"
            f"<td>{e(c.rationale)}<ul>{evidence}</ul></td></tr>"
        )
    flags = "".join(
        f"<li><b>{e(f.kind)}</b>{' (blocker)' if f.blocker else ''}: {e(f.detail)}</li>"
        for f in report.flags
    )
    p = report.provenance
    verdict = VERDICT_WORDS[report.verdict].capitalize()
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Grade report: {e(report.persona)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td,th{border:1px solid #ccc;padding:.4em;vertical-align:top}"
        "table{border-collapse:collapse}dl{display:grid;grid-template-columns:max-content auto;"
        "gap:.2em 1em}dt{font-weight:bold}dd{margin:0}"
        "mark.writing{background:#fde2e2}</style></head><body>"
        f"<h1>Grade report: {e(report.persona)}</h1>"
        + (f"<dl class='about'>{facts}</dl>" if facts else "")
        + f"<p><b>Overall {points(report.overall)}/100, {verdict}</b> "
        f"(pass mark {report.pass_mark:.0f}). Outcome: {e(report.outcome or '-')}.</p>"
        "<table><tr><th>Criterion</th><th>Score</th><th>Level</th><th>Rationale and evidence"
        f"</th></tr>{''.join(rows)}</table>"
        + (f"<h2>Flags</h2><ul>{flags}</ul>" if flags else "")
        + f"<p><i>Graded {p.graded_at:%Y-%m-%d %H:%M} UTC by {e(p.engine)}"
        f"{' / ' + e(p.model) if p.model else ''}, rubric {e(p.rubric_id)} "
        f"v{p.rubric_version} ({e(p.rubric_hash)}).</i></p></body></html>"
    )


#: How the candidate's own practice report words each verdict.
FEEDBACK_WORDS: dict[str, str] = {
    "pass": "passed",
    "fail": "did not pass",
    "needs_review": "one point needs a person's judgement, see the notes",
}


def to_feedback_html(report: GradeReport) -> str:
    """The candidate's practice report: the result, each criterion's score and why, and the
    notes. Everything from the transcript is escaped."""
    e = html.escape
    items = "".join(
        f"<li><b>{e(c.name)}</b> {e(c.shown)}: {e(c.rationale)}</li>" for c in report.criteria
    )
    notes = (
        "<p><b>Notes:</b> " + "; ".join(e(f.detail) for f in report.flags) + "</p>"
        if report.flags
        else ""
    )
    return (
        f"<h3>Your result: {points(report.overall)}/100 ({FEEDBACK_WORDS[report.verdict]})</h3>"
        f"<ul>{items}</ul>{_writing_fixes(report)}{notes}"
    )


def writing_marks(report: GradeReport | None) -> dict[int, list[Evidence]]:
    """Turn → the words the writing check flagged in it (for highlighting the transcript)."""
    marks: dict[int, list[Evidence]] = {}
    for c in report.criteria if report else []:
        if c.criterion == "written_communication":
            for ev in c.evidence:
                if ev.note:
                    marks.setdefault(ev.turn, []).append(ev)
    return marks


def marked_html(text: str, marks: list[Evidence]) -> str:
    """``text`` escaped, with each flagged word wrapped in ``<mark>`` and its note as the
    tooltip (each mark on its next occurrence, left to right)."""
    spans: list[tuple[int, int, str]] = []
    for ev in marks:
        start = 0
        while (at := text.find(ev.quote, start)) >= 0:
            if all(at >= b or at + len(ev.quote) <= a for a, b, _ in spans):
                spans.append((at, at + len(ev.quote), ev.note or ""))
                break
            start = at + 1
    out, pos = [], 0
    for a, b, note in sorted(spans):
        out.append(html.escape(text[pos:a]))
        out.append(
            f'<mark class="writing" title="{html.escape(note)}">{html.escape(text[a:b])}</mark>'
        )
        pos = b
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _writing_fixes(report: GradeReport) -> str:
    """The words the writing check flagged, each with what to do about it."""
    noted = dict.fromkeys(
        (ev.quote, ev.note)
        for c in report.criteria
        if c.criterion == "written_communication"
        for ev in c.evidence
        if ev.note
    )
    if not noted:
        return ""
    e = html.escape
    items = "".join(f"<li>“{e(quote)}”: {e(note or '')}</li>" for quote, note in noted)
    return f"<p><b>What to fix in your writing:</b></p><ul class='writing-fixes'>{items}</ul>"
