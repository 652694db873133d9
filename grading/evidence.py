"""The evidence layer: scores each criterion from what the understanding layer read in every
turn, citing the turns it rests on. It always runs, offline and deterministic.

1. :func:`read` reads every turn once, with the same reader the live director uses: each
   candidate message's acts and policy-rule readings, each customer message's move (from the
   engine's own annotation where the transcript has one). Decisive readings (an acceptance,
   a close, a broken must-not rule, a message addressed to the grader) become
   :class:`Judgement` objects with their confidence.
2. :func:`derive` builds the story from the readings: which offer was accepted, how the
   conversation ended, which rules were kept. It takes ``assume``, a judgement key mapped to
   true or false, so the grader can ask what the verdict would be if an uncertain judgement
   went the other way (see :mod:`grading.grader`).
3. The analyzers score each criterion against the rubric's level descriptors.

Candidate text addressed to the grader or the simulation earns nothing: its turns never count
as positive evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import regex

from grading import writing
from grading.report import CriterionScore, Evidence, Flag
from grading.rubric import Criterion
from roleplay.core.director import Director, Outcome
from roleplay.core.persona import ActKind, Move, Persona, PolicyRule, card_items
from roleplay.core.transcript import Transcript
from roleplay.understanding import (
    ActReading,
    CandidateReading,
    Context,
    CustomerMove,
    CustomerReading,
    Reader,
    local_reader,
)
from roleplay.understanding.text import any_affirmed, any_match, mentions_fact

JudgementKind = Literal["accept", "close", "breach", "injection", "hostile"]
#: Tone acts that cost calmness. One sentence in a whole transcript read as hostile at a
#: middling confidence is more often a misreading than not (the chance of a false reading
#: grows with every sentence), so below the reader's "certain" it is not counted alone. It
#: counts when two or more such turns make a pattern, or when the customer's next turn shows
#: it landed badly (she pushes back, asks for a manager, leaves); then as a brusque
#: (dismissive) turn rather than as the graver blame or insult the reader was unsure of. A
#: verdict that would change either way is left to a reviewer.
HOSTILE_ACTS = (ActKind.rude, ActKind.blame, ActKind.dismissive)
#: Turns with an uncertain hostile reading that make a pattern.
TONE_PATTERN = 2


@dataclass(frozen=True)
class Judgement:
    """A decisive reading the verdict may rest on, and how sure the reader was."""

    kind: JudgementKind
    turn: int
    detail: str
    confidence: float
    certain: bool
    likely: bool  # what the grade assumes when nothing else is said

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.turn}:{self.detail}"

    @property
    def criterion(self) -> str:
        """The criterion a reviewer's override settles it with."""
        return {
            "accept": "resolution",
            "close": "resolution",
            "breach": "policy_adherence",
            "injection": "calmness",
            "hostile": "calmness",
        }[self.kind]

    def describe(self) -> str:
        what = {
            "accept": "the customer accepted the offer",
            "close": "the candidate closed the conversation",
            "breach": f"policy rule {self.detail} was broken",
            "injection": "the candidate addressed the grader",
            "hostile": f"the candidate was {_TONE_WORDS.get(self.detail, self.detail)}",
        }[self.kind]
        return f"turn {self.turn}: unsure whether {what} (confidence {self.confidence:.2f})"


_TONE_WORDS = {"rude": "rude", "blame": "blaming the customer", "dismissive": "dismissive"}


@dataclass
class Readings:
    """Every turn read once."""

    transcript: Transcript
    persona: Persona
    reader: str
    candidate: dict[int, CandidateReading] = field(default_factory=dict)
    customer: dict[int, CustomerReading] = field(default_factory=dict)
    engine_moves: dict[int, Move] = field(default_factory=dict)
    moods: dict[int, int | None] = field(default_factory=dict)
    stated: dict[int, set[str]] = field(default_factory=dict)  # facts known before each turn
    judgements: list[Judgement] = field(default_factory=list)

    def text(self, turn: int) -> str:
        return self.transcript.turns[turn].text

    def candidate_turns(self) -> list[int]:
        return sorted(self.candidate)


def _engine_move(turn: object) -> Move | None:
    move = getattr(turn, "move", None)
    return move if getattr(turn, "source", None) else None


