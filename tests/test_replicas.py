"""Two `roleplay serve` replicas on one PostgreSQL database and one Redis queue: a candidate
whose page is reloaded on the other replica before every message loses no turn, sees no
duplicate, and the finished session is graded exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from roleplay.storage.store import Store
from tests import scripts
from tests.web_helpers import Server, open_invite, say


def test_a_candidate_alternating_between_two_replicas(
    browser: Any, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    shared = {"ROLEPLAY_DATABASE_URL": postgres_url, "ROLEPLAY_QUEUE_URL": redis_url}
    replicas = [Server(tmp_path / f"replica-{i}", extra_env=shared).start() for i in range(2)]
    context = browser.new_context()
    page = context.new_page()
    store = Store.open(postgres_url)
    try:
        link = replicas[0].invite("practice")
        token = link.split("token=", 1)[1]
        open_invite(page, link)
        page.click("#start")
        page.wait_for_selector('#chat [data-testid="bot"]')
        for i, message in enumerate(scripts.GOOD):
            other = replicas[(i + 1) % 2]
            open_invite(page, f"{other.url}/candidate/?token={token}")
            page.wait_for_selector('#chat [data-testid="bot"]')
            if store.list_sessions()[0].status == "ended":
                break
            say(page, message)
        session = store.list_sessions()[0]
        turns = store.turns(session.id)
        said = [t.text for t in turns if t.speaker == "candidate"]
        assert said == scripts.GOOD[: len(said)] and len(said) >= 4
        assert [t.speaker for t in turns[:-1:2]] == ["customer"] * len(turns[:-1:2])
        assert len({(t.speaker, t.text) for t in turns}) == len(turns)  # nothing twice
        assert session.status == "ended" and session.outcome == "resolved"
        deadline = time.monotonic() + 60
        while (store.grade(session.id) or ("pending",))[0] == "pending":
            assert time.monotonic() < deadline, "the grade never came"
            time.sleep(0.1)
        assert store.grade(session.id)[0] == "done"  # type: ignore[index]
        with store.engine.connect() as db:
            grades = db.execute(text("select count(*) from grades")).scalar()
        assert grades == 1
    finally:
        context.close()
        store.close()
        for server in replicas:
            server.stop()
