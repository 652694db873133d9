"""The candidate's side in Debian's Chromium, driven by Playwright against a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roleplay.config import Settings
from roleplay.storage.store import Store
from tests import scripts
from tests.web_helpers import Server, open_invite, say, shot


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "home").start()
    yield srv
    srv.stop()


def graded(server: Server, timeout: float = 30.0) -> None:
    """Wait until every finished session of the server is graded."""
    store = Store.from_settings(Settings.from_env({"ROLEPLAY_HOME": str(server.home)}))
    try:
        deadline = time.monotonic() + timeout
        while store.pending_grades():
            assert time.monotonic() < deadline, "the grade never finished"
            time.sleep(0.1)
    finally:
        store.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    outside: list[str] = []
    dialogs: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url) if not r.url.startswith((server.url, "data:", "blob:")) else None
        ),
    )
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield page
    assert not dialogs, f"a script ran in the page: {dialogs}"
    assert not outside, f"requests left the machine: {outside[:5]}"
    context.close()


def test_health(server: Server) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/healthz") as response:
        assert response.status == 200


def test_practice_candidate_resolves_and_sees_the_grade(page: Any, server: Server) -> None:
    open_invite(page, server.invite("practice", candidate="Ann"))
    assert page.inner_text("#briefing h2") == "Brightline Electronics: a customer chat"
    page.click("#start")
    page.wait_for_selector('#chat [data-testid="bot"]')
    for message in scripts.GOOD:
        say(page, message)
    page.wait_for_selector("#status:has-text('Conversation ended')")
    assert "resolved" in page.inner_text("#status")
    # the candidate cannot share or bulk-copy the conversation out of the page
    labels = [
        b.get_attribute("aria-label") or "" for b in page.locator("#chat button.icon-button").all()
    ]
    assert "" not in labels, labels  # Gradio's share button is the one without a label
    assert "Copy conversation" not in labels, labels
    page.wait_for_selector("#result:has-text('Your result')", timeout=30000)
    result = page.inner_text("#result")
    assert "passed" in result and "Calmness" in result
    shot(page, "practice-graded")


def test_assessment_shows_no_grade_and_cannot_start_again(page: Any, server: Server) -> None:
    url = server.invite("assessment", attempts=3, time_limit=1)
    open_invite(page, url)
    assert "You have 1 minute." in page.inner_text("#briefing")
    page.click("#start")
    page.wait_for_selector('#chat [data-testid="bot"]')
    say(page, scripts.GOOD[0])
    # ending is asked once more, and can be taken back
    page.click("#end")
    page.wait_for_selector("#end-question:has-text('End the assessment?')")
    page.click("#end-no")
    page.wait_for_selector("#end", state="visible")
    assert page.locator("#message textarea").is_visible()
    page.click("#end")
    page.click("#end-yes")
    page.wait_for_selector("#status:has-text('The session is complete')")
    graded(server)  # the grade is stored, but must never be shown
    assert "Your result" not in page.inner_text("body")
    shot(page, "assessment-complete")
    page.reload()
    page.wait_for_selector("#status:has-text('The session is complete')")
    assert not page.locator("#start").is_visible()
    assert not page.locator("#message").is_visible()
    assert "Your result" not in page.inner_text("body")


def test_a_practice_candidate_with_attempts_left_is_told_and_can_start_again(
    page: Any, server: Server
) -> None:
    open_invite(page, server.invite("practice", attempts=2))
    page.click("#start")
    page.wait_for_selector('#chat [data-testid="bot"]')
    # the chat has no trash button that would seem to wipe the conversation
    trash = page.locator("#chat button[aria-label='Clear']")
    assert trash.count() >= 1 and not any(b.is_visible() for b in trash.all())
    say(page, scripts.GOOD[0])
    page.click("#end")
    page.wait_for_selector("#end-question:has-text('End the conversation?')")
    page.click("#end-yes")
    page.wait_for_selector("#status:has-text('You have 1 more attempt with this link')")
    page.click("#start")
    page.wait_for_function("document.querySelectorAll('#chat [data-testid=\"bot\"]').length === 1")
    assert page.locator("#message textarea").is_visible()
    assert scripts.GOOD[0] not in page.inner_text("#chat")  # a new conversation
    page.reload()
    page.wait_for_selector('#chat [data-testid="bot"]')
    assert not page.locator("#start").is_visible()  # no attempt left once this one started


def test_the_time_left_counts_down_and_time_up_ends_the_conversation(
    page: Any, server: Server
) -> None:
    open_invite(page, server.invite("practice", time_limit=0.1))  # six seconds
    page.click("#start")
    page.wait_for_selector('#chat [data-testid="bot"]')
    page.wait_for_selector("#countdown:has-text('Time left: 0:0')")
    # nothing typed: the page itself ends it when the time is up, and says so
    page.wait_for_selector("#status:has-text('The time limit was reached')", timeout=20000)
    assert not page.locator("#message textarea").is_visible()
    assert "Time left" not in page.inner_text("#countdown")
    page.reload()
    page.wait_for_selector("#status:has-text('The time limit was reached')")


def test_the_page_speaks_the_language_of_a_norwegian_customer(page: Any, server: Server) -> None:
    """Around a Norwegian customer the page's own words are Norwegian too: buttons, the
    policy card (open from the start, one item per line), the countdown, the end question
    and the note after ending."""
    link = server.cli(
        "invite", "--persona", "forsinket-pakke", "--mode", "practice", "--attempts", "2",
        "--time-limit", "5", "--base-url", server.url,
    )  # fmt: skip
    open_invite(page, link)
    page.wait_for_selector("#start:has-text('Start samtalen')")
    assert "Øving." in page.inner_text("#briefing")
    assert "Du har 5 minutter." in page.inner_text("#briefing")
    assert page.get_by_text("Retningslinjer").is_visible()
    card = page.locator("#policy-card li")
    assert card.count() == 4 and card.first.is_visible()  # open, one numbered item per line
    page.click("#start")
    page.wait_for_selector('#chat [data-testid="bot"]')
    assert page.get_attribute("#message textarea", "placeholder") == "Skriv svaret ditt til kunden"
    page.wait_for_selector("#countdown:has-text('Tid igjen: 4:')")
    assert page.inner_text("#send").strip() == "Send"
    page.click("#end")
    page.wait_for_selector("#end-question:has-text('Avslutte samtalen?')")
    page.click("#end-yes")
    page.wait_for_selector("#status:has-text('Samtalen er avsluttet')")
    assert "Du har 1 forsøk til med denne lenken" in page.inner_text("#status")
    shot(page, "candidate-norwegian")


def test_reload_mid_conversation_keeps_every_turn(page: Any, server: Server) -> None:
    open_invite(page, server.invite("practice"))
    page.click("#start")
    page.wait_for_selector('#chat [data-testid="bot"]')
    for message in scripts.GOOD[:2]:
        say(page, message)
    before = page.inner_text("#chat")
    page.reload()
    page.wait_for_selector('#chat [data-testid="bot"]')
    after = page.inner_text("#chat")
    assert after == before
    assert "photos of the cracked screen" in after
    for message in scripts.GOOD[2:]:  # and the conversation carries on
        say(page, message)
    page.wait_for_selector("#status:has-text('resolved')")
    shot(page, "reload-resumed")


def test_candidate_text_is_shown_as_text(page: Any, server: Server) -> None:
    name = "<img src=x onerror=alert(2)> [win a prize](http://evil.example/) ![](http://evil.example/p.png)"
    open_invite(page, server.invite("practice", candidate=name))
    assert name in page.inner_text("#briefing")
    # no link or image was made from it (and the page fixture fails on any remote fetch)
    assert page.locator("#briefing a, #briefing img").count() == 0
    page.click("#start")
    page.wait_for_selector('#chat [data-testid="bot"]')
    payload = "Hello <script>alert(1)</script> <b>bold</b>"
    say(page, payload)
    assert payload in page.inner_text("#chat")
    assert page.locator("#chat b").count() == 0
    shot(page, "escaped-input")


def test_bad_or_guessed_tokens_open_nothing(page: Any, server: Server) -> None:
    real = server.invite("practice")
    for url in (real[:-3] + "abc", server.url + "/candidate/?token=", server.url + "/candidate/"):
        open_invite(page, url)
        assert "not valid" in page.inner_text("#briefing")
        assert not page.locator("#start").is_visible()


def test_candidate_cannot_reach_reviewer_pages(page: Any, server: Server) -> None:
    import urllib.error
    import urllib.request

    page.goto(server.url + "/reviewer/")
    page.wait_for_selector("#signin")
    assert page.url.startswith(server.url + "/login")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.url + "/reviewer/gradio_api/heartbeat/abc")
    assert info.value.code == 401
    # a trainer is signed in but still not a reviewer
    server.cli(
        "users", "add", "tess", "--role", "trainer", "--password-stdin", stdin="trainer-pass\n"
    )
    page.goto(server.url + "/login")
    page.fill("#name", "tess")
    page.fill("#password", "trainer-pass")
    page.click("#signin")
    response = page.goto(server.url + "/reviewer/")
    assert response is not None and response.status == 403
    shot(page, "trainer-forbidden")


def test_reviewer_signs_in_and_sees_the_session(page: Any, server: Server) -> None:
    server.cli(
        "users", "add", "rita", "--role", "reviewer", "--password-stdin", stdin="reviewer-pass\n"
    )
    open_invite(page, server.invite("practice", candidate="Ann"))
    page.click("#start")
    page.wait_for_selector('#chat [data-testid="bot"]')
    page.goto(server.url + "/login")
    page.fill("#name", "rita")
    page.fill("#password", "wrong")
    page.click("#signin")
    assert "Wrong name or password" in page.inner_text("body")
    page.fill("#name", "rita")
    page.fill("#password", "reviewer-pass")
    page.click("#signin")
    page.wait_for_selector("#sessions")
    page.wait_for_selector("#sessions:has-text('Ann')")
    shot(page, "reviewer-sessions")


def test_llm_backend_failure_is_shown_and_the_candidate_can_retry(
    browser: Any, tmp_path: Path
) -> None:
    from roleplay.testing import FakeChatServer, FakeReply

    with FakeChatServer() as llm:
        server = Server(
            tmp_path / "home",
            extra_env={
                "ROLEPLAY_LLM_BASE_URL": llm.url,
                "ROLEPLAY_PERSONA_MODEL": "fake-customer",
                "ROLEPLAY_LLM_MAX_RETRIES": "0",
            },
        ).start()
        context = browser.new_context()
        page = context.new_page()
        try:
            llm.enqueue(
                "Hi. My laptop arrived with a cracked screen. Order A1042.", FakeReply(status=503)
            )
            open_invite(page, server.invite("practice"))
            page.click("#start")
            page.wait_for_selector('#chat [data-testid="bot"]')
            say(page, "Hello Dana, I'm so sorry about that.", expect_reply=False)
            page.wait_for_selector("#status:has-text('The customer could not reply')")
            assert "Your message is saved" in page.inner_text("#status")
            assert "Hello Dana, I'm so sorry about that." in page.inner_text("#chat")
            shot(page, "backend-failure")
            llm.enqueue("Fine. So what are you going to do?")
            page.click("#retry")
            page.wait_for_selector('#chat [data-testid="bot"]:has-text("So what are you")')
            page.reload()  # and it was all stored
            page.wait_for_selector('#chat [data-testid="bot"]:has-text("So what are you")')
            assert "Hello Dana, I'm so sorry about that." in page.inner_text("#chat")
        finally:
            context.close()
            server.stop()
