"""The candidate's side as a service: invites, conversations, background grading.

The web page and the tests call these methods; every call carries the invite token and is
checked against it, so a token only ever opens its own sessions. Conversations live in memory
while active and are rebuilt from the database whenever they are not (a reload, a restarted
server): the database is the truth, turns are stored the moment they exist.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from roleplay.config import Settings
from roleplay.core.actors import Event
from roleplay.core.conversation import Conversation, TimeUp, make_actor
from roleplay.core.library import PersonaLibrary
from roleplay.core.persona import Persona
from roleplay.core.transcript import Transcript, Turn
from roleplay.errors import InvalidValue, RoleplayError
from roleplay.services.catalog import Catalog
from roleplay.services.grading import GradingService
from roleplay.services.jobs import GradingQueue
from roleplay.storage.store import InviteInfo, SessionInfo, Store
from roleplay.understanding import reader_for

#: The longest message a candidate may send (a chat message, not a document).
MAX_MESSAGE_CHARS = 2000


class AccessDenied(RoleplayError):
    """The token does not open this invite or session."""


@dataclass(frozen=True)
class CandidateView:
    """What the candidate's page shows for an invite."""

    invite: InviteInfo
    persona: Persona
    session: SessionInfo | None
    turns: list[Turn]
    attempts_left: int
    can_start: bool


