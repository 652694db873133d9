"""The director: decides how the customer reacts, for both the scripted and the LLM actor.

For each candidate message the director detects the candidate's acts, moves the mood by the
rules in :data:`MOOD_RULES` and the persona's temperament, releases hidden facts only when
asked, picks the customer's next move and decides whether the conversation ends. Actors only
put the chosen move into words; they never decide mood, facts or endings, so nothing a
candidate types can talk the customer into an ending.

Mood rules (mood runs from -5 furious to +5 delighted):

* Base change per act, from :data:`MOOD_RULES`; apologies, acknowledgements and reflecting
  the customer's facts earn points only the first two times (hollow repetition earns nothing).
* Temperament: each act in ``escalated_by`` costs one more point, each act in ``calmed_by``
  earns one more, and a ``trigger_phrases`` match costs one more.
* A turn gains at most +3 and the mood stays within -5..5.
* A message that tries to steer the simulation (``manipulation``) earns nothing, and any
  offer inside it is ignored.

Endings:

* ``resolved``: an acceptable offer was accepted, then the conversation closed (the
  candidate's next message that is not hostile lets the customer thank and close).
* ``escalated`` / ``abandoned``: mood reaches -5 (from -4 or below, or through a rude,
  blaming or dismissive message; otherwise the customer gets one last warning), or more
  unhelpful turns in a row than the persona's patience; the breaking point says which.
* ``candidate_closed``: the candidate closed (or ended the session) before a resolution.
* ``max_turns``: the persona's turn limit. (``time_limit`` is the conversation's: it owns
  the clock, and checks it before a message is read.)
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, Field

from roleplay.core.acts import Act, any_match, detect_acts, kinds, mentions_fact
from roleplay.core.persona import ActKind, Move, Persona


class Outcome(StrEnum):
    """How a conversation ended."""

    resolved = "resolved"
    escalated = "escalated"
    abandoned = "abandoned"
    max_turns = "max_turns"
    time_limit = "time_limit"
    candidate_closed = "candidate_closed"


#: Base mood change per detected act.
MOOD_RULES: dict[ActKind, int] = {
    ActKind.greet: 0,
    ActKind.apologize: 1,
    ActKind.acknowledge: 1,
    ActKind.reflect: 1,
    ActKind.question: 0,
    ActKind.ask_fact: 0,
    ActKind.reask_fact: -1,
    ActKind.offer: 2,
    ActKind.bad_offer: -1,
    ActKind.next_steps: 1,
    ActKind.policy_recital: -1,
    ActKind.dismissive: -2,
    ActKind.rude: -3,
    ActKind.blame: -2,
    ActKind.close: 0,
    ActKind.manipulation: -1,
}
_DIMINISHING = {ActKind.apologize, ActKind.acknowledge, ActKind.reflect}
_HELPFUL = {ActKind.reflect, ActKind.ask_fact, ActKind.offer, ActKind.next_steps}
_HOSTILE = {ActKind.rude, ActKind.blame, ActKind.dismissive}
MOOD_MIN, MOOD_MAX, MAX_GAIN = -5, 5, 3
#: An acceptable offer is taken only if the mood after the turn is at least this.
ACCEPT_MOOD = -3


def mood_label(mood: int) -> str:
    if mood <= -4:
        return "furious"
    if mood <= -2:
        return "angry"
    if mood == -1:
        return "annoyed"
    if mood == 0:
        return "neutral"
    if mood <= 2:
        return "calmer"
    return "pleased"


class DirectorState(BaseModel):
    """Everything the director remembers between turns."""

    mood: int
    stated: list[str] = Field(default_factory=list, description="Facts the customer has said.")
    released: list[str] = Field(default_factory=list, description="Hidden facts released.")
    credit: dict[str, int] = Field(default_factory=dict, description="Times each act earned.")
    unhelpful_streak: int = 0
    candidate_turns: int = 0
    accepted: str | None = None
    outcome: Outcome | None = None


class Decision(BaseModel):
    """The director's reading of one candidate message and what the customer does next."""

    acts: list[Act]
    mood_before: int
    mood_after: int
    move: Move
    give_facts: list[str] = Field(default_factory=list, description="Facts to say now.")
    released: list[str] = Field(default_factory=list, description="Hidden facts released now.")
    accepted: str | None = Field(None, description="Resolution accepted on this turn.")
    outcome: Outcome | None = None
    reasons: list[str] = Field(default_factory=list, description="Why, in plain words.")