def read(transcript: Transcript, persona: Persona, reader: Reader | None = None) -> Readings:
    """Read every turn; customer moves from the engine's annotations where present."""
    reader = reader or local_reader()
    r = Readings(transcript, persona, reader.name)
    director = Director(persona, reader)  # only for the moods of unannotated transcripts
    stated: set[str] = set()
    asked: set[str] = set()  # facts the candidate just asked for
    done: set[str] = set()  # must rules whose step the candidate has done
    first = True
    for i, turn in enumerate(transcript.turns):
        r.stated[i] = set(stated)
        if turn.speaker == "customer":
            for fact in persona.scenario.facts:
                if fact.id not in stated and mentions_fact(turn.text, fact.value):
                    stated.add(fact.id)
            stated.update(turn.released)
            # A customer answers what they were just asked (in their own words).
            stated.update(asked)
            asked = set()
            move = _engine_move(turn)
            if move is not None:
                r.engine_moves[i] = move
            elif i > 0:
                r.customer[i] = reader.read_customer(turn.text)
            r.moods[i] = turn.mood if turn.mood is not None else director.state.mood
            director.note_customer_turn(turn.text, released=turn.released)
            continue
        reading = reader.read_candidate(
            turn.text, persona, Context(set(stated), first_turn=first, steps_done=set(done))
        )
        first = False
        r.candidate[i] = reading
        done.update(x.rule for x in reading.rules if x.status == "step")
        asked = {a.detail for a in reading.acts if a.kind == ActKind.ask_fact and a.detail}
        if director.state.outcome is None:
            director.decide(turn.text)
    _judgements(r)
    return r


def _judgements(r: Readings) -> None:
    offered_before: dict[int, bool] = {}
    acceptable = {res.id for res in r.persona.scenario.acceptable_resolutions}
    seen_offer = False
    tone_turns: set[int] = set()
    for i in range(len(r.transcript.turns)):
        reading = r.candidate.get(i)
        if reading is not None:
            for act in reading.acts:
                judged: Judgement | None = None
                if act.kind == ActKind.close:
                    judged = _judge("close", i, "close", act)
                elif act.kind == ActKind.manipulation:
                    judged = _judge("injection", i, "grader", act)
                elif act.kind in HOSTILE_ACTS and act.present and not _tone_settled(reading, act):
                    judged = Judgement("hostile", i, act.kind.value, act.confidence, False, False)
                    tone_turns.add(i)
                elif act.kind == ActKind.offer and act.detail in acceptable:
                    seen_offer = True
                if judged is not None:
                    r.judgements.append(judged)
            for rule in reading.rules:
                if rule.status == "breach":
                    r.judgements.append(
                        Judgement("breach", i, rule.rule, rule.confidence, rule.certain, True)
                    )
        offered_before[i] = seen_offer
        customer = r.customer.get(i)
        if customer is not None and offered_before.get(i - 1, False):
            accept = customer.scores.get(CustomerMove.accept.value, 0.0)
            if customer.move in (CustomerMove.accept, CustomerMove.thank_close):
                r.judgements.append(
                    Judgement("accept", i, "accept", customer.confidence, customer.certain, True)
                )
            elif accept >= 0.4:
                r.judgements.append(Judgement("accept", i, "accept", accept, False, False))
    pattern = len(tone_turns) >= TONE_PATTERN
    r.judgements = [
        replace(j, likely=True)
        if j.kind == "hostile" and (pattern or _taken_badly(r, j.turn))
        else j
        for j in r.judgements
    ]


#: Customer moves that show a turn landed badly: she pushes back, wants a manager, leaves.
_BADLY_READ = {CustomerMove.reject, CustomerMove.ask_manager, CustomerMove.leave}
_BADLY_PLAYED = {Move.react_blame, Move.ask_manager, Move.leave}


def _taken_badly(r: Readings, turn: int) -> bool:
    """Whether the customer's next turn shows the candidate's turn landed badly: what a QA
    lead weighs beside the words when a remark may or may not have been brusque."""
    played = r.engine_moves.get(turn + 1)
    if played is not None:
        return played in _BADLY_PLAYED
    said = r.customer.get(turn + 1)
    return said is not None and said.move in _BADLY_READ