class CandidateService:
    def __init__(self, store: Store, settings: Settings, library: PersonaLibrary) -> None:
        self.store = store
        self.settings = settings
        self.library = library
        self.catalog = Catalog(store, library)
        self.reader = reader_for(settings)
        self.grading = GradingService(settings, self.catalog, self.reader)
        self._live: dict[int, Conversation] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()
        self.queue = GradingQueue(
            settings,
            grade=self._grade,
            rows=store,
            scope=store.engine.url.render_as_string(hide_password=True),
        )
        self._enqueued: list[int] = []

    # ------------------------------------------------------------------ access
    def _invite(self, token: str | None) -> InviteInfo:
        invite = self.store.invite_for_token(token)
        if invite is None:
            raise AccessDenied(
                "this invite link is not valid",
                hint="check the link you were sent, or ask for a new one",
            )
        return invite

    def _own_session(self, invite: InviteInfo, session_id: int) -> SessionInfo:
        info = self.store.session(session_id)
        if info.invite_id != invite.id:
            raise AccessDenied("this session does not belong to your invite")
        return info

    def _persona(self, invite: InviteInfo, info: SessionInfo | None = None) -> Persona:
        """The persona for a new session (latest version) or for ``info`` (its own version)."""
        persona = (
            self.catalog.persona_version(invite.persona_id, info.persona_version)
            if info is not None
            else self.catalog.persona(invite.persona_id)
        )
        if invite.time_limit_minutes is not None:
            limits = persona.limits.model_copy(
                update={"time_limit_minutes": invite.time_limit_minutes}
            )
            persona = persona.model_copy(update={"limits": limits})
        return persona

    def _lock(self, session_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(session_id, threading.Lock())

    # ------------------------------------------------------------------ views
    def view(self, token: str | None) -> CandidateView:
        invite = self._invite(token)
        sessions = self.store.sessions_for_invite(invite.id)
        current = sessions[-1] if sessions else None
        persona = self._persona(invite, current)
        if current is not None and current.status == "active":
            self._expire_if_over_time(invite, current)
            current = self.store.session(current.id)
        turns = self.store.turns(current.id) if current else []
        left = invite.attempts_allowed - len(sessions)
        can_start = left > 0 and (current is None or current.status == "ended")
        if invite.mode == "assessment" and current is not None:
            can_start = False  # an assessment cannot be restarted
        return CandidateView(invite, persona, current, turns, left, can_start)

    def _expire_if_over_time(self, invite: InviteInfo, info: SessionInfo) -> None:
        limit = self._persona(invite, info).limits.time_limit_minutes
        if limit is None:
            return
        if (datetime.now(UTC) - info.started_at).total_seconds() >= limit * 60:
            with self._lock(info.id):
                self._finish(info.id, "time_limit", None)

    # ------------------------------------------------------------------ talking
    def start(
        self, token: str | None, *, seed: int | None = None, source: str = "web"
    ) -> tuple[SessionInfo, Turn]:
        """Start a new attempt; returns the session and the customer's opening turn.
        ``source`` says where it is held (web, cli-chat, cli-simulate)."""
        view = self.view(token)
        if not view.can_start:
            if view.session is not None and view.session.status == "active":
                raise RoleplayError("a conversation is already in progress; carry on with it")
            raise RoleplayError(
                "this invite cannot start another conversation",
                hint="ask the person who invited you for a new link",
            )
        persona = self._persona(view.invite)  # a new session runs the latest version
        if seed is None:
            seed = random.SystemRandom().randrange(1_000_000)
        actor = make_actor(persona, self.settings, seed=seed)
        info = self.store.start_session(
            view.invite,
            persona_version=persona.content_hash,
            engine=actor.name,
            model=actor.model,
            seed=seed,
            source=source,
        )
        convo = Conversation(
            persona, actor, seed=seed, on_turn=self._sink(info.id), reader=self.reader
        )
        with self._lock(info.id):
            self._live[info.id] = convo
            # A backend failure propagates: the session exists and retry() voices the opening.
            opening = convo.start()
        return info, opening

    def _sink(self, session_id: int) -> Callable[[Turn], None]:
        counter = {"next": len(self.store.turns(session_id))}

        def store_turn(turn: Turn) -> None:
            self.store.add_turn(session_id, counter["next"], turn)
            counter["next"] += 1

        return store_turn

    def _conversation(self, invite: InviteInfo, info: SessionInfo) -> Conversation:
        convo = self._live.get(info.id)
        if convo is not None and len(convo.transcript.turns) != self.store.turn_count(info.id):
            # Another replica (or process) added turns since: rebuild from the database.
            convo = None
        if convo is None:
            persona = self._persona(invite, info)
            actor = make_actor(persona, self.settings, seed=info.seed)
            convo = Conversation.resume(
                persona,
                actor,
                self.store.turns(info.id),
                seed=info.seed,
                started_at=info.started_at,
                on_turn=self._sink(info.id),
                reader=self.reader,
            )
            self._live[info.id] = convo
        return convo

    def transcript(self, token: str | None, session_id: int) -> Transcript:
        """The whole conversation in the interchange format."""
        invite = self._invite(token)
        self._own_session(invite, session_id)
        return self.store.transcript(session_id)

    def awaiting_retry(self, token: str | None, session_id: int) -> bool:
        """Whether the customer's last reply failed and waits to be voiced again."""
        invite = self._invite(token)
        self._own_session(invite, session_id)
        convo = self._live.get(session_id)
        return convo is not None and (convo.awaiting_retry or not convo.transcript.turns)

    def history(self, token: str | None, session_id: int) -> list[Turn]:
        """Every turn of the candidate's own session, as stored (the page never trusts a
        history sent by the browser)."""
        invite = self._invite(token)
        info = self._own_session(invite, session_id)
        convo = self._live.get(info.id)
        return list(convo.transcript.turns) if convo is not None else self.store.turns(info.id)

    @staticmethod
    def check_message(text: str) -> None:
        """Raise a clear error for a message the service will not take."""
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidValue(
                "message",
                f"your message is {len(text):,} characters long; the limit is "
                f"{MAX_MESSAGE_CHARS:,}",
                hint="split it into shorter messages",
            )

    def send(self, token: str | None, session_id: int, text: str) -> Iterator[Event]:
        """The candidate's message; yields the customer's reply as it streams. The candidate's
        turn is stored before the reply is generated."""
        self.check_message(text)
        invite = self._invite(token)
        info = self._own_session(invite, session_id)
        if info.status != "active":
            raise RoleplayError("this conversation has ended")
        with self._lock(session_id):
            convo = self._conversation(invite, info)
            yield from self._catch_up(convo)
            try:
                if text.strip():
                    yield from convo.send(text)
            except TimeUp:
                self._finish(session_id, "time_limit", convo)
                raise
            if convo.ended and convo.outcome is not None:
                self._finish(session_id, convo.outcome.value, convo)

    def retry(self, token: str | None, session_id: int) -> Iterator[Event]:
        invite = self._invite(token)
        info = self._own_session(invite, session_id)
        with self._lock(session_id):
            convo = self._conversation(invite, info)
            yield from self._catch_up(convo)
            if convo.ended and convo.outcome is not None:
                self._finish(session_id, convo.outcome.value, convo)

    @staticmethod
    def _catch_up(convo: Conversation) -> Iterator[Event]:
        """Voice what a backend failure left unsaid: the opening, or the last reply."""
        if not convo.transcript.turns:
            yield from convo.open()
        elif convo.awaiting_retry:
            yield from convo.retry()

    def end(self, token: str | None, session_id: int) -> str:
        """The candidate pressed "end conversation"."""
        invite = self._invite(token)
        info = self._own_session(invite, session_id)
        if info.status == "ended":
            return info.outcome or "ended"
        with self._lock(session_id):
            convo = self._conversation(invite, info)
            outcome = convo.end().value
            self._finish(session_id, outcome, convo)
        return outcome

    def _finish(self, session_id: int, outcome: str, convo: Conversation | None) -> None:
        info = self.store.session(session_id)
        if info.status == "ended":
            return
        self.store.finish_session(
            session_id, outcome, convo.transcript.usage if convo is not None else None
        )
        self._live.pop(session_id, None)
        self.store.grade_pending(session_id)
        self.queue.start_workers()
        self.queue.enqueue(session_id)
        self._enqueued.append(session_id)

    # ------------------------------------------------------------------ grading
    def _grade(self, session_id: int, rubric_id: str | None = None) -> None:
        """Grade a finished session and store the report (a queue job; raises on failure),
        with ``rubric_id``, else the rubric its invite names, else the default."""
        rubric = rubric_id or self.store.session_rubric(session_id) or "default"
        report = self.grading.grade_transcript(self.store.transcript(session_id), rubric)
        self.store.save_grade(session_id, report.model_dump(mode="json"))

    def regrade_all(self, rubric_id: str | None = None) -> int:
        """Grade every finished session again with ``rubric_id``, or each with its own
        invite's rubric when None (after a rubric change), as queue jobs. Overrides stay and
        are applied on top of the new grades."""
        if rubric_id is not None:
            self.catalog.rubric(rubric_id)  # a clear error before any work
        ended = [s.id for s in self.store.list_sessions() if s.status == "ended"]
        for session_id in ended:
            self.store.grade_pending(session_id, again=True)
            self.queue.enqueue(session_id, rubric_id)
        self._enqueued += ended
        return len(ended)

    def _grade_is_pending(self, session_id: int) -> bool:
        state = self.store.grade(session_id)
        return state is not None and state[0] == "pending"

    def grade_now(self, session_id: int) -> None:
        """Grade a finished session here and now (a failure is recorded, never lost)."""
        try:
            self._grade(session_id)
        except Exception as exc:
            self.store.grade_failed(session_id, f"{type(exc).__name__}: {exc}")

    def resume_grading(self) -> int:
        """Enqueue every grade left pending (its job lost with a killed process)."""
        pending = self.store.pending_grades()
        self._enqueued += pending
        return self.queue.resume(pending)

    def result(self, token: str | None, session_id: int) -> tuple[str, dict[str, object] | None]:
        """Grading status and, in practice mode only, the report."""
        invite = self._invite(token)
        self._own_session(invite, session_id)
        state = self.store.grade(session_id)
        if state is None:
            return "not started", None
        status, report, _ = state
        if invite.mode != "practice":
            return status, None
        return status, report

    def wait_for_grading(self, timeout: float = 30.0) -> None:
        """Block until every grade this service enqueued is done or failed (tests, shutdown,
        the CLI). Without workers in this process, another process must run them."""
        if self._enqueued and self.settings.grading_workers > 0:
            self.queue.start_workers()
        deadline = time.monotonic() + timeout
        waiting = list(self._enqueued)
        while waiting:
            waiting = [s for s in waiting if self._grade_is_pending(s)]
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"grades still pending after {timeout:.0f} s: {waiting}")
            self.queue.wait_for_progress(0.05)
        self._enqueued = []

    def close(self) -> None:
        self.queue.stop_workers()