class Director:
    """Owns mood, facts and endings for one conversation with one persona."""

    def __init__(self, persona: Persona) -> None:
        self.persona = persona
        self.state = DirectorState(mood=persona.temperament.starting_mood)

    # ------------------------------------------------------------------ facts spoken
    def note_customer_turn(
        self, text: str, *, given: Sequence[str] = (), released: Sequence[str] = ()
    ) -> None:
        """Record what a customer turn said: the facts it gave or released, and any free
        (or already released) fact whose value the text mentions."""
        st = self.state
        for fact_id in released:
            if fact_id not in st.released:
                st.released.append(fact_id)
        for fact_id in [*given, *released]:
            if fact_id not in st.stated:
                st.stated.append(fact_id)
        for fact in self.persona.scenario.facts:
            if fact.id in self.state.stated:
                continue
            if fact.reveal == "on_ask" and fact.id not in self.state.released:
                continue
            if mentions_fact(text, fact.value):
                self.state.stated.append(fact.id)

    # ------------------------------------------------------------------ one turn
    def decide(self, text: str) -> Decision:
        """Read one candidate message, update the state and return what happens next."""
        st = self.state
        if st.outcome is not None:
            raise RuntimeError("the conversation has already ended")
        temper = self.persona.temperament
        first = st.candidate_turns == 0
        st.candidate_turns += 1
        acts = detect_acts(text, self.persona, st.stated, first_turn=first)
        found = kinds(acts)
        reasons: list[str] = []
        delta = 0
        for kind in sorted(found, key=lambda k: k.value):
            base = MOOD_RULES[kind]
            if kind in _DIMINISHING:
                st.credit[kind.value] = st.credit.get(kind.value, 0) + 1
                if st.credit[kind.value] > 2:
                    reasons.append(f"{kind.value}: repeated, earns nothing now")
                    continue
            extra = (-1 if kind in temper.escalated_by else 0) + (
                1 if kind in temper.calmed_by else 0
            )
            if kind == ActKind.manipulation:
                extra = 0
            if base + extra:
                reasons.append(f"{kind.value}: {base + extra:+d}")
            delta += base + extra
        trigger = any_match(temper.trigger_phrases, text)
        if trigger:
            delta -= 1
            reasons.append(f"trigger phrase {trigger.group(0)!r}: -1")
        delta = min(delta, MAX_GAIN)
        before = st.mood
        st.mood = max(MOOD_MIN, min(MOOD_MAX, st.mood + delta))

        helpful = bool(found & _HELPFUL) or (
            bool(found & {ActKind.apologize, ActKind.acknowledge}) and delta > 0
        )
        if helpful and delta >= 0:
            st.unhelpful_streak = 0
        elif not (first and delta >= 0):
            st.unhelpful_streak += 1

        decision = Decision(
            acts=acts, mood_before=before, mood_after=st.mood, move=Move.complain, reasons=reasons
        )
        self._choose(decision, found)
        return decision

    def _choose(self, d: Decision, found: set[ActKind]) -> None:
        st, persona = self.state, self.persona
        hostile = bool(found & _HOSTILE)

        # Already accepted: the next non-hostile message lets the customer close happily.
        if st.accepted and not hostile:
            self._end(d, Move.thank_close, Outcome.resolved, "resolution accepted; closing")
            return

        if ActKind.close in found:
            self._end(d, Move.leave, Outcome.candidate_closed, "candidate closed unresolved")
            return

        at_bottom = st.mood <= MOOD_MIN and (d.mood_before <= MOOD_MIN + 1 or hostile)
        if at_bottom or st.unhelpful_streak > persona.temperament.patience:
            self._break(d, "mood hit bottom" if at_bottom else "patience ran out")
            return

        # Facts asked for: release hidden ones, (re)state free ones.
        for act in d.acts:
            if act.kind == ActKind.ask_fact and act.detail and act.detail not in d.give_facts:
                fact = persona.fact(act.detail)
                d.give_facts.append(fact.id)
                if fact.reveal == "on_ask":
                    d.released.append(fact.id)
                    st.released.append(fact.id)
                    d.reasons.append(f"asked for hidden fact {fact.id!r}: released")
        known = set(st.stated) | set(st.released) | set(d.give_facts)

        offers = [a.detail for a in d.acts if a.kind == ActKind.offer and a.detail]
        for res_id in offers:
            res = next(r for r in persona.scenario.acceptable_resolutions if r.id == res_id)
            missing = [f for f in res.requires_facts if f not in known]
            if missing:
                d.reasons.append(f"offer {res_id!r} waits on {', '.join(missing)}: pressing")
                continue
            if st.mood < ACCEPT_MOOD:
                d.reasons.append(f"offer {res_id!r} made while still {mood_label(st.mood)}")
                continue
            st.accepted = d.accepted = res_id
            d.move = Move.accept
            d.reasons.append(f"acceptable offer {res_id!r}: accepted")
            self._check_limits(d)
            return

        if d.give_facts:
            d.move = Move.give_fact
        elif ActKind.reask_fact in found:
            d.move = Move.repeat_fact
            d.give_facts = [a.detail for a in d.acts if a.kind == ActKind.reask_fact and a.detail]
        elif ActKind.bad_offer in found:
            d.move = Move.reject_offer
        elif offers or found & {ActKind.next_steps, ActKind.reflect, ActKind.acknowledge}:
            d.move = Move.demand
        else:
            d.move = Move.complain
        self._check_limits(d)

    def _check_limits(self, d: Decision) -> None:
        if self.state.candidate_turns >= self.persona.limits.max_turns:
            self._end(d, Move.leave, Outcome.max_turns, "turn limit reached")

    def _break(self, d: Decision, why: str) -> None:
        if self.persona.temperament.breaking_point == "manager":
            self._end(d, Move.ask_manager, Outcome.escalated, f"{why}: asks for a manager")
        else:
            self._end(d, Move.leave, Outcome.abandoned, f"{why}: gives up and leaves")

    def _end(self, d: Decision, move: Move, outcome: Outcome, why: str) -> None:
        d.move, d.outcome = move, outcome
        self.state.outcome = outcome
        d.reasons.append(why)

    def end_by_candidate(self) -> Outcome:
        """The candidate pressed "end conversation"."""
        if self.state.outcome is None:
            self.state.outcome = (
                Outcome.resolved if self.state.accepted else Outcome.candidate_closed
            )
        return self.state.outcome