def _tone_settled(reading: CandidateReading, act: ActReading) -> bool:
    """A hostile reading counts when it is certain, or when the same message is certainly
    hostile in another way (one message keeps one tone)."""
    return act.certain or any(
        a.kind in HOSTILE_ACTS and a.certain and a is not act for a in reading.acts
    )


def _judge(kind: JudgementKind, turn: int, detail: str, act: ActReading) -> Judgement | None:
    """A judgement for a decisive act the reader thinks is there (below that, it is not)."""
    if not act.present:
        return None
    return Judgement(kind, turn, detail, act.confidence, act.certain, True)


# ------------------------------------------------------------------------- the story
@dataclass
class RuleOutcome:
    rule: PolicyRule
    status: str  # "kept", "broken", "not_applicable"
    turns: list[int]
    quote: str | None = None


@dataclass
class Annotations:
    """The story of a transcript, under a set of assumptions about uncertain judgements."""

    readings: Readings
    acts: dict[int, list[ActReading]] = field(default_factory=dict)
    moves: dict[int, Move | None] = field(default_factory=dict)
    injections: dict[int, str] = field(default_factory=dict)
    accepted_turn: int | None = None
    accepted: str | None = None
    outcome: Outcome | None = None
    rules: list[RuleOutcome] = field(default_factory=list)

    @property
    def transcript(self) -> Transcript:
        return self.readings.transcript

    @property
    def persona(self) -> Persona:
        return self.readings.persona

    @property
    def moods(self) -> dict[int, int | None]:
        return self.readings.moods

    def candidate(self) -> list[int]:
        return sorted(self.acts)

    def has(self, turn: int, kind: ActKind, *, certain: bool = False) -> bool:
        return any(a.kind == kind and (a.certain or not certain) for a in self.acts.get(turn, []))

    def quote(self, turn: int, kind: ActKind) -> str | None:
        return next((a.quote for a in self.acts.get(turn, []) if a.kind == kind), None)

    def turns_with(
        self, kind: ActKind, *, positive: bool = False, certain: bool = False
    ) -> list[int]:
        return [
            t
            for t in self.candidate()
            if self.has(t, kind, certain=certain) and not (positive and t in self.injections)
        ]

    def text(self, turn: int) -> str:
        return self.transcript.turns[turn].text


def derive(r: Readings, assume: dict[str, bool] | None = None) -> Annotations:
    """The story under ``assume`` (judgement key → true/false; the rest as likely)."""
    assume = assume or {}
    taken = {j.key: assume.get(j.key, j.likely) for j in r.judgements}
    by_turn: dict[tuple[str, int], bool] = {}
    for j in r.judgements:
        by_turn[(j.kind, j.turn)] = by_turn.get((j.kind, j.turn), False) or taken[j.key]
    ann = Annotations(r)
    for i, reading in r.candidate.items():
        kept: list[ActReading] = []
        for act in reading.acts:
            if act.kind == ActKind.close and not by_turn.get(("close", i), False):
                continue
            if act.kind in HOSTILE_ACTS and not _tone_settled(reading, act):
                if not taken.get(f"hostile:{i}:{act.kind.value}", False):
                    continue
                # an uncertain reading counts as part of a pattern of brusque turns, not as
                # the graver blame or insult the reader was unsure of
                act = act.model_copy(update={"kind": ActKind.dismissive})
            if act.kind == ActKind.manipulation:
                if not by_turn.get(("injection", i), False):
                    continue
                ann.injections[i] = act.quote
            kept.append(act)
        ann.acts[i] = kept
    for i, move in r.engine_moves.items():
        ann.moves[i] = move
    for i, said in r.customer.items():
        ann.moves[i] = _MOVES.get(said.move)
    _acceptance(ann, by_turn)
    ann.outcome = r.transcript.outcome or _infer_outcome(ann)
    ann.rules = _rules(ann, {j.key for j in r.judgements if taken[j.key] and j.kind == "breach"})
    return ann


_MOVES = {
    CustomerMove.accept: Move.accept,
    CustomerMove.reject: Move.reject_offer,
    CustomerMove.ask_manager: Move.ask_manager,
    CustomerMove.leave: Move.leave,
    CustomerMove.thank_close: Move.thank_close,
    CustomerMove.other: None,
}


