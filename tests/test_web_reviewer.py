"""The reviewer's dashboard in Debian's Chromium against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roleplay.config import Settings
from roleplay.core.library import PersonaLibrary
from roleplay.services.candidates import CandidateService
from roleplay.storage.store import Store
from tests import scripts
from tests.scripts import talk
from tests.web_helpers import Server, shot, sign_in

XSS = "<script>alert(1)</script>"


@pytest.fixture
def server(tmp_path: Path, library: PersonaLibrary) -> Iterator[Server]:
    srv = Server(tmp_path / "home").start()
    store = Store.open(f"sqlite:///{srv.home / 'roleplay.db'}")
    svc = CandidateService(store, Settings.from_env({"ROLEPLAY_HOME": str(srv.home)}), library)
    for name, script in [
        ("Ann", scripts.GOOD),
        ("<b>Rob</b>", [f"Calm down. {XSS} You probably dropped it.", *scripts.RUDE]),
    ]:
        token = store.create_invite("damaged-laptop", "assessment", candidate_name=name)
        info, _ = svc.start(token)
        talk(svc, token, info.id, script)
    svc.wait_for_grading()
    svc.close()
    store.close()
    srv.cli(
        "users", "add", "rita", "--role", "reviewer", "--password-stdin", stdin="reviewer-pass\n"
    )
    yield srv
    srv.stop()


def test_reviewer_filters_opens_follows_evidence_overrides_and_exports(
    browser: Any, server: Server
) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        sign_in(page, server, "rita", "reviewer-pass")
        page.wait_for_selector("#sessions:has-text('Ann')")
        # filter to the failed session
        page.click("#f-passed input")
        page.get_by_role("option", name="failed").click()
        page.click("#apply")
        page.wait_for_function(
            "!document.querySelector('#sessions').innerText.includes('Ann')", timeout=15000
        )
        sessions = page.inner_text("#sessions")
        assert "<b>Rob</b>" in sessions  # shown as text
        shot(page, "reviewer-filtered")
        # open it
        page.get_by_role("tab", name="Session", exact=True).click()
        page.fill("#pick input", "2")
        page.click("#open")
        page.wait_for_selector("#detail .transcript")
        detail = page.inner_text("#detail")
        assert XSS in detail and "not passed" in detail
        assert page.locator("#detail script").count() == 0
        assert page.locator("#detail .cited").count() >= 1
        # follow an evidence link to its turn
        link = page.locator("#detail a.evidence").first
        target = link.get_attribute("href")
        assert target is not None and target.startswith("#turn-")
        link.click()
        turn = page.locator(f"#detail {target}")
        assert "cited" in (turn.get_attribute("class") or "")
        assert turn.is_visible() and page.url.endswith(target)
        overall_before = page.inner_text("#overall")
        # override calmness with a note
        page.click("#o-criterion input")
        page.get_by_role("option", name="Calmness").click()  # names, not ids
        page.click("#o-score input")
        page.get_by_role("option", name="4", exact=True).click()
        note = "Customer provoked it <img src=x onerror=alert(3)>"
        page.fill("#o-note textarea", note)
        page.click("#override")
        page.wait_for_selector("#audit")
        audit = page.inner_text("#audit")
        assert "rita changed calmness" in audit and "to 4" in audit and note in audit
        assert page.inner_text("#overall") != overall_before
        # the criterion chosen stays chosen for the next override
        assert page.input_value("#o-criterion input") == "Calmness"
        shot(page, "reviewer-override")
        # export the filtered sessions as CSV
        page.get_by_role("tab", name="Sessions", exact=True).click()
        with page.expect_download() as info:
            page.click("#export-csv")
        csv_text = Path(info.value.path()).read_text()
        assert csv_text.splitlines()[0].startswith("id,candidate,persona")
        assert "<b>Rob</b>" in csv_text and "Ann" not in csv_text
        assert not dialogs
    finally:
        context.close()


def test_compare_and_invite_from_the_dashboard(browser: Any, server: Server) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, server, "rita", "reviewer-pass")
        page.wait_for_selector("#sessions:has-text('Ann')")
        page.get_by_role("tab", name="Compare", exact=True).click()
        page.fill("#c-ids textarea, #c-ids input", "1, 2")
        page.click("#compare")
        page.wait_for_selector("#compare-table:has-text('overall')")
        table = page.inner_text("#compare-table")
        assert "Ann (#1)" in table and "Calmness" in table
        page.get_by_role("tab", name="Invite", exact=True).click()
        page.click("#i-persona input")
        page.get_by_role("option", name="Northwind Air: Marcus Bell").click()  # not an id
        page.fill("#i-candidate textarea, #i-candidate input", "Zoe")
        page.click("#i-rubric input")
        page.get_by_role("option", name="Chat and email desk").click()
        page.click("#i-create")
        page.wait_for_function(
            "document.querySelector('#i-link textarea, #i-link input').value.includes('token=')"
        )
        link = page.input_value("#i-link textarea, #i-link input")
        page.goto(link)
        page.wait_for_selector("#briefing h2")
        assert "Northwind Air" in page.inner_text("#briefing")
        shot(page, "invite-from-dashboard")
    finally:
        context.close()
