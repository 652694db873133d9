"""The candidate's page: briefing, policy card, the chat with a streaming customer, the end.

Handlers are thin: they call :class:`roleplay.services.candidates.CandidateService` and
turn its errors into messages on the page. Per-visitor state (invite token, session id) lives
in ``gr.State``.
Nothing the browser sends back is trusted: the chat shown is always rebuilt from the service,
only the typed text is read. Everything from candidates and personas is shown as plain text
(escaped HTML, never Markdown, so no link or remote image can be smuggled in).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import gradio as gr

from grading.report import GradeReport, to_feedback_html
from roleplay.core.actors import Delta, Retract
from roleplay.core.conversation import TimeUp
from roleplay.core.persona import card_items
from roleplay.core.transcript import Turn
from roleplay.errors import BackendError, RoleplayError
from roleplay.faces.web.chrome import Chrome, chrome
from roleplay.faces.web.handlers import guarded, user_message
from roleplay.services.candidates import MAX_MESSAGE_CHARS, CandidateService, CandidateView

Message = dict[str, str]
#: Candidates talking at once, per server process.
CONCURRENCY = 64


def _show(text: str) -> str:
    """Chat text is shown literally: escaped, then rendered without markdown."""
    return html.escape(text)


def _history(turns: list[Turn]) -> list[Message]:
    return [
        {"role": "assistant" if t.speaker == "customer" else "user", "content": _show(t.text)}
        for t in turns
    ]


def _words(view: CandidateView) -> Chrome:
    return chrome(view.persona.language)


def _briefing(view: CandidateView) -> str:
    """The heading names the channel (the conversation is always typed here), the mode, the
    candidate and the time limit, in the persona's language."""
    p, c = view.persona, _words(view)
    e = html.escape
    who = view.invite.candidate_name
    name = c.for_name.format(name=e(who)) if who else ""
    mode = c.practice if view.invite.mode == "practice" else c.assessment
    minutes = view.invite.time_limit_minutes
    limit = (
        (c.minutes_one if minutes == 1 else c.minutes_many).format(n=f"{minutes:g}")
        if minutes
        else ""
    )
    return (
        f"<h2>{e(p.briefing.company)}: {e(c.channel[p.briefing.channel])}</h2>"
        f"<p><b>{e(mode)}{name}.</b> {e(p.briefing.candidate_brief)}{e(limit)}</p>"
    )


def _card(text: str) -> str:
    """The policy card as a numbered list, one item per line whatever the file's line
    wrapping (escaped)."""
    items = card_items(text)
    rows = "".join(f'<li value="{n}">{html.escape(item)}</li>' for n, item in sorted(items.items()))
    return f'<ol class="policy-card">{rows}</ol>'


def _report_html(report: dict[str, Any]) -> str:
    return to_feedback_html(GradeReport.model_validate(report))