def _acceptance(ann: Annotations, by_turn: dict[tuple[str, int], bool]) -> None:
    """The first acceptance of an acceptable offer whose required facts were known."""
    r = ann.readings
    acceptable = {res.id: res for res in r.persona.scenario.acceptable_resolutions}
    last_offer: str | None = None
    for i in range(len(r.transcript.turns)):
        if i in ann.acts:
            if i in ann.injections:
                continue
            for act in ann.acts[i]:
                if act.kind == ActKind.offer and act.detail in acceptable:
                    last_offer = act.detail
            continue
        if last_offer is None:
            continue
        accepted = (
            ann.moves.get(i) == Move.accept
            if i in r.engine_moves
            else by_turn.get(("accept", i), False)
        )
        if not accepted:
            continue
        needed = set(acceptable[last_offer].requires_facts)
        if needed <= r.stated.get(i, set()) | _said_by(r, i):
            ann.accepted_turn, ann.accepted = i, last_offer
            ann.moves[i] = Move.accept
            return


def _said_by(r: Readings, turn: int) -> set[str]:
    """Facts the customer says in ``turn`` itself (an acceptance may come with the fact)."""
    text = r.text(turn)
    return {f.id for f in r.persona.scenario.facts if mentions_fact(text, f.value)}


def _infer_outcome(ann: Annotations) -> Outcome | None:
    """The ending of a transcript that does not state one."""
    turns = ann.transcript.turns
    if not turns:
        return None
    if ann.accepted_turn is not None:
        return Outcome.resolved
    last = len(turns) - 1
    move = ann.moves.get(last)
    closes = ann.turns_with(ActKind.close)
    closed_late = bool(closes) and closes[-1] >= last - 1
    if move == Move.ask_manager:
        return Outcome.escalated
    if move == Move.leave and not closed_late:
        return Outcome.abandoned
    if closed_late:
        return Outcome.candidate_closed
    if move in (Move.leave, Move.thank_close):
        return Outcome.abandoned
    return None


def _rules(ann: Annotations, breaches: set[str]) -> list[RuleOutcome]:
    """Each policy rule over the candidate's turns: must-not rules broken where a breach
    reading is taken; must rules kept when their step comes before what it guards."""
    r = ann.readings
    out: list[RuleOutcome] = []
    cands = ann.candidate()
    for rule in r.persona.policy_rules:
        if rule.kind == "must_not":
            broken = [
                t for t in cands if any(k.startswith(f"breach:{t}:{rule.id}") for k in breaches)
            ]
            quote = next(
                (x.quote for t in broken[:1] for x in r.candidate[t].rules if x.rule == rule.id),
                None,
            )
            out.append(RuleOutcome(rule, "broken" if broken else "kept", broken, quote))
            continue
        if rule.offers:
            out.append(_entitlement(ann, rule))
            continue
        trigger = _trigger(ann, rule)
        if trigger is False:
            out.append(RuleOutcome(rule, "not_applicable", []))
            continue
        scope = [t for t in cands if trigger is None or t <= trigger]
        met = _step(ann, rule, scope)
        if met is not None:
            out.append(RuleOutcome(rule, "kept", [met[0]], met[1]))
        else:
            turns = [trigger] if isinstance(trigger, int) else []
            out.append(RuleOutcome(rule, "broken", turns))
    return out


def _step(ann: Annotations, rule: PolicyRule, turns: list[int]) -> tuple[int, str] | None:
    """The first of ``turns`` doing a must rule's step, and its words: read as the rule's
    own step (its examples), or as asking for one of the facts it ``asks`` for, or as offering
    one of the resolutions it ``offers``."""
    asks = {ActKind.ask_fact, ActKind.reask_fact}
    for t in turns:
        for x in ann.readings.candidate[t].rules:
            if x.rule == rule.id and x.status == "step":
                return t, x.quote
        for a in ann.acts[t]:
            if (a.kind in asks and a.detail in rule.asks) or (
                a.kind == ActKind.offer and a.detail in rule.offers
            ):
                return t, a.quote
    return None


