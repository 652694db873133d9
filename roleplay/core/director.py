"""The director: decides how the customer reacts, for both the scripted and the LLM actor.

For each candidate message the director takes the understanding layer's reading (the same
reader the grader uses), moves the mood by the rules in :data:`MOOD_RULES` and the persona's
temperament, releases hidden facts only when asked, picks the customer's next move and decides
whether the conversation ends. Actors only put the chosen move into words; they never decide
mood, facts or endings, so nothing a candidate types can talk the customer into an ending.

The customer answers what was just said, in this order of precedence:

* blamed, she reacts to the blame; asked for something she must never give (a PIN, a
  password), she refuses; asked for a fact, she gives it (or says again what she already
  said, annoyed); asked about something she does not know, she says so;
* offered an acceptable resolution once what it needs is known, she accepts it when calm
  enough, else she weighs it (``consider_offer``) and takes it on a later turn; an
  unacceptable one she rejects; an offer read with too little confidence she asks about
  (``clarify``) rather than guess;
* accepting is two steps: after accepting she waits for the next steps, asking for them once
  if they did not come, then thanks and closes (``resolved``);
* a close read with confidence before a resolution ends the chat (``candidate_closed``); one
  read with too little confidence she asks about instead, and so she does, once, when the
  candidate offered something she could not place as one of her resolutions;
* otherwise she states what she wants (after empathy, a plan or her facts said back) or
  complains.

Mood rules (mood runs from -5 furious to +5 delighted):

* Base change per act, from :data:`MOOD_RULES`; apologies, acknowledgements, ownership and
  reflecting the customer's facts earn points only the first two times.
* Temperament: each act in ``escalated_by`` costs one more point, each act in ``calmed_by``
  earns one more, and a ``trigger_phrases`` match costs one more.
* A turn gains at most +3 and the mood stays within -5..5.
* A message that steers the simulation (``manipulation``) earns nothing; offers in it are
  ignored.

Endings:

* ``resolved``: an acceptable offer accepted, then closed (see above).
* ``escalated`` / ``abandoned``: the mood at the bottom after a hostile message or from -4,
  or more unhelpful turns in a row than the persona's patience; the breaking point says
  which. A message that gets on with her problem (asks for what is needed, offers, says her
  facts back) keeps even a furious customer on the line. A hard persona is hard, not
  impossible: the first message never ends the chat unless it is hostile, and a customer in
  a good mood never walks out.
* ``candidate_closed``: the candidate closed (or ended the session) before a resolution.
* ``max_turns``: the persona's turn limit. (``time_limit`` is the conversation's: it owns
  the clock, and checks it before a message is read.)
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, Field

from roleplay.core.persona import Act, ActKind, Move, Persona
from roleplay.understanding import DECISIVE_ACTS, CandidateReading, Context, Reader, local_reader
from roleplay.understanding.text import any_match, mentions_fact


class Outcome(StrEnum):
    """How a conversation ended."""

    resolved = "resolved"
    escalated = "escalated"
    abandoned = "abandoned"
    max_turns = "max_turns"
    time_limit = "time_limit"
    candidate_closed = "candidate_closed"


#: Base mood change per act read.
MOOD_RULES: dict[ActKind, int] = {
    ActKind.greet: 0,
    ActKind.apologize: 1,
    ActKind.acknowledge: 1,
    ActKind.ownership: 1,
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
_DIMINISHING = {ActKind.apologize, ActKind.acknowledge, ActKind.ownership, ActKind.reflect}
_HELPFUL = {ActKind.reflect, ActKind.ask_fact, ActKind.offer, ActKind.next_steps}
_HOSTILE = {ActKind.rude, ActKind.blame, ActKind.dismissive}
MOOD_MIN, MOOD_MAX, MAX_GAIN = -5, 5, 3
#: An acceptable offer is taken only if the mood after the turn is at least this.
ACCEPT_MOOD = -2


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
    pending_offer: str | None = Field(
        None, description="An acceptable offer heard but not yet taken (mood, missing facts)."
    )
    accepted: str | None = None
    steps_given: bool = Field(False, description="Next steps given after the acceptance.")
    asked_steps: bool = Field(False, description="She asked what happens next.")
    steps_done: list[str] = Field(
        default_factory=list, description="Must rules whose step the candidate has done."
    )
    vague_offer: bool = Field(
        False, description="The candidate offered something she could not place as a resolution."
    )
    close_checked: bool = Field(
        False, description="She asked, once, what was done when the candidate closed."
    )
    outcome: Outcome | None = None


class Decision(BaseModel):
    """The director's reading of one candidate message and what the customer does next."""

    acts: list[Act]
    unsure: list[Act] = Field(
        default_factory=list,
        description="Acts read with too little confidence to act on: a possible close or "
        "offer the customer asks about, or a possibly hostile remark that costs one point.",
    )
    mood_before: int
    mood_after: int
    move: Move
    give_facts: list[str] = Field(default_factory=list, description="Facts to say now.")
    released: list[str] = Field(default_factory=list, description="Hidden facts released now.")
    offer: str | None = Field(None, description="The resolution the move is about, if any.")
    secret: str | None = Field(
        None, description="The rule broken by asking her for something she must never give."
    )
    accepted: str | None = Field(None, description="Resolution accepted on this turn.")
    outcome: Outcome | None = None
    reasons: list[str] = Field(default_factory=list, description="Why, in plain words.")


