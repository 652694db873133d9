"""Storage and the candidate service, on SQLite and PostgreSQL: accounts, invites, sessions,
turns stored as they happen, restarts, modes, attempts, time limits and background grading."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from roleplay.config import Settings
from roleplay.core.library import PersonaLibrary
from roleplay.errors import BackendError, InvalidValue, RoleplayError
from roleplay.services.accounts import AccountService, SignInThrottled
from roleplay.services.candidates import AccessDenied, CandidateService
from roleplay.storage.store import InviteInfo, Store, default_url, token_hash
from roleplay.testing import FakeChatServer, FakeReply
from tests import scripts
from tests.scripts import talk


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


@pytest.fixture
def service(store: Store, library: PersonaLibrary) -> Iterator[CandidateService]:
    svc = CandidateService(store, Settings.from_env({"ROLEPLAY_HOME": "/tmp/x"}), library)
    yield svc
    svc.close()


def test_migrations_are_named_recorded_and_idempotent(store: Store, db_url: str) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == (
            "0007_invite_rubric"
        )
    Store.open(db_url).close()  # a second start applies nothing and breaks nothing


RITA = "Rita reviews forty calls a day"


def test_accounts(store: Store) -> None:
    accounts = AccountService(store)
    accounts.add_user("rita", "reviewer", RITA)
    with pytest.raises(InvalidValue, match="already exists"):
        accounts.add_user("rita", "admin", "another long passphrase here")
    with pytest.raises(InvalidValue, match="must be one of reviewer, trainer, admin"):
        accounts.add_user("tom", "candidate", "a perfectly fine passphrase")
    for weak in ("short", "12345678", " " * 12, "password12", "tomtomtomtom"):
        with pytest.raises(InvalidValue) as info:
            accounts.add_user("tom", "trainer", weak)
        assert info.value.field == "password"
    assert accounts.sign_in("rita", RITA, "10.0.0.1") is not None
    assert accounts.sign_in("rita", "wrong", "10.0.0.1") is None
    assert accounts.sign_in("nobody", RITA, "10.0.0.1") is None
    signed = accounts.sign_in("rita", RITA, "10.0.0.1")
    assert signed is not None
    token = signed.token
    user = store.user_for_login(token)
    assert user is not None and user.role == "reviewer"
    assert store.user_for_login(token + "x") is None
    with store.engine.connect() as conn:
        hashes = conn.execute(text("select password_hash from users")).scalars().all()
        logins = conn.execute(text("select token_hash from logins")).scalars().all()
    assert hashes[0].startswith("$argon2") and RITA not in hashes[0]
    assert token_hash(token) in logins and token not in logins
    store.logout(token)
    assert store.user_for_login(token) is None


def test_role_changes_and_password_resets(store: Store) -> None:
    accounts = AccountService(store)
    accounts.add_user("ada", "admin", "Ada administers every account")
    accounts.add_user("rita", "reviewer", RITA)
    signed = accounts.sign_in("rita", RITA, "10.0.0.1")
    assert signed is not None
    assert accounts.set_role("rita", "trainer").role == "trainer"
    with pytest.raises(InvalidValue, match="your own account"):
        accounts.set_role("ada", "reviewer", by="ada")
    accounts.set_password("rita", "A brand new passphrase for Rita")
    assert store.user_for_login(signed.token) is None  # signed out everywhere
    assert accounts.sign_in("rita", RITA, "10.0.0.1") is None
    assert accounts.sign_in("rita", "A brand new passphrase for Rita", "10.0.0.1") is not None
    with pytest.raises(InvalidValue, match="your own account"):
        accounts.remove_user("ada", by="ada")


def test_sign_in_is_throttled_per_account_and_per_address(store: Store) -> None:
    accounts = AccountService(store)
    accounts.add_user("rita", "reviewer", RITA)
    for _ in range(5):
        assert accounts.sign_in("rita", "guess", "10.0.0.1") is None
    # the right password no longer works for this account, from anywhere
    with pytest.raises(SignInThrottled) as info:
        accounts.sign_in("rita", RITA, "10.0.0.2")
    assert info.value.retry_after_seconds > 0 and "wait" in (info.value.hint or "")
    # an unknown name is throttled the same way, so the throttle reveals no accounts
    for _ in range(5):
        assert accounts.sign_in("nobody", "guess", "10.0.0.3") is None
    with pytest.raises(SignInThrottled):
        accounts.sign_in("nobody", "guess", "10.0.0.3")
    # one address spraying many names is stopped too
    accounts.add_user("tess", "trainer", "Tess trains the new starters")
    for i in range(20):
        accounts.sign_in(f"name{i}", "guess", "10.0.0.9")
    with pytest.raises(SignInThrottled):
        accounts.sign_in("tess", "Tess trains the new starters", "10.0.0.9")
    assert accounts.sign_in("tess", "Tess trains the new starters", "10.0.0.4") is not None


def test_concurrent_starts_cannot_exceed_the_attempts(
    service: CandidateService,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    for attempts in (1, 3):
        token = service.store.create_invite("damaged-laptop", "practice", attempts=attempts)
        invite = service.store.invite_for_token(token)
        assert invite is not None

        def start(_: int, invite: InviteInfo = invite) -> str:
            try:
                service.store.start_session(
                    invite, persona_version="x", engine="scripted", model=None, seed=0
                )
                return "started"
            except RoleplayError as exc:
                return exc.message

        with ThreadPoolExecutor(10) as pool:
            results = list(pool.map(start, range(10)))
        assert results.count("started") == attempts, results
        assert set(results) == {"started", "this invite has no attempts left"}
        assert len(service.store.sessions_for_invite(invite.id)) == attempts


def test_invite_tokens_are_stored_hashed_and_cannot_be_guessed(store: Store) -> None:
    token = store.create_invite("damaged-laptop", "practice", candidate_name="Ann")
    with store.engine.connect() as conn:
        stored = conn.execute(text("select token_hash from invites")).scalar()
    assert stored == token_hash(token) and token not in str(stored)
    assert store.invite_for_token(token) is not None
    for guess in ("", token[:-1], token + "a", "1", "x" * 500, None):
        assert store.invite_for_token(guess) is None


def test_practice_conversation_is_stored_turn_by_turn_and_graded(
    service: CandidateService,
) -> None:
    token = service.store.create_invite("damaged-laptop", "practice")
    info, opening = service.start(token)
    assert opening.speaker == "customer" and opening.text
    talk(service, token, info.id, scripts.GOOD)
    stored = service.store.session(info.id)
    assert stored.status == "ended" and stored.outcome == "resolved"
    assert stored.persona_version == service.library.get("damaged-laptop").content_hash
    assert stored.engine == "scripted"
    turns = service.store.turns(info.id)
    assert [t.speaker for t in turns][:3] == ["customer", "candidate", "customer"]
    assert turns[1].acts and turns[2].mood is not None  # annotations are kept
    service.wait_for_grading()
    status, report = service.result(token, info.id)
    assert status == "done" and report is not None
    assert report["passed"] is True and report["provenance"]["engine"] == "evidence"


def test_assessment_shows_no_grade_and_cannot_restart(service: CandidateService) -> None:
    token = service.store.create_invite("damaged-laptop", "assessment", attempts=3)
    info, _ = service.start(token)
    talk(service, token, info.id, scripts.RUDE)
    service.wait_for_grading()
    status, report = service.result(token, info.id)
    assert status == "done" and report is None  # graded, but not shown to the candidate
    assert service.store.grade(info.id) is not None
    view = service.view(token)
    assert not view.can_start
    with pytest.raises(RoleplayError, match="cannot start another"):
        service.start(token)


def test_practice_attempt_cap(service: CandidateService) -> None:
    token = service.store.create_invite("damaged-laptop", "practice", attempts=2)
    for _ in range(2):
        info, _ = service.start(token)
        service.end(token, info.id)
    assert service.view(token).attempts_left == 0
    with pytest.raises(RoleplayError, match="cannot start another"):
        service.start(token)


def test_time_limit_is_enforced(service: CandidateService) -> None:
    token = service.store.create_invite("damaged-laptop", "assessment", time_limit_minutes=0.002)
    service.start(token)
    time.sleep(0.2)
    view = service.view(token)  # e.g. the candidate reloads the page after the limit
    assert view.session is not None and view.session.status == "ended"
    assert view.session.outcome == "time_limit"


def test_a_token_opens_only_its_own_session(service: CandidateService) -> None:
    mine = service.store.create_invite("damaged-laptop", "practice")
    theirs = service.store.create_invite("damaged-laptop", "practice")
    their_session, _ = service.start(theirs)
    with pytest.raises(AccessDenied):
        list(service.send(mine, their_session.id, "hello"))
    with pytest.raises(AccessDenied):
        service.result(mine, their_session.id)
    with pytest.raises(AccessDenied):
        service.view("made-up-token")


def test_restart_loses_nothing_and_the_conversation_carries_on(
    store: Store, library: PersonaLibrary
) -> None:
    settings = Settings.from_env({"ROLEPLAY_HOME": "/tmp/x"})
    first = CandidateService(store, settings, library)
    token = store.create_invite("damaged-laptop", "practice")
    info, _ = first.start(token)
    talk(first, token, info.id, scripts.GOOD[:2])
    before = [t.text for t in store.turns(info.id)]
    # a new process: nothing in memory, only the database
    second = CandidateService(store, settings, library)
    view = second.view(token)
    assert [t.text for t in view.turns] == before and len(before) == 5
    talk(second, token, info.id, scripts.GOOD[2:])
    assert store.session(info.id).outcome == "resolved"
    first.close()
    second.close()


def test_a_candidate_alternating_between_two_replicas_loses_and_repeats_nothing(
    store: Store, library: PersonaLibrary
) -> None:
    """Two app processes on one database, each message landing on the other one: each
    rebuilds the conversation when the other wrote last."""
    settings = Settings.from_env({"ROLEPLAY_HOME": "/tmp/x"})
    replicas = [CandidateService(store, settings, library) for _ in range(2)]
    token = store.create_invite("damaged-laptop", "practice")
    info, _ = replicas[0].start(token)
    for i, message in enumerate(scripts.GOOD):
        if store.session(info.id).status == "ended":
            break
        talk(replicas[(i + 1) % 2], token, info.id, [message])
    turns = store.turns(info.id)
    said = [t.text for t in turns if t.speaker == "candidate"]
    assert said == scripts.GOOD[: len(said)] and len(said) >= 4
    assert [t.speaker for t in turns] == ["customer", "candidate"] * (len(turns) // 2) + (
        ["customer"] if len(turns) % 2 else []
    )
    assert store.session(info.id).outcome == "resolved"
    for svc in replicas:
        svc.wait_for_grading()
        svc.close()
    assert store.grade(info.id)[0] == "done"  # type: ignore[index]


def test_backend_failure_keeps_the_candidate_turn(store: Store, library: PersonaLibrary) -> None:
    with FakeChatServer() as server:
        settings = Settings.from_env(
            {
                "ROLEPLAY_HOME": "/tmp/x",
                "ROLEPLAY_LLM_BASE_URL": server.url,
                "ROLEPLAY_PERSONA_MODEL": "fake",
                "ROLEPLAY_LLM_MAX_RETRIES": "0",
            }
        )
        svc = CandidateService(store, settings, library)
        server.enqueue("My laptop is broken. Order A1042.", FakeReply(status=503))
        token = store.create_invite("damaged-laptop", "practice")
        info, _ = svc.start(token)
        with pytest.raises(BackendError):
            list(svc.send(token, info.id, "Hello Dana, I'm so sorry."))
        assert [t.text for t in store.turns(info.id)][-1] == "Hello Dana, I'm so sorry."
        server.enqueue("Fine. What now?")
        list(svc.retry(token, info.id))
        assert store.turns(info.id)[-1].text == "Fine. What now?"
        assert store.session(info.id).engine == "llm" and store.session(info.id).model == "fake"
        svc.close()


def test_a_grade_is_claimed_by_one_worker_until_its_lease_runs_out(
    service: CandidateService, store: Store
) -> None:
    token = store.create_invite("damaged-laptop", "practice", candidate_name="Ola")
    info, _ = service.start(token)
    store.grade_pending(info.id)
    assert store.claim_grade(info.id, "worker-a", 30).state == "claimed"
    busy = store.claim_grade(info.id, "worker-b", 30)
    assert busy.state == "busy" and 25 < busy.wait <= 30
    assert store.renew_claim(info.id, "worker-a", 30) and not store.renew_claim(info.id, "b", 30)
    store.release_claim(info.id, "worker-a")  # a retry need not wait for the lease
    assert store.claim_grade(info.id, "worker-b", 0.2).state == "claimed"
    deadline = time.monotonic() + 5
    while store.claim_grade(info.id, "worker-c", 30).state != "claimed":  # b's lease runs out
        assert time.monotonic() < deadline, "the lease never ran out"
        time.sleep(0.05)
    store.save_grade(info.id, {"overall": 80.0, "passed": True, "provenance": {}})
    assert store.claim_grade(info.id, "worker-d", 30).state == "not pending"


def test_upgrading_an_existing_database_keeps_its_data(db_url: str) -> None:
    from importlib import resources
    from pathlib import Path

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    config = Config()
    config.set_main_option(
        "script_location",
        str(Path(str(resources.files("roleplay.storage").joinpath("migrations")))),
    )
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001_initial")  # a database from the first release
    token = "an-invite-from-the-first-release"
    with engine.begin() as conn:  # written as that release wrote it (today's tables have more)
        conn.execute(
            text(
                "insert into invites (token_hash, persona_id, mode, candidate_name, "
                "attempts_allowed, created_at) values (:h, 'damaged-laptop', 'practice', "
                "'Early', 1, :at)"
            ),
            {"h": token_hash(token), "at": datetime.now(UTC)},
        )
    engine.dispose()

    upgraded = Store.open(db_url)
    invite = upgraded.invite_for_token(token)
    assert invite is not None and invite.candidate_name == "Early"
    assert invite.rubric_id is None  # graded with the default rubric, as before
    with upgraded.engine.connect() as conn:
        assert conn.execute(text("select count(*) from overrides")).scalar() == 0
    upgraded.close()


def test_the_database_is_roleplay_db_and_a_home_with_the_misnamed_file_keeps_its_data(
    tmp_path: Path,
) -> None:
    fresh = Settings.from_env({"ROLEPLAY_HOME": str(tmp_path / "fresh")})
    assert default_url(fresh) == f"sqlite:///{tmp_path / 'fresh' / 'roleplay.db'}"
    home = tmp_path / "used"
    home.mkdir()
    old = Store.open(f"sqlite:///{home / 'roleplay.storage.tables'}")
    token = old.create_invite("damaged-laptop", "practice", candidate_name="Kept")
    old.close()
    store = Store.open(default_url(Settings.from_env({"ROLEPLAY_HOME": str(home)})))
    try:
        invite = store.invite_for_token(token)
        assert invite is not None and invite.candidate_name == "Kept"
    finally:
        store.close()