def _entitlement(ann: Annotations, rule: PolicyRule) -> RuleOutcome:
    """A must rule that names what the customer is entitled to: kept when one of its
    resolutions is offered; it applies once the facts one of them requires are known."""
    offered = _step(ann, rule, ann.candidate())
    if offered is not None:
        return RuleOutcome(rule, "kept", [offered[0]], offered[1])
    known = _released(ann)
    applies = any(
        set(res.requires_facts) <= known
        for res in ann.persona.scenario.acceptable_resolutions
        if res.id in rule.offers
    )
    return RuleOutcome(rule, "broken" if applies else "not_applicable", [])


def _trigger(ann: Annotations, rule: PolicyRule) -> int | Literal[False] | None:
    """The turn a must rule's step must come by: the first offer it guards, the first match
    of its ``when`` hint, None for "by the end", or False when it never applied."""
    if rule.before:
        offers = [
            t
            for t in ann.candidate()
            if any(
                a.kind in (ActKind.offer, ActKind.bad_offer) and a.detail in rule.before
                for a in ann.acts[t]
            )
        ]
        return offers[0] if offers else False
    if rule.detect is not None and rule.detect.when:
        hits = [t for t in ann.candidate() if any_affirmed(rule.detect.when, ann.text(t))]
        return hits[0] if hits else False
    return None


# ------------------------------------------------------------------------- analyzers
Result = tuple[int | None, str, list[Evidence]]


#: Where one sentence ends and the next begins.
_BOUNDARY = regex.compile(r"(?<=[.!?…])\s+|\n+")


def whole_sentences(text: str, quote: str | None) -> str:
    """The whole sentence(s) of ``text`` holding ``quote`` (a reader's quote may be a
    fragment, "box was"), or the first sentence when there is no quote; verbatim."""
    at = text.find(quote) if quote else -1
    end_of_quote = at + len(quote) if quote and at >= 0 else 0
    if at < 0:
        at = 0
    start = max((m.end() for m in _BOUNDARY.finditer(text, 0, at + 1) if m.end() <= at), default=0)
    after = _BOUNDARY.search(text, max(end_of_quote, start + 1))
    return text[start : after.start() if after else len(text)].strip()


def _ev(ann: Annotations, turn: int, quote: str | None) -> Evidence:
    return Evidence(turn=turn, quote=whole_sentences(ann.text(turn), quote))


def calmness(ann: Annotations) -> Result:
    """Rubric levels: hostile 1; blame or dismissive more than once 2; one dismissive slip
    3; robotic recital of policy 4; steady and courteous 5."""
    rude = ann.turns_with(ActKind.rude)
    blame = ann.turns_with(ActKind.blame)
    dismissive = ann.turns_with(ActKind.dismissive)
    recital = ann.turns_with(ActKind.policy_recital)
    evidence = [_ev(ann, t, ann.quote(t, ActKind.rude)) for t in rude[:2]]
    evidence += [_ev(ann, t, ann.quote(t, ActKind.blame)) for t in blame[:2]]
    evidence += [_ev(ann, t, ann.quote(t, ActKind.dismissive)) for t in dismissive[:2]]
    if rude:
        return 1, f"hostile or insulting language ({len(rude)}x)", evidence
    if blame or len(dismissive) >= 2:
        parts = []
        if blame:
            parts.append(f"blames the customer ({len(blame)}x)")
        if dismissive:
            parts.append(f"dismissive remarks ({len(dismissive)}x)")
        return 2, "; ".join(parts), evidence
    if dismissive:
        return 3, "a dismissive slip", evidence
    if recital:
        ev = [_ev(ann, t, ann.quote(t, ActKind.policy_recital)) for t in recital[:1]]
        return 4, "courteous, but stiff: recites policy", ev
    hot = [i for i, m in ann.moods.items() if m is not None and m <= -3]
    genuine = [t for t in ann.candidate() if t not in ann.injections]
    after = [t for t in genuine if any(h < t for h in hot)]
    unsure = _unsure_tone(ann)
    if after:
        return 5, "stays courteous while the customer is angry" + unsure, [_ev(ann, after[0], None)]
    return 5, "courteous throughout" + unsure, [_ev(ann, t, None) for t in genuine[:1]]


