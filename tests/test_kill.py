"""Pull the plug mid-conversation: SIGKILL the server, start it again, lose nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roleplay.storage.store import Store
from tests import scripts
from tests.web_helpers import Server, open_invite, say, shot


def test_server_killed_mid_conversation_loses_no_turn(browser: Any, tmp_path: Path) -> None:
    server = Server(tmp_path / "home").start()
    context = browser.new_context()
    page = context.new_page()
    try:
        url = server.invite("practice")
        open_invite(page, url)
        page.click("#start")
        page.wait_for_selector('#chat [data-testid="bot"]')
        for message in scripts.GOOD[:2]:
            say(page, message)
        shown = page.inner_text("#chat")

        server.kill()
        store = Store.open(f"sqlite:///{server.home / 'roleplay.db'}")
        stored = [t.text for t in store.transcript(1).turns]
        store.close()
        assert len(stored) == 5 and stored[1] == scripts.GOOD[0] and stored[3] == scripts.GOOD[1]

        server.start()  # same data folder, same port
        open_invite(page, url)
        page.wait_for_selector('#chat [data-testid="bot"]')
        assert page.inner_text("#chat") == shown
        for message in scripts.GOOD[2:]:
            say(page, message)
        page.wait_for_selector("#status:has-text('resolved')")
        shot(page, "after-kill-resolved")
    finally:
        context.close()
        server.stop()
