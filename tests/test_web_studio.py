"""The trainer's studio in Debian's Chromium against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roleplay.core.library import builtin_dir
from tests.web_helpers import Server, shot, sign_in

LAPTOP = (builtin_dir() / "damaged-laptop.yaml").read_text(encoding="utf-8")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "home").start()
    srv.cli("users", "add", "tess", "--role", "trainer", "--password-stdin", stdin="trainer-pass\n")
    srv.cli(
        "users", "add", "rita", "--role", "reviewer", "--password-stdin", stdin="reviewer-pass\n"
    )
    yield srv
    srv.stop()


def set_editor(page: Any, text: str) -> None:
    page.click("#p-editor .cm-content")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def test_trainer_breaks_fixes_test_drives_and_saves_a_persona(browser: Any, server: Server) -> None:
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        sign_in(page, server, "tess", "trainer-pass")
        page.wait_for_selector("#p-pick")
        # the editor opens with the persona the picker shows (no Load needed), checked
        page.wait_for_selector("#p-problems:has-text('✓ Valid.')")
        shown = page.input_value("#p-pick input")  # "Company: customer (id)"
        assert shown.endswith(")") and ": " in shown
        assert f"id: {shown.rsplit('(', 1)[1].rstrip(')')}" in page.inner_text("#p-editor")
        # a syntax error names the line where the mistake is, in plain words
        set_editor(page, "id: x\nname: [a, b\nlevel: 3\n")
        page.wait_for_selector("#p-problems:has-text('YAML syntax error')")
        problems = page.inner_text("#p-problems")
        assert "persona.yaml:line 2:" in problems and "expected ','" in problems
        assert "&#x27;" not in problems
        # the rubrics tab offers every rubric by name
        page.get_by_role("tab", name="Rubrics", exact=True).click()
        page.click("#r-pick input")
        page.get_by_role("option", name="Chat and email desk").click()
        page.click("#r-load")
        page.wait_for_function(
            "document.querySelector('#r-editor').innerText.includes('id: chat-email')"
        )
        page.get_by_role("tab", name="Personas", exact=True).click()
        page.click("#p-pick input")
        page.get_by_role(
            "option", name="Brightline Electronics: Dana Whitfield (damaged-laptop)"
        ).click()
        page.click("#p-load")
        page.wait_for_selector("#p-problems:has-text('Valid')")
        # break it: the same message as `roleplay personas validate`
        broken = LAPTOP.replace("difficulty: 3", "difficulty: 9").replace(
            "A customer is writing in about a recent order.",
            "A customer is writing in. <script>alert(1)</script>",
        )
        set_editor(page, broken)
        page.wait_for_selector("#p-problems:has-text('must be at most 5')")
        assert "persona.yaml:difficulty: must be at most 5, got 9" in page.inner_text("#p-problems")
        page.click("#p-save")
        page.wait_for_selector("#p-saved:has-text('Not saved')")
        shot(page, "studio-invalid")
        # fix it
        set_editor(page, broken.replace("difficulty: 9", "difficulty: 4"))
        page.wait_for_selector("#p-problems:has-text('Valid')")
        # test-drive the edited persona: mood and detected acts per turn
        page.click("#td-start")
        page.wait_for_selector('#td-chat [data-testid="bot"]')
        page.fill("#td-message textarea", "Could you send me a photo of the damage?")
        page.click("#td-send")
        page.wait_for_selector("#td-trace:has-text('ask_fact(photos)')")
        trace = page.inner_text("#td-trace")
        assert "photos" in trace and "→" in trace
        shot(page, "studio-test-drive")
        # save a new version
        page.click("#p-save")
        page.wait_for_selector("#p-saved:has-text('as version 1')")
        page.click("#p-version input")
        assert page.get_by_role("option", name="v1 · tess", exact=False).count() == 1
        page.keyboard.press("Escape")
        shot(page, "studio-saved")
        # candidates now face the saved version, its markup shown as text
        page.goto(server.invite("practice"))
        page.wait_for_selector("#briefing h2")
        assert "<script>alert(1)</script>" in page.inner_text("#briefing")
        assert page.locator("#briefing script").count() == 0
        assert not dialogs
    finally:
        context.close()


def test_roles_cannot_reach_what_they_must_not(browser: Any, server: Server) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(server.url + "/studio/")  # a candidate, signed out
        page.wait_for_selector("#signin")
        sign_in(page, server, "rita", "reviewer-pass")
        response = page.goto(server.url + "/studio/")
        assert response is not None and response.status == 403
        page.goto(server.url + "/logout")
        sign_in(page, server, "tess", "trainer-pass")
        response = page.goto(server.url + "/reviewer/")
        assert response is not None and response.status == 403
        response = page.goto(server.url + "/studio/")
        assert response is not None and response.status == 200
    finally:
        context.close()


def test_admin_manages_users_and_others_cannot(browser: Any, server: Server) -> None:
    server.cli("users", "add", "ada", "--role", "admin", "--password-stdin", stdin="admin-pass-1\n")
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, server, "ada", "admin-pass-1")
        page.wait_for_selector("#users:has-text('tess')")
        page.fill("#u-name input, #u-name textarea", "newbie")
        page.fill("#u-password input", "newbie-pass")
        page.click("#u-add")
        page.wait_for_selector("text=too easy to guess")
        assert "newbie" not in page.inner_text("#users")
        page.fill("#u-password input", "Newbie starts on the Monday shift")
        page.click("#u-add")
        page.wait_for_selector("#users:has-text('newbie')")
        page.wait_for_selector("#u-status:has-text('Added newbie as a reviewer.')")
        # a new role and a new password, each confirmed on the page
        page.click("#u-role input")
        page.get_by_role("option", name="trainer").click()
        page.click("#u-set-role")
        page.wait_for_selector("#u-status:has-text('newbie is now a trainer.')")
        assert "newbie\ttrainer" in server.cli("users", "list")
        page.fill("#u-password input", "A fresh start on the Tuesday shift")
        page.click("#u-set-password")
        page.wait_for_selector("#u-status:has-text('newbie has a new password')")
        assert page.input_value("#u-password input") == ""
        # removing is asked once more, and can be taken back
        page.fill("#u-name input, #u-name textarea", "tess")
        page.click("#u-remove")
        page.wait_for_selector("#u-question:has-text('Remove the account tess?')")
        page.click("#u-remove-no")
        page.wait_for_selector("#u-question", state="hidden")
        assert "tess" in page.inner_text("#users")
        page.click("#u-remove")
        page.click("#u-remove-yes")
        page.wait_for_function("!document.querySelector('#users').innerText.includes('tess')")
        page.wait_for_selector("#u-status:has-text('Removed tess.')")
        shot(page, "admin-users")
        page.click("#signout")  # signs out in place and lands on the login page
        page.wait_for_selector("#signin")
        assert page.url.startswith(server.url + "/login")
        response = page.goto(server.url + "/admin/")
        assert response is not None and page.url.startswith(server.url + "/login")
        # the browser keeps nothing of what was typed (no run history in its storage)
        assert page.evaluate("Object.keys(window.localStorage).length") == 0
        sign_in(page, server, "rita", "reviewer-pass")
        response = page.goto(server.url + "/admin/")
        assert response is not None and response.status == 403
    finally:
        context.close()