def _unsure_tone(ann: Annotations) -> str:
    """The hostile readings left uncounted for want of confidence, for the rationale."""
    turns = sorted(
        {j.turn for j in ann.readings.judgements if j.kind == "hostile"}
        - {t for t in ann.candidate() for a in ann.acts[t] if a.kind in HOSTILE_ACTS}
    )
    if not turns:
        return ""
    return f" (an uncertain reading of tone at turn(s) {', '.join(map(str, turns))} not counted)"


def _needed_facts(persona: Persona) -> set[str]:
    """Hidden facts an acceptable resolution needs: the questions a good agent must ask."""
    needed = {f for res in persona.scenario.acceptable_resolutions for f in res.requires_facts}
    return {f for f in needed if persona.fact(f).reveal == "on_ask"} or {
        f.id for f in persona.scenario.facts if f.reveal == "on_ask"
    }


def active_listening(ann: Annotations) -> Result:
    reflected = {
        a.detail
        for t in ann.turns_with(ActKind.reflect, positive=True)
        for a in ann.acts[t]
        if a.kind == ActKind.reflect
    }
    asked_turns = ann.turns_with(ActKind.ask_fact, positive=True)
    asked = {a.detail for t in asked_turns for a in ann.acts[t] if a.kind == ActKind.ask_fact}
    reasks = ann.turns_with(ActKind.reask_fact)
    needed = _needed_facts(ann.persona)
    released = needed & (asked | _released(ann))
    ignored = released - asked - reflected - _acted_on(ann)
    # Level 4 is "reflects the customer's facts and asks the right questions": finding out
    # everything needed without ever saying back a fact or a feeling is the robotic 3.
    heard = bool(reflected) or bool(ann.turns_with(ActKind.acknowledge, positive=True))
    if needed and released == needed and reflected:
        score = 5
    elif (needed and released == needed and heard) or len(reflected) >= 2:
        score = 4
    elif asked or reflected or ann.turns_with(ActKind.question, positive=True):
        score = 3
    else:
        score = 2
    score -= len(reasks) + len(ignored)
    evidence = [
        _ev(ann, t, ann.quote(t, ActKind.reflect))
        for t in ann.turns_with(ActKind.reflect, positive=True)[:2]
    ]
    evidence += [_ev(ann, t, ann.quote(t, ActKind.ask_fact)) for t in asked_turns[:2]]
    evidence += [_ev(ann, t, ann.quote(t, ActKind.reask_fact)) for t in reasks[:2]]
    notes = []
    if reflected:
        names = sorted(_fact_name(ann.persona, str(f)) for f in reflected)
        notes.append(f"says back what the customer told them ({'; '.join(names)})")
    if asked:
        notes.append("asks for what it needs")
    missing = needed - released
    if missing:
        names = sorted(_fact_name(ann.persona, f) for f in missing)
        notes.append(f"never finds out {', '.join(names)}")
    if ignored:
        names = sorted(_fact_name(ann.persona, f) for f in ignored)
        notes.append(f"never takes up what the customer raised ({'; '.join(names)})")
    if reasks:
        notes.append(f"asks again for facts already given ({len(reasks)}x)")
    if not notes:
        notes.append("no reflection of the customer's facts and no clarifying question")
    return max(1, min(5, score)), "; ".join(notes), evidence


def _acted_on(ann: Annotations) -> set[str]:
    """Facts the candidate acted on: those an acceptable resolution they offered rests on."""
    acceptable = {res.id: res for res in ann.persona.scenario.acceptable_resolutions}
    return {
        f
        for t in ann.turns_with(ActKind.offer, positive=True)
        for a in ann.acts[t]
        if a.kind == ActKind.offer and a.detail in acceptable
        for f in acceptable[a.detail].requires_facts
    }


def _released(ann: Annotations) -> set[str]:
    """Hidden facts the customer has said by the end (asked, volunteered or released)."""
    end = len(ann.transcript.turns)
    return ann.readings.stated.get(end - 1, set()) | _said_by(ann.readings, end - 1)


def _fact_name(persona: Persona, fact_id: str) -> str:
    fact = persona.fact(fact_id)
    return fact.description or fact_id.replace("_", " ")


