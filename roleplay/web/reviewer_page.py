"""The reviewer's sessions page: every session with its status and grade, and one session's
transcript and report. Reached only by reviewers and admins (checked by the server)."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from roleplay.store import Store

COLUMNS = ["session", "candidate", "persona", "mode", "status", "outcome", "overall", "passed"]


def _rows(store: Store) -> list[list[Any]]:
    return [
        [
            s.id,
            s.candidate_name or "",
            s.persona_id,
            s.mode,
            s.status,
            s.outcome or "",
            s.overall if s.overall is not None else "",
            "" if s.passed is None else s.passed,
        ]
        for s in store.list_sessions()
    ]


def _session_markdown(store: Store, session_id: int) -> str:
    transcript = store.transcript(session_id)
    lines = [
        f"### Session {session_id}: {html.escape(transcript.persona)}, "
        f"outcome {transcript.outcome or 'in progress'}",
        "",
    ]
    for i, turn in enumerate(transcript.turns):
        who = "Customer" if turn.speaker == "customer" else "Candidate"
        mood = (
            f" (mood {turn.mood})" if turn.speaker == "customer" and turn.mood is not None else ""
        )
        lines.append(f"{i}. **{who}**{mood}: {html.escape(turn.text)}")
    state = store.grade(session_id)
    if state and state[1]:
        report = state[1]
        lines += [
            "",
            f"**Overall {report['overall']:.0f}/100, "
            f"{'passed' if report['passed'] else 'not passed'}**",
        ]
        for c in report["criteria"]:
            score = f"{c['score']}/5" if c.get("score") is not None else "n/a"
            lines.append(f"- {html.escape(c['name'])}: {score}, {html.escape(c['rationale'])}")
    return "\n".join(lines)


def build(store: Store) -> gr.Blocks:
    page = gr.Blocks(title="Roleplay Evaluator: sessions")
    with page:
        gr.Markdown("## Sessions\n[Sign out](/logout)")
        table = gr.Dataframe(headers=COLUMNS, value=None, interactive=False, elem_id="sessions")
        with gr.Row():
            pick = gr.Number(label="Session", precision=0, elem_id="pick")
            open_btn = gr.Button("Open", elem_id="open")
        detail = gr.Markdown(elem_id="detail")
        page.load(lambda: _rows(store), outputs=table)

        def on_open(session_id: float | None) -> str:
            if session_id is None:
                return ""
            try:
                return _session_markdown(store, int(session_id))
            except Exception as exc:  # a bad id is a message, not a crash
                raise gr.Error(str(exc)) from None

        open_btn.click(on_open, inputs=pick, outputs=detail)
    return page
