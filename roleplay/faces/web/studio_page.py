"""The trainer's studio: edit personas and rubrics as YAML with the validator's messages shown
as you type, save new versions (older ones stay readable), duplicate, and test-drive the
persona being edited with its mood and the detected acts visible per turn."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr
import pandas as pd

from roleplay.errors import ValidationFailed
from roleplay.faces.web.auth import current_user, sign_out_button
from roleplay.faces.web.handlers import guarded
from roleplay.services.accounts import AccountService
from roleplay.services.studio import Checked, StudioService, TestDrive

LATEST = "latest"
#: Plain text and a colour, not an emoji (a tofu box where no emoji font is installed).
VALID = "<b style='color:#1a7f37'>✓ Valid.</b>"
TRACE_COLUMNS = ["turn", "speaker", "mood", "move", "acts", "released"]


def _problems_markdown(checked: Checked) -> str:
    if checked.ok:
        if checked.warnings:
            return (
                f"<p>{VALID} <b>The reader may miss candidates here</b> (saving still works):"
                "</p><ul>"
                + "".join(f"<li><code>{html.escape(w)}</code></li>" for w in checked.warnings)
                + "</ul>"
            )
        return f"<p>{VALID}</p>"
    return (
        "<p><b>Fix these before saving:</b></p><ul>"
        + "".join(f"<li><code>{html.escape(p)}</code></li>" for p in checked.problems)
        + "</ul>"
    )


def _trace(convo: TestDrive) -> pd.DataFrame:
    rows = []
    for i, t in enumerate(convo.turns):
        mood = "" if t.mood is None else f"{t.mood_before}→{t.mood}"
        acts = ", ".join(a.kind.value + (f"({a.detail})" if a.detail else "") for a in t.acts or [])
        rows.append([i, t.speaker, mood, str(t.move or ""), acts, ", ".join(t.released)])
    return pd.DataFrame(rows, columns=TRACE_COLUMNS)


def _chat(convo: TestDrive) -> list[dict[str, str]]:
    return [
        {"role": "assistant" if t.speaker == "customer" else "user", "content": html.escape(t.text)}
        for t in convo.turns
    ]


def build(studio: StudioService, accounts: AccountService) -> gr.Blocks:
    engines = ["scripted", "llm"] if studio.settings.persona_engine == "llm" else ["scripted"]
    page = gr.Blocks(title="Roleplay Evaluator: studio")
    with page:
        with gr.Row():
            gr.Markdown("## Trainer studio")
            sign_out_button()
        with gr.Tabs():
            with gr.Tab("Personas"):
                with gr.Row():
                    choices = studio.catalog.persona_choices(with_ids=True)
                    p_pick = gr.Dropdown(
                        choices,
                        value=choices[0][1] if choices else None,
                        label="Persona",
                        elem_id="p-pick",
                    )
                    p_version = gr.Dropdown(
                        [LATEST], value=LATEST, label="Version", elem_id="p-version"
                    )
                    p_load = gr.Button("Load", elem_id="p-load")
                with gr.Row():
                    p_new_id = gr.Textbox(label="New persona id", elem_id="p-new-id")
                    p_dup = gr.Button("Duplicate as new persona", elem_id="p-dup")
                p_editor = gr.Code(
                    language="yaml",
                    label="Persona YAML",
                    lines=24,
                    max_lines=30,
                    interactive=True,
                    elem_id="p-editor",
                )
                p_problems = gr.HTML(elem_id="p-problems")
                p_save = gr.Button("Save as new version", variant="primary", elem_id="p-save")
                p_saved = gr.HTML(elem_id="p-saved")
                gr.Markdown("### Test drive")
                with gr.Row():
                    engine = gr.Radio(
                        engines, value="scripted", label="Engine", elem_id="td-engine"
                    )
                    td_start = gr.Button("Start test drive", elem_id="td-start")
                td_chat = gr.Chatbot(
                    label="Test drive", render_markdown=False, height=320, elem_id="td-chat"
                )
                with gr.Row():
                    td_message = gr.Textbox(
                        show_label=False,
                        scale=5,
                        elem_id="td-message",
                        placeholder="Reply to the customer",
                    )
                    td_send = gr.Button("Send", scale=1, elem_id="td-send")
                td_trace = gr.Dataframe(
                    headers=TRACE_COLUMNS,
                    interactive=False,
                    elem_id="td-trace",
                    label="Mood and detected acts",
                )
                convo_state = gr.State(None)
            with gr.Tab("Rubrics"):
                with gr.Row():
                    r_pick = gr.Dropdown(
                        studio.catalog.rubric_choices(),
                        value="default",
                        label="Rubric",
                        elem_id="r-pick",
                    )
                    r_load = gr.Button("Load", elem_id="r-load")
                r_editor = gr.Code(
                    language="yaml",
                    label="Rubric YAML",
                    lines=24,
                    max_lines=30,
                    interactive=True,
                    elem_id="r-editor",
                )
                r_problems = gr.HTML(elem_id="r-problems")
                r_save = gr.Button("Save as new version", variant="primary", elem_id="r-save")
                r_saved = gr.HTML(elem_id="r-saved")

        # ---------------------------------------------------------------- personas
        def versions_choices(persona_id: str | None) -> list[str]:
            if not persona_id:
                return [LATEST]
            return [
                LATEST,
                *[
                    f"v{v.version} · {v.created_by} · {v.created_at:%Y-%m-%d %H:%M}"
                    for v in reversed(studio.persona_versions(persona_id))
                ],
            ]

        @guarded
        def on_load(persona_id: str | None, version: str) -> tuple[Any, ...]:
            if not persona_id:
                raise gr.Error("Choose a persona.")
            number = None if version == LATEST else int(version.split(" ")[0][1:])
            text = studio.persona_yaml(persona_id, number)
            _, checked = studio.check_persona(text, examples=True)
            return (
                text,
                _problems_markdown(checked),
                gr.update(choices=versions_choices(persona_id), value=version),
            )

        p_load.click(on_load, inputs=[p_pick, p_version], outputs=[p_editor, p_problems, p_version])
        p_pick.change(
            lambda pid: gr.update(choices=versions_choices(pid), value=LATEST),
            inputs=p_pick,
            outputs=p_version,
        )

        @guarded
        def on_duplicate(persona_id: str | None, new_id: str) -> tuple[Any, ...]:
            if not persona_id:
                raise gr.Error("Choose the persona to duplicate.")
            text = studio.duplicate(persona_id, new_id.strip())
            _, checked = studio.check_persona(text, examples=True)
            choices = [*studio.catalog.persona_choices(with_ids=True), (new_id.strip(),) * 2]
            return (
                text,
                _problems_markdown(checked),
                gr.update(choices=choices, value=new_id.strip()),
                f"<p>{html.escape(new_id.strip())} is a copy of {html.escape(persona_id)}, not "
                "saved yet: edit it, then press <i>Save as new version</i>.</p>",
            )

        p_dup.click(
            on_duplicate,
            inputs=[p_pick, p_new_id],
            outputs=[p_editor, p_problems, p_pick, p_saved],
        )
        p_editor.change(
            lambda text: _problems_markdown(studio.check_persona(text or "")[1]),
            inputs=p_editor,
            outputs=p_problems,
        )

        @guarded
        def on_save(text: str, request: gr.Request) -> tuple[Any, ...]:
            try:
                persona, version = studio.save_persona(text or "", current_user(request, accounts))
            except ValidationFailed as exc:
                checked = Checked(False, [str(p) for p in exc.problems])
                return "<p>Not saved.</p>", _problems_markdown(checked), gr.update(), gr.update()
            return (
                f"<p>Saved <b>{html.escape(persona.id)}</b> as version {version}.</p>",
                _problems_markdown(studio.check_persona(text or "", examples=True)[1]),
                gr.update(choices=studio.catalog.persona_choices(with_ids=True), value=persona.id),
                gr.update(choices=versions_choices(persona.id), value=LATEST),
            )

        p_save.click(on_save, inputs=p_editor, outputs=[p_saved, p_problems, p_pick, p_version])

        @guarded
        def on_drive(text: str, engine_name: str) -> tuple[Any, ...]:
            persona, checked = studio.check_persona(text or "")
            if persona is None:
                raise gr.Error("Fix the persona first: " + "; ".join(checked.problems[:2]))
            convo = studio.test_drive(persona, engine_name)
            return convo, _chat(convo), _trace(convo)

        td_start.click(
            on_drive, inputs=[p_editor, engine], outputs=[convo_state, td_chat, td_trace]
        )

        @guarded
        def on_drive_send(text: str, convo: TestDrive | None) -> tuple[Any, ...]:
            if convo is None:
                raise gr.Error("Start a test drive first.")
            if convo.ended:
                raise gr.Error(f"The test drive ended ({convo.outcome}); start another.")
            if not text.strip():
                return convo, gr.update(), gr.update(), ""
            convo.say(text)
            return convo, _chat(convo), _trace(convo), ""

        drive_args = {
            "inputs": [td_message, convo_state],
            "outputs": [convo_state, td_chat, td_trace, td_message],
        }
        td_send.click(on_drive_send, **drive_args)  # type: ignore[arg-type]
        td_message.submit(on_drive_send, **drive_args)  # type: ignore[arg-type]

        # ---------------------------------------------------------------- rubrics
        @guarded
        def on_rubric_load(rubric_id: str) -> tuple[str, str]:
            text = studio.rubric_yaml(rubric_id)
            _, checked = studio.check_rubric(text)
            return text, _problems_markdown(checked)

        r_load.click(on_rubric_load, inputs=r_pick, outputs=[r_editor, r_problems])
        r_editor.change(
            lambda text: _problems_markdown(studio.check_rubric(text or "")[1]),
            inputs=r_editor,
            outputs=r_problems,
        )

        @guarded
        def on_rubric_save(text: str, request: gr.Request) -> tuple[Any, ...]:
            rubric, checked = studio.check_rubric(text or "")
            if rubric is None:
                return "<p>Not saved.</p>", _problems_markdown(checked), gr.update()
            rubric, version = studio.save_rubric(text, current_user(request, accounts))
            return (
                f"<p>Saved rubric <b>{html.escape(rubric.name)}</b> ({html.escape(rubric.id)}) "
                f"as version {version}.</p>",
                _problems_markdown(Checked(True, [])),
                gr.update(choices=studio.catalog.rubric_choices(), value=rubric.id),
            )

        r_save.click(on_rubric_save, inputs=r_editor, outputs=[r_saved, r_problems, r_pick])

        # the editors open with what the pickers show, not empty until Load
        @guarded
        def on_open() -> tuple[Any, ...]:
            first = studio.catalog.persona_choices(with_ids=True)
            persona = on_load(first[0][1], LATEST) if first else ("", "", gr.update())
            return (*persona, *on_rubric_load("default"))

        page.load(on_open, outputs=[p_editor, p_problems, p_version, r_editor, r_problems])
    return page