def empathy(ann: Annotations) -> Result:
    found: dict[str, list[int]] = {"apology": [], "acknowledgement": [], "ownership": []}
    evidence: list[Evidence] = []
    for key, kind in (
        ("apology", ActKind.apologize),
        ("acknowledgement", ActKind.acknowledge),
        ("ownership", ActKind.ownership),
    ):
        turns = ann.turns_with(kind, positive=True)
        found[key] = turns
        if turns:
            evidence.append(_ev(ann, turns[0], ann.quote(turns[0], kind)))
    score = (
        1
        + (1 if found["apology"] else 0)
        + (2 if found["acknowledgement"] else 0)
        + (1 if found["ownership"] else 0)
    )
    blames = ann.turns_with(ActKind.blame)
    if blames:
        score -= 2
        evidence.extend(_ev(ann, t, ann.quote(t, ActKind.blame)) for t in blames[:1])
    shown = [k for k, v in found.items() if v]
    rationale = ("shows " + ", ".join(shown)) if shown else "no acknowledgement or apology"
    if blames:
        rationale += "; blames the customer"
    return max(1, min(5, score)), rationale, evidence


def unchecked_card_items(persona: Persona) -> list[int]:
    """Policy-card items no rule checks."""
    covered = {n for r in persona.policy_rules for n in r.covers}
    return [n for n in card_items(persona.briefing.policy_card) if n not in covered]


def policy_adherence(ann: Annotations) -> Result:
    rules = ann.rules
    unchecked = unchecked_card_items(ann.persona)
    note = (
        f"; policy card item(s) {', '.join(map(str, unchecked))} not checked" if unchecked else ""
    )
    if not rules:
        return 5, "the persona defines no checkable policy rules" + note, []
    broken_not = [r for r in rules if r.rule.kind == "must_not" and r.status == "broken"]
    missed = [r for r in rules if r.rule.kind == "must" and r.status == "broken"]
    evidence = [_ev(ann, r.turns[0], r.quote) for r in broken_not + missed if r.turns]
    if broken_not:
        names = ", ".join(r.rule.id for r in broken_not)
        return 1, f"breaks must-not rule(s): {names}{note}", evidence
    if missed:
        names = ", ".join(r.rule.id for r in missed)
        return max(2, 5 - len(missed)), f"misses required step(s): {names}{note}", evidence
    done = [r for r in rules if r.rule.kind == "must" and r.status == "kept"]
    evidence = [_ev(ann, r.turns[0], r.quote) for r in done if r.turns][:3]
    steps = (
        f"; required steps done: {', '.join(r.rule.id for r in done)}"
        if done
        else "; no action that needed a required step"
    )
    return 5, f"breaks none of the {len(rules)} checked rules{steps}{note}", evidence


def resolution(ann: Annotations) -> Result:
    outcome = ann.outcome
    offers = ann.turns_with(ActKind.offer, positive=True)
    bad = ann.turns_with(ActKind.bad_offer)
    evidence = [_ev(ann, t, ann.quote(t, ActKind.offer)) for t in offers[:2]]
    if ann.accepted_turn is not None:
        evidence.append(_ev(ann, ann.accepted_turn, None))
        steps = [
            t
            for t in ann.turns_with(ActKind.next_steps, positive=True)
            if offers and t >= offers[0]
        ]
        if steps:
            evidence.append(_ev(ann, steps[0], ann.quote(steps[0], ActKind.next_steps)))
            return 5, "acceptable resolution accepted and next steps confirmed", evidence
        return 4, "acceptable resolution accepted, next steps not confirmed", evidence
    if outcome == Outcome.candidate_closed:
        return 1, "closed the conversation before resolving it", evidence
    if outcome in (Outcome.escalated, Outcome.abandoned):
        return (2 if offers or bad else 1), f"the customer {outcome.value} unresolved", evidence
    if offers:
        return 3, "offered an acceptable resolution that was not accepted", evidence
    if bad:
        evidence += [_ev(ann, t, ann.quote(t, ActKind.bad_offer)) for t in bad[:2]]
        return 2, "offered only resolutions the customer cannot accept", evidence
    return 1, "no resolution offered", evidence


def _vocabulary(ann: Annotations) -> set[str]:
    """Words never counted as misspelled: the customer's own and the persona's (names,
    products, places, the company's terms)."""
    words: set[str] = set()
    for t in ann.transcript.turns:
        if t.speaker == "customer":
            words.update(writing.words_of(t.text))

    def walk(value: object) -> None:
        if isinstance(value, str):
            words.update(writing.words_of(value))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(ann.persona.model_dump(mode="json"))
    return words