def build(service: CandidateService) -> gr.Blocks:
    page = gr.Blocks(title="Roleplay Evaluator: candidate")
    with page:
        # Gradio's chat always has a trash button; emptying the view would lose nothing (the
        # transcript is stored) but it looks as if it did, and the next reply brings it back.
        gr.HTML(
            "<style>#chat button[aria-label='Clear']{display:none!important}</style>",
            padding=False,
        )
        token = gr.State(None)
        session_id = gr.State(None)
        lang = gr.State("en")  # the persona's language: the page's own words follow it
        briefing = gr.HTML("Loading…", elem_id="briefing")
        # The time left, counted in the browser from the deadline the server sets; at zero it
        # asks the server to end the conversation (the server checks the time itself).
        countdown = gr.HTML(
            "",
            html_template="<p class='countdown' data-deadline='${value}'></p>",
            js_on_load=COUNTDOWN_JS,
            elem_id="countdown",
            padding=False,
        )
        with gr.Accordion("Policy card", open=True, visible=False) as policy_box:
            policy = gr.HTML(elem_id="policy-card")
        start_btn = gr.Button(
            "Start the conversation", variant="primary", visible=False, elem_id="start"
        )
        # No share or copy-all buttons: a candidate's conversation is not theirs to publish.
        chat = gr.Chatbot(
            label="Conversation",
            visible=False,
            elem_id="chat",
            render_markdown=False,
            height=420,
            buttons=["copy"],
        )
        with gr.Row(visible=False) as composer:
            message = gr.Textbox(
                show_label=False,
                placeholder="Type your reply to the customer",
                scale=5,
                elem_id="message",
                autofocus=True,
                max_length=MAX_MESSAGE_CHARS,
            )
            send_btn = gr.Button("Send", variant="primary", scale=1, elem_id="send")
        with gr.Row():
            retry_btn = gr.Button("Retry the customer's reply", visible=False, elem_id="retry")
            end_btn = gr.Button("End conversation", variant="stop", visible=False, elem_id="end")
        # Ending is for good: asked once more, in the page (no browser dialog).
        with gr.Row(visible=False, elem_id="end-confirm") as end_confirm:
            end_question = gr.HTML("", elem_id="end-question")
            end_yes = gr.Button("Yes, end it", variant="stop", elem_id="end-yes")
            end_no = gr.Button("Keep talking", elem_id="end-no")
        status = gr.HTML("", elem_id="status")
        result = gr.HTML("", elem_id="result")
        poll = gr.Timer(1.0, active=False)

        def layout(view: CandidateView) -> tuple[Any, ...]:
            active = view.session is not None and view.session.status == "active"
            ended = view.session is not None and view.session.status == "ended"
            c = _words(view)
            note = ""
            if ended:
                note = _ending_note(view)
            elif not view.can_start and view.session is None:
                note = html.escape(c.no_attempts)
            return (
                _countdown(view),
                _briefing(view),
                gr.update(visible=True, label=c.policy_card),
                _card(view.persona.briefing.policy_card),
                gr.update(visible=view.can_start, value=c.start),
                gr.update(
                    visible=bool(view.turns) or active,
                    value=_history(view.turns),
                    label=c.conversation,
                ),
                gr.update(visible=active),
                gr.update(visible=active, value=c.end),
                note,
                gr.update(active=ended and view.invite.mode == "practice"),
                view.persona.language,
                gr.update(placeholder=c.placeholder),
                gr.update(value=c.send),
                gr.update(value=c.retry),
                gr.update(value=c.end_yes),
                gr.update(value=c.end_no),
            )

        layout_outputs = [
            countdown,
            briefing,
            policy_box,
            policy,
            start_btn,
            chat,
            composer,
            end_btn,
            status,
            poll,
            lang,
            message,
            send_btn,
            retry_btn,
            end_yes,
            end_no,
        ]

        @guarded
        def on_load(request: gr.Request) -> tuple[Any, ...]:
            tok = request.query_params.get("token")
            try:
                view = service.view(tok)
            except RoleplayError as exc:
                return (
                    tok,
                    None,
                    gr.update(),
                    f"<h2>{html.escape(exc.message)}</h2><p>{html.escape(exc.hint or '')}</p>",
                    *[gr.update()] * (len(layout_outputs) - 2),
                )
            sid = view.session.id if view.session else None
            return (tok, sid, *layout(view))

        page.load(on_load, outputs=[token, session_id, *layout_outputs], api_name="open")

        @guarded
        def on_start(tok: str | None) -> tuple[Any, ...]:
            try:
                info, _ = service.start(tok)
            except BackendError as exc:
                view = service.view(tok)
                sid = view.session.id if view.session else None
                shown = list(layout(view))
                shown[layout_outputs.index(status)] = _backend_note(exc, _words(view))
                shown[layout_outputs.index(poll)] = gr.update()
                return (sid, *shown, gr.update(visible=True))
            return (info.id, *layout(service.view(tok)), gr.update(visible=False))

        start_btn.click(
            on_start,
            inputs=token,
            outputs=[session_id, *layout_outputs, retry_btn],
            api_name="start",
        )

        @guarded
        def on_send(text: str, tok: str | None, sid: int | None) -> Iterator[tuple[Any, ...]]:
            if sid is None or not text.strip():
                yield (gr.update(),) * 7
                return
            service.check_message(text)  # before the text leaves the box
            events = service.send(tok, sid, text)
            yield from _stream(events, tok, sid, typed=text)

        @guarded
        def on_retry(tok: str | None, sid: int | None) -> Iterator[tuple[Any, ...]]:
            if sid is None:
                return
            yield from _stream(service.retry(tok, sid), tok, sid)

        def _stream(
            events: Iterator[Any], tok: str | None, sid: int, typed: str = ""
        ) -> Iterator[tuple[Any, ...]]:
            history = _history(service.history(tok, sid))
            if typed:  # shown at once, as it will be stored
                history.append({"role": "user", "content": _show(typed.strip())})
                yield history, "", "", gr.update(), gr.update(), gr.update(), gr.update()
            reply = ""
            try:
                for event in events:
                    if isinstance(event, Delta):
                        reply += event.text
                    elif isinstance(event, Retract):
                        reply = ""
                    else:
                        continue
                    yield (
                        [*history, {"role": "assistant", "content": _show(reply)}],
                        gr.update(),
                        "",
                        gr.update(visible=False),
                        gr.update(),
                        gr.update(),
                        gr.update(),
                    )
            except BackendError as exc:
                yield (
                    _history(service.history(tok, sid)),
                    gr.update(),
                    _backend_note(exc, _words(service.view(tok))),
                    gr.update(visible=True),
                    gr.update(),
                    gr.update(),
                    gr.update(),
                )
                return
            except TimeUp as exc:
                view = service.view(tok)
                yield (
                    _history(view.turns),
                    gr.update(),
                    _ending_note(view) + f"<p>{html.escape(user_message(exc))}</p>",
                    gr.update(visible=False),
                    gr.update(visible=False),
                    gr.update(visible=False),
                    gr.update(active=view.invite.mode == "practice"),
                )
                return
            view = service.view(tok)
            ended = view.session is not None and view.session.status == "ended"
            yield (
                _history(view.turns),
                gr.update(),
                _ending_note(view) if ended else "",
                gr.update(visible=False),
                gr.update(visible=not ended),
                gr.update(visible=not ended),
                gr.update(active=ended and view.invite.mode == "practice"),
            )

        stream_outputs = [chat, message, status, retry_btn, composer, end_btn, poll]
        send_args = {"inputs": [message, token, session_id], "outputs": stream_outputs}
        send_btn.click(on_send, api_name="send", **send_args)  # type: ignore[arg-type]
        message.submit(on_send, api_name=False, **send_args)  # type: ignore[arg-type]
        retry_btn.click(
            on_retry, inputs=[token, session_id], outputs=stream_outputs, api_name="retry"
        )

        @guarded
        def on_end_asked(tok: str | None) -> tuple[Any, ...]:
            view = service.view(tok)
            return gr.update(visible=True), _end_question(view), gr.update(visible=False)

        end_btn.click(
            on_end_asked,
            inputs=[token],
            outputs=[end_confirm, end_question, end_btn],
            api_name=False,  # type: ignore[arg-type]
        )
        end_no.click(
            lambda: (gr.update(visible=False), gr.update(visible=True)),
            outputs=[end_confirm, end_btn],
            api_name=False,  # type: ignore[arg-type]
        )

        @guarded
        def on_end(tok: str | None, sid: int | None) -> tuple[Any, ...]:
            if sid is None:
                return (gr.update(),) * 7
            service.end(tok, sid)
            view = service.view(tok)
            return (
                _ending_note(view),
                gr.update(visible=False),
                gr.update(visible=False),
                gr.update(visible=False),
                gr.update(visible=False),
                gr.update(visible=view.can_start),
                gr.update(active=view.invite.mode == "practice"),
            )

        end_yes.click(
            on_end,
            inputs=[token, session_id],
            outputs=[status, composer, end_btn, retry_btn, end_confirm, start_btn, poll],
            api_name="end",
        )

        @guarded
        def on_poll(tok: str | None, sid: int | None, language: str) -> tuple[Any, ...]:
            if sid is None:
                return "", gr.update(active=False)
            c = chrome(language)
            state, report = service.result(tok, sid)
            if state == "done" and report is not None:
                return _report_html(report), gr.update(active=False)
            if state == "failed":
                return html.escape(c.grading_failed), gr.update(active=False)
            return html.escape(c.grading), gr.update(active=True)

        poll.tick(on_poll, inputs=[token, session_id, lang], outputs=[result, poll])

        @guarded
        def on_time_up(tok: str | None) -> tuple[Any, ...]:
            return layout(service.view(tok))  # the view ends a conversation past its time

        countdown.submit(on_time_up, inputs=token, outputs=layout_outputs, api_name="time_up")
    return page


