"""The reviewer's dashboard: sessions to filter and export, a session's transcript and report
with evidence links and plots, overrides with an audit trail, comparisons and invites.

Handlers call :class:`roleplay.services.review.ReviewService`; the server lets only reviewers and
admins reach this page. Everything from candidates, personas and notes is escaped.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import gradio as gr
import pandas as pd
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from grading.report import marked_html, points, writing_marks
from roleplay.errors import NotFound
from roleplay.faces.web.auth import current_user, sign_out_button
from roleplay.faces.web.handlers import guarded
from roleplay.services.accounts import AccountService
from roleplay.services.catalog import Catalog
from roleplay.services.invites import InviteService
from roleplay.services.review import (
    COLUMNS,
    FLAG_FILTERS,
    FLAG_WORDS,
    OUTCOME_WORDS,
    STATUSES,
    ReviewService,
    RowFilter,
    SessionRow,
    words,
)

OUTCOMES = list(OUTCOME_WORDS)
SORTS = ["date", "candidate", "persona", "overall", "outcome"]
ANY = "any"

CSS = """
.transcript .turn{padding:.4em .6em;margin:.3em 0;border-radius:6px;border:1px solid #ddd}
.transcript .customer{background:#f6f6f6}.transcript .candidate{background:#fff8ef}
.transcript .cited{border:2px solid #e67e22}.transcript .turn:target{outline:3px solid #2a7ae2}
.transcript .meta{font-size:.85em;color:#555}
.transcript mark.writing{background:#fde2e2;text-decoration:underline wavy #c0392b}
"""


def _table(rows: list[SessionRow]) -> pd.DataFrame:
    return pd.DataFrame([r.cells(human=True) for r in rows], columns=COLUMNS)


def session_view(review: ReviewService, session_id: int) -> str:
    """The transcript with moods and cited turns, then each criterion with evidence links."""
    store = review.store
    transcript = store.transcript(session_id)
    report = review.report(session_id)
    cited = {e.turn for c in (report.criteria if report else []) for e in c.evidence}
    marks = writing_marks(report)
    info = store.session(session_id)
    outcome = words(transcript.outcome, OUTCOME_WORDS) if transcript.outcome else "in progress"
    parts = [
        f"<h3>Session {session_id}: {html.escape(info.candidate_name or 'candidate')} · "
        f"{html.escape(transcript.persona)} · {html.escape(info.mode)} · outcome "
        f"{html.escape(outcome)}</h3>",
        '<div class="transcript">',
    ]
    for i, t in enumerate(transcript.turns):
        who = "Customer" if t.speaker == "customer" else "Candidate"
        meta = f"turn {i} · {who}"
        if t.speaker == "customer" and t.mood is not None:
            meta += f" · mood {t.mood_before}→{t.mood}"
            if t.move:
                meta += f" · {html.escape(str(t.move))}"
        if t.speaker == "candidate" and t.acts:
            meta += " · " + html.escape(", ".join(a.kind.value for a in t.acts))
        cls = f"turn {t.speaker}{' cited' if i in cited else ''}"
        parts.append(
            f'<div class="{cls}" id="turn-{i}"><div class="meta">{meta}</div>'
            f"{marked_html(t.text, marks.get(i, []))}</div>"
        )
    parts.append("</div>")
    if report is None:
        parts.append("<p>Not graded yet.</p>")
        return "".join(parts)
    verdict = {"pass": "passed", "fail": "not passed", "needs_review": "needs review"}[
        report.verdict
    ]
    parts.append(
        f'<h3 id="overall">Overall {points(report.overall)}/100, {verdict} '
        f"(pass mark {report.pass_mark:.0f})</h3><table><tr><th>Criterion</th>"
        "<th>Score</th><th>Level</th><th>Rationale and evidence</th></tr>"
    )
    for c in report.criteria:
        links = "".join(
            f'<li><a class="evidence" href="#turn-{e.turn}">turn {e.turn}</a>: '
            f"“{html.escape(e.quote)}”{' (' + html.escape(e.note) + ')' if e.note else ''}</li>"
            for e in c.evidence
        )
        source = " (override)" if c.source == "override" else ""
        parts.append(
            f"<tr><td>{html.escape(c.name)}</td><td>{c.shown}{source}</td>"
            f"<td>{html.escape(c.level)}</td><td>{html.escape(c.rationale)}"
            f"<ul>{links}</ul></td></tr>"
        )
    parts.append("</table>")
    if report.flags:
        parts.append(
            "<h4>Flags</h4><ul>"
            + "".join(
                f"<li><b>{html.escape(words(f.kind, FLAG_WORDS))}</b>"
                f"{' (blocker)' if f.blocker else ''}: "
                f"{html.escape(f.detail)}"
                + (
                    " — "
                    + ", ".join(
                        f'<a class="evidence" href="#turn-{t}">turn {t}</a>' for t in f.turns
                    )
                    if f.turns
                    else ""
                )
                + "</li>"
                for f in report.flags
            )
            + "</ul>"
        )
    audit = store.overrides(session_id)
    if audit:
        parts.append(
            '<h4>Audit trail</h4><ul id="audit">'
            + "".join(
                f"<li>{o.created_at:%Y-%m-%d %H:%M} {html.escape(o.by_user)} changed "
                f"{html.escape(o.criterion)} from {o.old_score} to {o.new_score}: "
                f"{html.escape(o.note)}</li>"
                for o in audit
            )
            + "</ul>"
        )
    p = report.provenance
    parts.append(
        f"<p class='meta'>Graded {p.graded_at:%Y-%m-%d %H:%M} UTC by "
        f"{html.escape(p.engine)}{' / ' + html.escape(p.model) if p.model else ''}; "
        f"rubric {html.escape(p.rubric_id)} v{p.rubric_version} "
        f"({html.escape(p.rubric_hash)}); persona version "
        f"{html.escape(info.persona_version)}; engine {html.escape(info.engine)}.</p>"
    )
    return "".join(parts)


def register_routes(api: FastAPI, review: ReviewService) -> None:
    """Downloads served by routes, not through Gradio's shared file cache: the server's role
    check runs on every request, and each reply is made for the reviewer who asked."""

    def _filter(params: dict[str, str | None]) -> RowFilter:
        try:
            return RowFilter.model_validate({k: v for k, v in params.items() if v})
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise HTTPException(400, f"filter {where}: {problem['msg']}") from None

    @api.get("/reviewer/export/sessions.{kind}", response_model=None)
    def export(
        kind: str,
        candidate: str | None = None,
        persona: str | None = None,
        mode: str | None = None,
        outcome: str | None = None,
        passed: str | None = None,
        flag: str | None = None,
        status: str | None = None,
        since: str | None = None,
        sort: str | None = Query(None),
    ) -> Response:
        if kind not in ("csv", "json"):
            raise HTTPException(404)
        params = {"candidate": candidate, "persona": persona, "mode": mode, "outcome": outcome}
        params |= {"passed": passed, "flag": flag, "status": status, "since": since}
        params |= {"sort": sort}
        rows = review.filtered(_filter(params))
        body = review.export_csv(rows) if kind == "csv" else review.export_json(rows)
        media = "text/csv" if kind == "csv" else "application/json"
        stamp = datetime.now().strftime("%Y-%m-%d")
        return Response(
            body,
            media_type=f"{media}; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="sessions-{stamp}.{kind}"',
                "cache-control": "no-store",
            },
        )

    @api.get("/reviewer/report/{session_id}", response_class=HTMLResponse)
    def printable(session_id: int) -> HTMLResponse:
        try:
            page = review.session_html(session_id)
        except NotFound:
            raise HTTPException(404, "no such session") from None
        return HTMLResponse(page, headers={"cache-control": "no-store"})


def _export_links(f: RowFilter) -> str:
    query = urlencode(
        {k: v for k, v in f.model_dump(mode="json").items() if v not in (None, "", "date")}
    )
    suffix = f"?{query}" if query else ""
    return (
        f'<a id="export-csv" href="export/sessions.csv{html.escape(suffix)}" download>'
        "Export CSV</a> · "
        f'<a id="export-json" href="export/sessions.json{html.escape(suffix)}" download>'
        "Export JSON</a>"
    )


def build(
    review: ReviewService, catalog: Catalog, invites: InviteService, accounts: AccountService
) -> gr.Blocks:
    page = gr.Blocks(title="Roleplay Evaluator: reviewer")
    with page:
        gr.HTML(f"<style>{CSS}</style>", padding=False)
        with gr.Row():
            gr.Markdown("## Reviewer dashboard")
            sign_out_button()
        with gr.Tabs() as tabs:
            with gr.Tab("Sessions", id="sessions-tab"):
                with gr.Row():
                    f_candidate = gr.Textbox(label="Candidate", elem_id="f-candidate")
                    f_persona = gr.Dropdown(
                        [ANY, *catalog.persona_choices()],
                        value=ANY,
                        label="Persona",
                        elem_id="f-persona",
                    )
                    f_mode = gr.Dropdown(
                        [ANY, "practice", "assessment"], value=ANY, label="Mode", elem_id="f-mode"
                    )
                    f_outcome = gr.Dropdown(
                        [ANY, *((OUTCOME_WORDS[o], o) for o in OUTCOMES)],
                        value=ANY,
                        label="Outcome",
                        elem_id="f-outcome",
                    )
                    f_passed = gr.Dropdown(
                        [ANY, "passed", "failed"], value=ANY, label="Result", elem_id="f-passed"
                    )
                    f_flag = gr.Dropdown(
                        [ANY, *((FLAG_WORDS[f], f) for f in FLAG_FILTERS)],
                        value=ANY,
                        label="Flag",
                        elem_id="f-flag",
                    )
                    f_status = gr.Dropdown(
                        [ANY, *STATUSES], value=ANY, label="Status", elem_id="f-status"
                    )
                    f_since = gr.Textbox(label="From date (YYYY-MM-DD)", elem_id="f-since")
                    f_sort = gr.Dropdown(SORTS, value="date", label="Sort by", elem_id="f-sort")
                apply = gr.Button("Apply filters", elem_id="apply")
                table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="sessions")
                export_links = gr.HTML(_export_links(RowFilter()), elem_id="export-links")
            with gr.Tab("Session", id="session-tab"):
                with gr.Row():
                    pick = gr.Number(label="Session id", precision=0, elem_id="pick")
                    open_btn = gr.Button("Open session", elem_id="open")
                    print_link = gr.HTML("", elem_id="print")
                detail = gr.HTML(elem_id="detail")
                with gr.Row():
                    mood_plot = gr.LinePlot(
                        x="turn",
                        y="mood",
                        title="Customer mood after each customer message",
                        x_title="turn",
                        y_lim=[-5, 5],
                        elem_id="mood-plot",
                    )
                    cohort_plot = gr.BarPlot(
                        x="criterion",
                        y="score",
                        color="who",
                        title="Scores against the persona's cohort",
                        y_lim=[0, 5],
                        x_label_angle=-40,
                        elem_id="cohort-plot",
                    )
                with gr.Row():
                    o_criterion = gr.Dropdown(
                        [], label="Criterion to override", elem_id="o-criterion"
                    )
                    o_score = gr.Dropdown(
                        [1, 2, 3, 4, 5], value=None, label="New score (1-5)", elem_id="o-score"
                    )
                    o_note = gr.Textbox(label="Note (required)", elem_id="o-note")
                    o_btn = gr.Button("Override", elem_id="override")
            with gr.Tab("Compare", id="compare-tab"):
                c_ids = gr.Textbox(
                    label="Session ids (same persona), e.g. 3, 5, 8", elem_id="c-ids"
                )
                c_btn = gr.Button("Compare", elem_id="compare")
                c_table = gr.Dataframe(interactive=False, elem_id="compare-table")
            with gr.Tab("Invite", id="invite-tab"):
                with gr.Row():
                    i_persona = gr.Dropdown(
                        catalog.persona_choices(), label="Persona", elem_id="i-persona"
                    )
                    i_mode = gr.Radio(
                        ["practice", "assessment"], value="practice", label="Mode", elem_id="i-mode"
                    )
                    i_candidate = gr.Textbox(label="Candidate name", elem_id="i-candidate")
                    i_attempts = gr.Number(
                        value=1, precision=0, minimum=1, label="Attempts", elem_id="i-attempts"
                    )
                    i_limit = gr.Number(
                        value=None, label="Time limit (minutes, optional)", elem_id="i-limit"
                    )
                    i_rubric = gr.Dropdown(
                        catalog.rubric_choices(),
                        value="default",
                        label="Rubric (Chat and email desk adds written communication)",
                        elem_id="i-rubric",
                    )
                i_btn = gr.Button("Create invite link", elem_id="i-create")
                i_link = gr.Textbox(label="Invite link", interactive=False, elem_id="i-link")

        filters = [
            f_candidate,
            f_persona,
            f_mode,
            f_outcome,
            f_passed,
            f_flag,
            f_status,
            f_since,
            f_sort,
        ]

        def current_filter(
            candidate: str,
            persona: str,
            mode: str,
            outcome: str,
            passed: str,
            flag: str,
            status: str,
            since: str,
            sort: str,
        ) -> RowFilter:
            try:
                start = (
                    datetime.strptime(since.strip(), "%Y-%m-%d").date()
                    if since and since.strip()
                    else None
                )
            except ValueError:
                raise gr.Error("Write the date as YYYY-MM-DD, e.g. 2026-11-24.") from None
            return RowFilter(
                since=start,
                candidate=candidate or "",
                persona=None if persona == ANY else persona,
                mode=None if mode == ANY else mode,
                outcome=None if outcome == ANY else outcome,
                passed=None if passed == ANY else passed == "passed",
                flag=None if flag == ANY else flag,
                status=None if status == ANY else status,
                sort=sort,
            )

        @guarded
        def on_filter(*values: str) -> tuple[pd.DataFrame, str]:
            f = current_filter(*values)
            return _table(review.filtered(f)), _export_links(f)

        page.load(on_filter, inputs=filters, outputs=[table, export_links])
        # personas saved in the studio since the server started appear without a restart
        page.load(
            lambda: (
                gr.update(choices=[ANY, *catalog.persona_choices()]),
                gr.update(choices=catalog.persona_choices()),
            ),
            outputs=[f_persona, i_persona],
        )
        apply.click(on_filter, inputs=filters, outputs=[table, export_links])

        @guarded
        def on_open(session_id: float | None, keep: str | None = None) -> tuple[Any, ...]:
            """The session's view; the override's criterion stays ``keep`` when given."""
            if session_id is None:
                raise gr.Error("Enter a session id.")
            sid = int(session_id)
            view = session_view(review, sid)
            # turns as labels in order: a numeric axis over a few turns ticks at half turns
            series = review.mood_series(sid)
            moods = pd.DataFrame([(str(t), m) for t, m in series], columns=["turn", "mood"])
            mood_update = gr.LinePlot(value=moods, sort=[str(t) for t, _ in series])
            # One bar per criterion and series, side by side (never stacked: scores are 1-5).
            found = review.cohort(sid)
            cohort_rows: list[tuple[str, float, str]] = []
            for name, mine, others in found.rows:
                if mine is not None:
                    cohort_rows.append((name, mine, "this session"))
                if others is not None:
                    cohort_rows.append((f"{name} (cohort)", others, "cohort mean"))
            frame = pd.DataFrame(cohort_rows, columns=["criterion", "score", "who"])
            cohort = gr.BarPlot(
                value=frame, sort=[r[0] for r in cohort_rows], caption=found.caption()
            )
            report = review.report(sid)
            criteria = [(c.name, c.criterion) for c in report.criteria] if report else []
            ids = [cid for _, cid in criteria]
            chosen = keep if keep in ids else (ids[0] if ids else None)
            return (
                view,
                mood_update,
                cohort,
                gr.update(choices=criteria, value=chosen),
                f'<a id="print-link" href="report/{sid}" target="_blank" rel="noopener">'
                "Printable report</a>",
            )

        session_outputs = [detail, mood_plot, cohort_plot, o_criterion, print_link]
        open_btn.click(on_open, inputs=pick, outputs=session_outputs)

        @guarded
        def on_select(evt: gr.SelectData, frame: pd.DataFrame) -> tuple[Any, ...]:
            row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
            sid = int(frame.iloc[int(row)]["session"])
            return (gr.Tabs(selected="session-tab"), sid, *on_open(sid))

        table.select(on_select, inputs=table, outputs=[tabs, pick, *session_outputs])

        @guarded
        def on_override(
            session_id: float | None,
            criterion: str | None,
            score: float | None,
            note: str,
            request: gr.Request,
        ) -> tuple[Any, ...]:
            if session_id is None or criterion is None or score is None:
                raise gr.Error("Open a session and choose a criterion and a score.")
            review.override(
                int(session_id), criterion, int(score), note, current_user(request, accounts)
            )
            return (*on_open(session_id, keep=criterion), "")

        o_btn.click(
            on_override,
            inputs=[pick, o_criterion, o_score, o_note],
            outputs=[*session_outputs, o_note],
        )

        @guarded
        def on_compare(ids: str) -> pd.DataFrame:
            try:
                numbers = [int(x) for x in ids.replace(",", " ").split()]
            except ValueError:
                raise gr.Error("Session ids are whole numbers, separated by commas.") from None
            if len(numbers) < 2:
                raise gr.Error("Give at least two session ids.")
            headers, body = review.compare(numbers)
            return pd.DataFrame(body, columns=headers)

        c_btn.click(on_compare, inputs=c_ids, outputs=c_table)

        @guarded
        def on_invite(
            persona: str | None,
            mode: str,
            candidate: str,
            attempts: float | None,
            limit: float | None,
            rubric: str | None,
            request: gr.Request,
        ) -> str:
            if not persona:
                raise gr.Error("Choose a persona.")
            made = invites.create(
                persona,
                mode,
                candidate_name=candidate or None,
                attempts=int(attempts or 1),
                time_limit_minutes=limit or None,
                created_by=current_user(request, accounts),
                rubric_id=rubric or "default",
            )
            return made.link

        i_btn.click(
            on_invite,
            inputs=[i_persona, i_mode, i_candidate, i_attempts, i_limit, i_rubric],
            outputs=i_link,
        )
    return page