def written_communication(ann: Annotations) -> Result:
    """Spelling, mechanics and clarity of the candidate's own messages (those addressed to
    the grader left out), in the persona's language."""
    turns = {t: ann.text(t) for t in ann.candidate() if t not in ann.injections}
    return writing.assess(turns, ann.persona.language, _vocabulary(ann))


ANALYZERS: dict[str, Callable[[Annotations], Result]] = {
    "calmness": calmness,
    "active_listening": active_listening,
    "empathy": empathy,
    "policy_adherence": policy_adherence,
    "resolution": resolution,
    "written_communication": written_communication,
}


@dataclass
class EvidenceResult:
    scores: list[CriterionScore]
    flags: list[Flag]
    rules: list[RuleOutcome]
    annotations: Annotations


def evidence_grade(
    transcript: Transcript,
    persona: Persona,
    criteria: list[Criterion],
    *,
    readings: Readings | None = None,
    reader: Reader | None = None,
    assume: dict[str, bool] | None = None,
) -> EvidenceResult:
    """Score every criterion from evidence and collect the flags."""
    r = readings or read(transcript, persona, reader)
    ann = derive(r, assume)
    flags: list[Flag] = []
    scores: list[CriterionScore] = []
    for c in criteria:
        analyzer = ANALYZERS.get(c.id)
        if analyzer is None:
            why = "not assessed: no evidence analyzer for this criterion (needs the LLM judge)"
            scores.append(
                CriterionScore(
                    criterion=c.id, name=c.name, weight=c.weight, score=None, rationale=why
                )
            )
            flags.append(Flag(kind="not_assessed", detail=f"{c.id}: {why}"))
            continue
        score, rationale, evidence = analyzer(ann)
        if score is None:
            scores.append(
                CriterionScore(
                    criterion=c.id, name=c.name, weight=c.weight, score=None, rationale=rationale
                )
            )
            flags.append(Flag(kind="not_assessed", detail=f"{c.name}: {rationale}"))
            continue
        # two readings of one sentence cite it once (each flagged word still counts)
        evidence = list(
            {(e.turn, e.quote, i if e.note else -1): e for i, e in enumerate(evidence)}.values()
        )
        scores.append(
            CriterionScore(
                criterion=c.id,
                name=c.name,
                weight=c.weight,
                score=score,
                level=c.levels[score],
                rationale=rationale,
                evidence=evidence,
            )
        )
    for rule in ann.rules:
        if rule.status == "broken":
            flags.append(
                Flag(
                    kind="policy_violation",
                    turns=rule.turns,
                    blocker=rule.rule.kind == "must_not",
                    detail=f"{rule.rule.id} ({rule.rule.kind}): {rule.rule.text}",
                )
            )
    if ann.injections:
        flags.append(
            Flag(
                kind="injection_attempt",
                turns=sorted(ann.injections),
                detail="candidate text addresses the grader or the simulation: "
                + "; ".join(f"{q!r}" for q in list(ann.injections.values())[:3]),
            )
        )
    if ann.outcome == Outcome.candidate_closed:
        closes = ann.turns_with(ActKind.close)
        flags.append(
            Flag(
                kind="closed_unresolved",
                turns=closes[-1:],
                detail="the candidate closed the conversation before a resolution",
            )
        )
    blames = ann.turns_with(ActKind.blame)
    if blames:
        flags.append(
            Flag(kind="customer_fault", turns=blames, detail="the candidate blamed the customer")
        )
    return EvidenceResult(scores, flags, ann.rules, ann)


def annotate(transcript: Transcript, persona: Persona, reader: Reader | None = None) -> Annotations:
    """The story of a transcript as the grade sees it (readings under the likely guesses)."""
    return derive(read(transcript, persona, reader))


__all__ = [
    "Annotations",
    "EvidenceResult",
    "Judgement",
    "Readings",
    "annotate",
    "derive",
    "evidence_grade",
    "read",
    "unchecked_card_items",
]
_ = any_match  # hints are matched by the reader; kept importable for rule helpers