class Director:
    """Owns mood, facts and endings for one conversation with one persona."""

    def __init__(self, persona: Persona, reader: Reader | None = None) -> None:
        self.persona = persona
        self.reader = reader or local_reader()
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
            if fact.id in st.stated:
                continue
            if fact.reveal == "on_ask" and fact.id not in st.released:
                continue
            if mentions_fact(text, fact.value):
                st.stated.append(fact.id)

    # ------------------------------------------------------------------ one turn
    def decide(self, text: str) -> Decision:
        """Read one candidate message, update the state and return what happens next."""
        st = self.state
        if st.outcome is not None:
            raise RuntimeError("the conversation has already ended")
        first = st.candidate_turns == 0
        st.candidate_turns += 1
        reading = self.reader.read_candidate(
            text,
            self.persona,
            Context(set(st.stated), first_turn=first, steps_done=set(st.steps_done)),
        )
        st.steps_done += [
            r.rule for r in reading.rules if r.status == "step" and r.rule not in st.steps_done
        ]
        acts, unsure, reasons = self._sort(reading)
        secret = self._secret(reading)
        found = {a.kind for a in acts}
        curt = [a for a in unsure if a.kind in _HOSTILE]
        # Saying a fact back in a sentence that may be brusque ("Monday isn't my concern")
        # is not listening: it earns nothing.
        scoffed = [
            a
            for a in acts
            if a.kind == ActKind.reflect and any(a.quote.lower() in c.quote.lower() for c in curt)
        ]
        if scoffed and len(scoffed) == sum(a.kind == ActKind.reflect for a in acts):
            found.discard(ActKind.reflect)
            reasons.append("a fact said back in a possibly brusque sentence: no credit")
        delta = self._mood(found, text, reasons)
        if curt and not found & _HOSTILE:
            # Possibly rude, blaming or dismissive, read with too little confidence: it stings
            # a little, as it would a real customer, but is not treated as an insult (the
            # grader does not count it either).
            delta -= 1
            reasons.append(f"{curt[0].kind.value}? ({curt[0].confidence:.2f}): curt at most, -1")
        if secret:
            delta -= 1
            reasons.append(f"asked for a secret ({secret}): -1")
        before = st.mood
        st.mood = max(MOOD_MIN, min(MOOD_MAX, st.mood + delta))
        helpful = bool(found & _HELPFUL) or (
            bool(found & {ActKind.apologize, ActKind.acknowledge, ActKind.ownership}) and delta > 0
        )
        if helpful and delta >= 0:
            st.unhelpful_streak = 0
        elif not (first and delta >= 0):
            st.unhelpful_streak += 1
        decision = Decision(
            acts=acts,
            unsure=unsure,
            mood_before=before,
            mood_after=st.mood,
            move=Move.complain,
            secret=secret,
            reasons=reasons,
        )
        self._choose(decision, found, reading, first)
        return decision

    def _sort(self, reading: CandidateReading) -> tuple[list[Act], list[Act], list[str]]:
        """The acts to act on, the ones too uncertain to act on, and why."""
        acts: list[Act] = []
        unsure: list[Act] = []
        reasons: list[str] = []
        for a in reading.acts:
            act = Act(kind=a.kind, detail=a.detail, quote=a.quote, confidence=a.confidence)
            decisive = a.kind in DECISIVE_ACTS or (a.kind == ActKind.offer and a.detail)
            if not a.present:
                continue
            if a.kind in _HOSTILE and not a.certain:
                unsure.append(act)
            elif decisive and not a.certain:
                unsure.append(act)
                reasons.append(f"{a.kind.value} unclear ({a.confidence:.2f}): asked, not acted on")
            else:
                acts.append(act)
        return acts, unsure, reasons

    def _secret(self, reading: CandidateReading) -> str | None:
        """The rule a message breaks by asking for something she must never give."""
        secret_rules = {r.id for r in self.persona.policy_rules if r.asks_for_secret}
        return next(
            (r.rule for r in reading.rules if r.status == "breach" and r.rule in secret_rules),
            None,
        )

    def _mood(self, found: set[ActKind], text: str, reasons: list[str]) -> int:
        st, temper = self.state, self.persona.temperament
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
        return min(delta, MAX_GAIN)

    def _choose(
        self, d: Decision, found: set[ActKind], reading: CandidateReading, first: bool
    ) -> None:
        st, persona = self.state, self.persona
        hostile = bool(found & _HOSTILE)
        injected = ActKind.manipulation in found

        if st.accepted:
            self._after_acceptance(d, found, hostile)
            return

        if self._breaks(d, hostile, first):
            return

        if ActKind.blame in found:
            d.move = Move.react_blame
            d.reasons.append("blamed for the problem: reacts")
            self._check_limits(d)
            return
        if d.secret:
            d.move = Move.refuse_secret
            d.reasons.append("asked for something she must never give: refuses")
            self._check_limits(d)
            return

        # Facts asked for: release hidden ones, (re)state free ones.
        asked = [a.detail for a in d.acts if a.kind == ActKind.ask_fact and a.detail]
        for fact_id in asked:
            if fact_id in d.give_facts:
                continue
            fact = persona.fact(fact_id)
            d.give_facts.append(fact.id)
            if fact.reveal == "on_ask" and fact.id not in st.released:
                d.released.append(fact.id)
                st.released.append(fact.id)
                d.reasons.append(f"asked for hidden fact {fact.id!r}: released")
        known_before = set(st.stated) | (set(st.released) - set(d.released))

        offers = [] if injected else self._offers(d)
        if not injected and any(a.kind == ActKind.offer and not a.detail for a in d.acts):
            st.vague_offer = True
        if offers and not d.give_facts:
            if self._take(d, offers, known_before):
                return
        elif offers:
            st.pending_offer = offers[0]  # she answers the question first
            d.reasons.append(f"offer {offers[0]!r} heard; answering the question first")

        if ActKind.close in found and not offers:
            # Closing right after an offer she was weighing: she takes it (or says goodbye
            # when the next steps came too); closing with nothing on the table ends it.
            if not hostile and self._pending(d):
                return
            if not hostile and st.vague_offer and not st.close_checked:
                # Something was offered that she could not place: before the chat ends she
                # asks what was actually done, once, rather than guess either way.
                st.close_checked = True
                d.move = Move.clarify
                d.reasons.append("closing after an offer she could not place: asks what was done")
                self._check_limits(d)
                return
            self._end(d, Move.leave, Outcome.candidate_closed, "candidate closed unresolved")
            return

        if d.give_facts:
            d.move = Move.give_fact
        elif ActKind.reask_fact in found:
            d.move = Move.repeat_fact
            d.give_facts = [a.detail for a in d.acts if a.kind == ActKind.reask_fact and a.detail]
        elif self._asks_unknown(d):
            d.move = Move.dont_know
        elif ActKind.bad_offer in found and not injected:
            d.move = Move.reject_offer
            d.offer = next(a.detail for a in d.acts if a.kind == ActKind.bad_offer)
        elif any(a.kind not in _HOSTILE for a in d.unsure):
            d.move = Move.clarify
            offer = next((a for a in d.unsure if a.kind == ActKind.offer), None)
            d.offer = offer.detail if offer else None
            if d.offer in {r.id for r in self.persona.scenario.acceptable_resolutions}:
                st.pending_offer = d.offer  # a plain "yes" or the next steps confirm it
        elif not hostile and self._pending(d):
            return
        elif found & {ActKind.next_steps, ActKind.reflect, ActKind.acknowledge, ActKind.ownership}:
            d.move = Move.demand
        else:
            d.move = Move.complain
        self._check_limits(d)

    def _pending(self, d: Decision) -> bool:
        """An offer heard earlier, now that its facts are known and she has calmed down."""
        st = self.state
        if st.pending_offer is None:
            return False
        return self._take(d, [st.pending_offer], set(st.stated) | set(st.released))

    def _offers(self, d: Decision) -> list[str]:
        acceptable = {r.id for r in self.persona.scenario.acceptable_resolutions}
        return [a.detail for a in d.acts if a.kind == ActKind.offer and a.detail in acceptable]

    def _take(self, d: Decision, offers: list[str], known: set[str]) -> bool:
        """Accept the first offer whose facts are known when calm enough; else weigh it.
        Returns whether the move was chosen."""
        st, persona = self.state, self.persona
        for res_id in offers:
            res = next(r for r in persona.scenario.acceptable_resolutions if r.id == res_id)
            missing = [f for f in res.requires_facts if f not in known]
            if missing:
                st.pending_offer = res_id
                d.reasons.append(f"offer {res_id!r} waits on {', '.join(missing)}: pressing")
                continue
            d.offer = res_id
            if st.mood < ACCEPT_MOOD:
                st.pending_offer = res_id
                d.move = Move.consider_offer
                d.reasons.append(f"offer {res_id!r} heard while still {mood_label(st.mood)}")
                self._check_limits(d)
                return True
            st.accepted = d.accepted = res_id
            st.pending_offer = None
            d.move = Move.accept
            d.reasons.append(f"acceptable offer {res_id!r}: accepted")
            said = {a.kind for a in d.acts}
            if ActKind.next_steps in said:
                st.steps_given = True
                if ActKind.close in said:  # the plan and a goodbye in one message
                    self._end(
                        d, Move.thank_close, Outcome.resolved, "accepted, steps given; closing"
                    )
                    return True
            self._check_limits(d)
            return True
        return False

    def _after_acceptance(self, d: Decision, found: set[ActKind], hostile: bool) -> None:
        st = self.state
        if hostile:
            d.move = Move.complain
            d.reasons.append("hostile after accepting: complains")
            self._check_limits(d)
            return
        if ActKind.next_steps in found:
            st.steps_given = True
        if st.steps_given or st.asked_steps:
            self._end(d, Move.thank_close, Outcome.resolved, "resolution accepted; closing")
            return
        st.asked_steps = True
        d.move = Move.ask_next_steps
        d.offer = st.accepted
        d.reasons.append("accepted, waiting for the next steps")
        self._check_limits(d)

    def _breaks(self, d: Decision, hostile: bool, first: bool) -> bool:
        """Whether she gives up now: at the bottom after a hostile message (or from -4), or
        out of patience. Never on a first message that is not hostile, never when pleased."""
        st, persona = self.state, self.persona
        if first and not hostile:
            return False
        if st.mood >= 1:
            return False
        # At the bottom she hangs up on a hostile message, or on one more unhelpful one; a
        # message that gets on with her problem (asks what is needed, offers, says it back)
        # keeps her on the line, so a customer who starts furious can still be turned.
        engaged = any(a.kind in _HELPFUL for a in d.acts) and d.mood_after >= d.mood_before
        at_bottom = st.mood <= MOOD_MIN and (
            hostile or (d.mood_before <= MOOD_MIN + 1 and not engaged)
        )
        if at_bottom or st.unhelpful_streak > persona.temperament.patience:
            self._break(d, "mood hit bottom" if at_bottom else "patience ran out")
            return True
        return False

    def _asks_unknown(self, d: Decision) -> bool:
        """A question about something she does not know (scenario ``does_not_know``)."""
        unknown = self.persona.scenario.does_not_know
        if not unknown or not any(a.kind == ActKind.question for a in d.acts):
            return False
        quotes = " ".join(a.quote for a in d.acts if a.kind == ActKind.question).lower()
        return any(
            sum(1 for w in item.lower().split() if len(w) > 3 and w in quotes) >= 2
            for item in unknown
        )

    def _check_limits(self, d: Decision) -> None:
        if self.state.candidate_turns >= self.persona.limits.max_turns and d.outcome is None:
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