#: Runs once in the browser: every second, the time left until the deadline in the element,
#: while the conversation is open; at zero, "Time is up." and one submit event.
COUNTDOWN_JS = """
const tick = () => {
  const box = element.querySelector('[data-deadline]');
  const composer = document.querySelector('#message textarea');
  const [deadline, leftWords, upWords] = box ? box.dataset.deadline.split('|') : [''];
  const end = Date.parse(deadline);
  if (!box || isNaN(end) || !composer || composer.offsetParent === null) {
    if (box) box.textContent = '';
    return;
  }
  const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
  box.textContent = left > 0
    ? leftWords + ' ' + Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0')
    : upWords;
  if (left === 0 && box.dataset.fired !== box.dataset.deadline) {
    box.dataset.fired = box.dataset.deadline;
    trigger('submit');
  }
};
setInterval(tick, 1000);
tick();
"""


def _countdown(view: CandidateView) -> str:
    """``deadline|time-left words|time-up words`` for the countdown: when the open
    conversation's time runs out (ISO 8601), or "" without a limit."""
    limit = view.persona.limits.time_limit_minutes
    if view.session is None or view.session.status != "active" or not limit:
        return ""
    c = _words(view)
    deadline = (view.session.started_at + timedelta(minutes=limit)).isoformat()
    return "|".join([deadline, c.time_left.replace("|", " "), c.time_up.replace("|", " ")])


def _end_question(view: CandidateView) -> str:
    c = _words(view)
    if view.invite.mode == "assessment":
        return c.end_question_assessment_html
    return c.end_question_practice_html


def _attempts_note(view: CandidateView) -> str:
    if not view.can_start:
        return ""
    c, n = _words(view), view.attempts_left
    template = c.attempts_one_html if n == 1 else c.attempts_many_html
    return template.format(n=n, start=html.escape(c.start))


def _ending_note(view: CandidateView) -> str:
    c = _words(view)
    outcome = view.session.outcome if view.session else None
    if view.invite.mode == "assessment":
        return c.complete_html + _attempts_note(view)
    said = html.escape(c.outcomes.get(outcome or "", ""))
    return f"<h3>{html.escape(c.ended)}</h3><p>{said}</p>" + _attempts_note(view)


def _backend_note(exc: BackendError, c: Chrome) -> str:
    return c.backend_html.format(message=html.escape(exc.message), retry=html.escape(c.retry))
