"""A conversation: the director and an actor, with every turn handed to storage as it happens.

This is the service both the CLI and the web app use. ``on_turn`` is called with each turn the
moment it exists (the candidate's before the customer's reply is generated), so a crash or a
failed backend never loses what the candidate typed; :meth:`Conversation.retry` voices the
pending reply again after a backend error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from roleplay.config import Settings
from roleplay.core.actors import (
    Actor,
    Delta,
    Done,
    Event,
    LLMActor,
    Retract,
    ScriptedActor,
    SpeakRequest,
)
from roleplay.core.director import Decision, Director, Outcome
from roleplay.core.persona import Move, Persona
from roleplay.core.transcript import TokenUsage, Transcript, Turn
from roleplay.errors import RoleplayError
from roleplay.understanding import Reader

TurnSink = Callable[[Turn], None]


class ConversationOver(RoleplayError):
    """A message was sent after the conversation ended."""


class TimeUp(ConversationOver):
    """A message arrived after the time limit: the conversation ends without reading it."""


def make_actor(persona: Persona, settings: Settings, *, seed: int = 0) -> Actor:
    """The engine chosen by configuration: LLM when a persona model is set, else scripted."""
    scripted = ScriptedActor(persona, seed=seed)
    if settings.persona_engine == "scripted":
        return scripted
    from roleplay.llm import chat_backend

    backend = chat_backend(settings, "persona")
    return LLMActor(persona, backend, settings=settings, fallback=scripted)


class Conversation:
    """One candidate talking to one persona."""

    def __init__(
        self,
        persona: Persona,
        actor: Actor,
        *,
        seed: int = 0,
        on_turn: TurnSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        reader: Reader | None = None,
    ) -> None:
        self.persona = persona
        self.actor = actor
        self.director = Director(persona, reader)
        #: Called with every turn the moment it exists (storage hooks in here).
        self.on_turn = on_turn
        self._clock = clock
        self._t0 = clock()
        self._pending: Decision | None = None
        self.transcript = Transcript(
            persona=persona.id,
            persona_version=persona.content_hash,
            engine=actor.name,
            model=actor.model,
            seed=seed,
            started_at=datetime.now(UTC),
            usage=TokenUsage(),
            turns=[],
        )

    @classmethod
    def resume(
        cls,
        persona: Persona,
        actor: Actor,
        turns: list[Turn],
        *,
        seed: int = 0,
        started_at: datetime | None = None,
        on_turn: TurnSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        reader: Reader | None = None,
    ) -> Conversation:
        """Rebuild a conversation from its stored turns (after a reload or a restart).

        The director replays the candidate's messages and the stored customer turns; a
        scripted actor (or the LLM actor's scripted fallback) replays its line choices so it
        carries on exactly as it would have. Nothing is stored again.
        """
        convo = cls(persona, actor, seed=seed, clock=clock, reader=reader)
        if started_at is not None:
            convo.transcript.started_at = started_at
            convo._t0 = clock() - (datetime.now(UTC) - started_at).total_seconds()
        scripted = actor if isinstance(actor, ScriptedActor) else getattr(actor, "fallback", None)
        pending: Decision | None = None
        for turn in turns:
            if turn.speaker == "candidate":
                if convo.director.state.outcome is None:
                    pending = convo.director.decide(turn.text)
            else:
                move = turn.move or (pending.move if pending else Move.opening)
                given = pending.give_facts if pending else []
                offer = pending.offer if pending else None
                if isinstance(scripted, ScriptedActor) and turn.source != "llm":
                    scripted.line(move, given, offer)
                convo.director.note_customer_turn(turn.text, given=given, released=turn.released)
                pending = None
            convo.transcript.turns.append(turn)
        convo._pending = pending
        if convo.director.state.outcome is not None and pending is None:
            convo._finish(convo.director.state.outcome)
        convo.on_turn = on_turn
        return convo

    # ------------------------------------------------------------------ state
    @property
    def outcome(self) -> Outcome | None:
        return self.transcript.outcome

    @property
    def ended(self) -> bool:
        return self.transcript.outcome is not None

    @property
    def awaiting_retry(self) -> bool:
        return self._pending is not None

    def minutes_left(self) -> float | None:
        """Minutes before the persona's time limit; None when there is no limit."""
        limit = self.persona.limits.time_limit_minutes
        if limit is None:
            return None
        return limit - (self._clock() - self._t0) / 60

    @property
    def mood(self) -> int:
        return self.director.state.mood

    def _record(self, turn: Turn) -> None:
        self.transcript.turns.append(turn)
        if self.on_turn is not None:
            self.on_turn(turn)

    def _history(self) -> list[tuple[str, str]]:
        return [(t.speaker, t.text) for t in self.transcript.turns]

    # ------------------------------------------------------------------ talking
    def open(self) -> Iterator[Event]:
        """The customer's opening message."""
        if self.transcript.turns:
            raise ConversationOver("the conversation has already started")
        mood = self.director.state.mood
        decision = Decision(acts=[], mood_before=mood, mood_after=mood, move=Move.opening)
        self._pending = decision
        yield from self._voice(decision)

    def send(self, text: str) -> Iterator[Event]:
        """The candidate says ``text``; yields the customer's reply as it streams."""
        if self.ended:
            raise ConversationOver(f"the conversation has ended ({self.outcome}); start a new one")
        if self._pending is not None:
            raise ConversationOver("the customer's last reply failed; retry it first")
        text = text.strip()
        if not text:
            raise RoleplayError("empty message", hint="type something to the customer")
        left = self.minutes_left()
        if left is not None and left <= 0:
            # The clock is checked before the message is read: a late message never counts.
            self._finish(Outcome.time_limit)
            raise TimeUp("time is up", hint="your last message arrived after the time limit")
        decision = self.director.decide(text)
        self._record(
            Turn(
                speaker="candidate",
                text=text,
                at=datetime.now(UTC),
                acts=decision.acts,
                mood_before=decision.mood_before,
                mood=decision.mood_after,
            )
        )
        self._pending = decision
        yield from self._voice(decision)

    def retry(self) -> Iterator[Event]:
        """Voice the customer's reply again after a backend error."""
        if self._pending is None:
            raise ConversationOver("there is no failed reply to retry")
        yield from self._voice(self._pending)

    def _voice(self, decision: Decision) -> Iterator[Event]:
        request = SpeakRequest(
            move=decision.move,
            mood=decision.mood_after,
            give_facts=decision.give_facts,
            released=list(self.director.state.released),
            history=self._history(),
            offer=decision.offer,
        )
        done: Done | None = None
        for event in self.actor.speak(request):
            if isinstance(event, Done):
                done = event
            else:
                yield event
        assert done is not None, "an actor must finish with Done"
        self._pending = None
        self.director.note_customer_turn(
            done.text, given=decision.give_facts, released=decision.released
        )
        usage = self.transcript.usage or TokenUsage()
        if done.source != "scripted":
            usage.add(done.prompt_tokens, done.completion_tokens, done.cost_usd, done.reported)
        self.transcript.usage = usage
        self._record(
            Turn(
                speaker="customer",
                text=done.text,
                at=datetime.now(UTC),
                mood_before=decision.mood_before,
                mood=decision.mood_after,
                move=decision.move,
                released=decision.released,
                offer=decision.offer,
                reasons=decision.reasons,
                source=done.source,
            )
        )
        if decision.outcome is not None:
            self._finish(decision.outcome)
        yield done

    def say(self, text: str) -> Turn:
        """Non-streaming convenience: send and return the customer's turn."""
        for _ in self.send(text):
            pass
        return self.transcript.turns[-1]

    def start(self) -> Turn:
        for _ in self.open():
            pass
        return self.transcript.turns[-1]

    def end(self) -> Outcome:
        """The candidate ends the conversation."""
        if not self.ended:
            self._finish(self.director.end_by_candidate())
        assert self.outcome is not None
        return self.outcome

    def _finish(self, outcome: Outcome) -> None:
        self.transcript.outcome = outcome
        self.transcript.ended_at = datetime.now(UTC)


__all__ = ["Conversation", "ConversationOver", "Delta", "Done", "Retract", "make_actor"]
