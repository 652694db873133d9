"""The evidence layer: deterministic analyzers that score each criterion and cite turns.

It always runs, offline. It uses the conversation engine's turn annotations where the
transcript has them and recomputes them (by replaying the director) where it does not.
Candidate turns that address the grader or the simulation are flagged as injection attempts
and never count as positive evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from grading.report import CriterionScore, Evidence, Flag
from grading.rubric import Criterion
from grading.tone import IMPOLITE, politeness, strong_empathy
from roleplay.core.acts import (
    ACKNOWLEDGE,
    APOLOGIZE,
    MANIPULATION,
    OWNERSHIP,
    Act,
    any_affirmed,
    any_match,
    detect_acts,
)
from roleplay.core.director import Director, Outcome
from roleplay.core.persona import ActKind, Move, Persona, PolicyRule
from roleplay.core.transcript import Transcript

#: Languages the lexical analyzers (tone, listening, empathy) cover.
SUPPORTED_LANGUAGES = {"en"}
LEXICAL_CRITERIA = {"calmness", "active_listening", "empathy"}

SARCASM = re.compile(
    r"\b(oh (great|wonderful|sure)|sure,? whatever|obviously|clearly you|good luck with that|"
    r"thanks a lot|yeah,? right|as i (already )?(said|told you)|like i said)\b",
    re.IGNORECASE,
)
GRADER_INJECTION = re.compile(
    r"\b(grader|evaluator|judge|rubric|assessor|scoring model)\b|"
    r"\b(score|grade|rate|mark) (me|this|the candidate)\b|"
    r"\b\d\s*/\s*5\b|\bfull marks\b|\bperfect score\b|"
    r"\bignore (the |all |any |previous )*(rubric|criteria|instructions)\b|"
    r"(^|\n)\s*\[?(system|note|admin|evaluator)( note)?\]?\s*:",
    re.IGNORECASE,
)


# Reading an un-annotated customer turn: what did the customer actually do?
_CUSTOMER_MOVES: list[tuple[Move, re.Pattern[str]]] = [
    (Move.ask_manager, re.compile(r"\b(manager|supervisor|someone senior)\b", re.IGNORECASE)),
    (
        Move.leave,
        re.compile(
            r"\b(forget it|i'?m done|dispute the charge|elsewhere|"
            r"never mind|i'?m hanging up|lawyer)\b",
            re.IGNORECASE,
        ),
    ),
    (
        Move.reject_offer,
        re.compile(
            r"\b(no,|not acceptable|doesn'?t work|not good enough|"
            r"that'?s useless|that doesn'?t help)",
            re.IGNORECASE,
        ),
    ),
    (Move.thank_close, re.compile(r"\b(good ?bye|bye)\b", re.IGNORECASE)),
    (
        Move.accept,
        re.compile(
            r"\b(that works|i'?ll take it|deal\b|sounds good|go ahead|"
            r"book it|do it|that helps|perfect)",
            re.IGNORECASE,
        ),
    ),
]


def customer_move(text: str) -> Move | None:
    for move, pattern in _CUSTOMER_MOVES:
        if pattern.search(text):
            return move
    return None


@dataclass
class Annotations:
    """A transcript with every candidate turn's acts and every customer turn's move."""

    transcript: Transcript
    persona: Persona
    acts: dict[int, list[Act]] = field(default_factory=dict)
    moves: dict[int, Move | None] = field(default_factory=dict)
    moods: dict[int, int | None] = field(default_factory=dict)
    accepted_turn: int | None = None
    injections: dict[int, str] = field(default_factory=dict)
    outcome: Outcome | None = None

    def candidate(self) -> list[int]:
        return sorted(self.acts)

    def has(self, turn: int, kind: ActKind) -> bool:
        return any(a.kind == kind for a in self.acts.get(turn, []))

    def quote(self, turn: int, kind: ActKind) -> str | None:
        return next((a.quote for a in self.acts.get(turn, []) if a.kind == kind), None)

    def turns_with(self, kind: ActKind, *, positive: bool = False) -> list[int]:
        return [
            t
            for t in self.candidate()
            if self.has(t, kind) and not (positive and t in self.injections)
        ]

    def text(self, turn: int) -> str:
        return self.transcript.turns[turn].text


def annotate(transcript: Transcript, persona: Persona) -> Annotations:
    """Use the engine's annotations where present; replay the director where missing."""
    ann = Annotations(transcript, persona)
    director = Director(persona)
    pending: Move | None = Move.opening
    given: list[str] = []
    for i, turn in enumerate(transcript.turns):
        if turn.speaker == "customer":
            # The engine's own annotation, else what the customer's words show, else the
            # replayed director's choice.
            ann.moves[i] = turn.move or (customer_move(turn.text) if i else None) or pending
            ann.moods[i] = turn.mood if turn.mood is not None else director.state.mood
            director.note_customer_turn(turn.text, given=given, released=turn.released)
            if ann.moves[i] == Move.accept and ann.accepted_turn is None:
                ann.accepted_turn = i
            pending, given = None, []
            continue
        if director.state.outcome is None:
            decision = director.decide(turn.text)
            acts = turn.acts if turn.acts is not None else decision.acts
            pending, given = decision.move, decision.give_facts
        else:
            acts = (
                turn.acts
                if turn.acts is not None
                else detect_acts(turn.text, persona, director.state.stated)
            )
        ann.acts[i] = acts
        hit = GRADER_INJECTION.search(turn.text) or MANIPULATION.search(turn.text)
        if hit:
            ann.injections[i] = hit.group(0).strip()
    ann.outcome = transcript.outcome or _infer_outcome(ann)
    return ann


def _infer_outcome(ann: Annotations) -> Outcome | None:
    """The ending of a transcript that does not state one, from its last turns."""
    turns = ann.transcript.turns
    last = len(turns) - 1
    if last < 0:
        return None
    if turns[last].speaker == "candidate":
        return Outcome.candidate_closed if ann.has(last, ActKind.close) else None
    move = ann.moves.get(last)
    closed_by_candidate = last > 0 and ann.has(last - 1, ActKind.close)
    if ann.accepted_turn is not None and move in (Move.thank_close, Move.accept):
        return Outcome.resolved
    if move == Move.ask_manager:
        return Outcome.escalated
    if closed_by_candidate:
        return Outcome.candidate_closed
    if move == Move.leave:
        return Outcome.abandoned
    return None


# ------------------------------------------------------------------------- analyzers
Result = tuple[int, str, list[Evidence]]


def _ev(ann: Annotations, turn: int, quote: str | None) -> Evidence:
    text = ann.text(turn)
    q = quote if quote and quote in text else text[:120]
    return Evidence(turn=turn, quote=q)


def calmness(ann: Annotations) -> Result:
    penalty = 0.0
    evidence: list[Evidence] = []
    notes: list[str] = []
    for kind, cost, label in [
        (ActKind.rude, 2.0, "hostile or shouting language"),
        (ActKind.blame, 1.5, "blames the customer"),
        (ActKind.dismissive, 1.0, "dismissive remarks"),
    ]:
        turns = ann.turns_with(kind)
        if turns:
            penalty += cost + 0.5 * (len(turns) - 1)
            notes.append(f"{label} ({len(turns)}x)")
            evidence.extend(_ev(ann, t, ann.quote(t, kind)) for t in turns[:2])
    sarcastic = [t for t in ann.candidate() if SARCASM.search(ann.text(t))]
    if sarcastic:
        penalty += 1.0
        notes.append("sarcasm")
        evidence.extend(
            _ev(ann, t, m.group(0)) for t in sarcastic[:2] if (m := SARCASM.search(ann.text(t)))
        )
    flagged = {ev.turn for ev in evidence}
    curt = [
        t
        for t in ann.candidate()
        if t not in flagged and t not in ann.injections and politeness(ann.text(t)) < IMPOLITE
    ]
    if curt:
        penalty += 1.0
        notes.append(f"impolite tone ({len(curt)}x)")
        evidence.extend(_ev(ann, t, None) for t in curt[:2])
    score = max(1, min(5, round(5 - penalty)))
    if not notes:
        hot = [i for i, m in ann.moods.items() if m is not None and m <= -3]
        genuine = [t for t in ann.candidate() if t not in ann.injections]
        after = [t for t in genuine if any(h < t for h in hot)]
        if after:
            evidence.append(_ev(ann, after[0], None))
            return 5, "stays courteous while the customer is angry", evidence
        return 5, "courteous throughout", [_ev(ann, t, None) for t in genuine[:1]]
    return score, "; ".join(notes), evidence


def active_listening(ann: Annotations) -> Result:
    reflected = {
        a.detail
        for t in ann.turns_with(ActKind.reflect, positive=True)
        for a in ann.acts[t]
        if a.kind == ActKind.reflect
    }
    asked = ann.turns_with(ActKind.ask_fact, positive=True)
    reasks = ann.turns_with(ActKind.reask_fact)
    score = 2 + (1 if reflected else 0) + (1 if len(reflected) >= 2 else 0) + (1 if asked else 0)
    score -= len(reasks)
    evidence = [
        _ev(ann, t, ann.quote(t, ActKind.reflect))
        for t in ann.turns_with(ActKind.reflect, positive=True)[:2]
    ]
    evidence += [_ev(ann, t, ann.quote(t, ActKind.ask_fact)) for t in asked[:2]]
    evidence += [_ev(ann, t, ann.quote(t, ActKind.reask_fact)) for t in reasks[:2]]
    notes = []
    if reflected:
        notes.append(f"reflects the customer's {', '.join(sorted(str(r) for r in reflected))}")
    if asked:
        notes.append("asks for what it needs")
    if reasks:
        notes.append(f"asks again for facts already given ({len(reasks)}x)")
    if not notes:
        notes.append("no reflection of the customer's facts and no clarifying question")
    return max(1, min(5, score)), "; ".join(notes), evidence


def empathy(ann: Annotations) -> Result:
    found: dict[str, list[int]] = {"apology": [], "acknowledgement": [], "ownership": []}
    evidence: list[Evidence] = []
    for t in ann.candidate():
        if t in ann.injections:
            continue
        text = ann.text(t)
        for key, pattern in (
            ("apology", APOLOGIZE),
            ("acknowledgement", ACKNOWLEDGE),
            ("ownership", OWNERSHIP),
        ):
            m = pattern.search(text)
            if m is None and key == "acknowledgement":
                m = strong_empathy(text)
            if m:
                found[key].append(t)
                if len(found[key]) == 1:
                    evidence.append(_ev(ann, t, m.group(0)))
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


@dataclass
class RuleOutcome:
    rule: PolicyRule
    status: str  # "kept", "broken", "not_applicable"
    turns: list[int]
    quote: str | None = None


def check_rules(ann: Annotations) -> list[RuleOutcome]:
    """Check the persona's policy rules over the candidate's turns (negation-aware)."""
    results: list[RuleOutcome] = []
    cands = ann.candidate()
    for rule in ann.persona.policy_rules:
        d = rule.detect
        if rule.kind == "must_not":
            broken: list[int] = []
            quote = None
            for t in cands:
                text = ann.text(t)
                hit = any_affirmed(d.patterns, text)
                if not hit:
                    continue
                if d.when and not any_match(d.when, text):
                    continue
                if d.unless and any_match(d.unless, text):
                    continue
                broken.append(t)
                quote = quote or hit.group(0)
            results.append(RuleOutcome(rule, "broken" if broken else "kept", broken, quote))
            continue
        trigger = next((t for t in cands if not d.when or any_affirmed(d.when, ann.text(t))), None)
        if d.when and trigger is None:
            results.append(RuleOutcome(rule, "not_applicable", []))
            continue
        scope = [t for t in cands if trigger is None or t <= trigger]
        met = next((t for t in scope if any_match(d.patterns, ann.text(t))), None)
        if met is not None:
            hit = any_match(d.patterns, ann.text(met))
            results.append(RuleOutcome(rule, "kept", [met], hit.group(0) if hit else None))
        else:
            results.append(RuleOutcome(rule, "broken", [trigger] if trigger is not None else []))
    return results


def policy_adherence(ann: Annotations, rules: list[RuleOutcome]) -> Result:
    if not rules:
        return 5, "the persona defines no checkable policy rules", []
    broken_not = [r for r in rules if r.rule.kind == "must_not" and r.status == "broken"]
    missed = [r for r in rules if r.rule.kind == "must" and r.status == "broken"]
    evidence = [_ev(ann, r.turns[0], r.quote) for r in broken_not + missed if r.turns]
    if broken_not:
        names = ", ".join(r.rule.id for r in broken_not)
        return 1, f"breaks must-not rule(s): {names}", evidence
    if missed:
        names = ", ".join(r.rule.id for r in missed)
        return max(2, 5 - len(missed)), f"misses required step(s): {names}", evidence
    done = [r for r in rules if r.rule.kind == "must" and r.status == "kept"]
    evidence = [_ev(ann, r.turns[0], r.quote) for r in done if r.turns][:3]
    steps = (
        f"; required steps done: {', '.join(r.rule.id for r in done)}"
        if done
        else "; no action that needed a required step"
    )
    return 5, f"breaks none of the {len(rules)} rules{steps}", evidence


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


ANALYZERS: dict[str, Callable[[Annotations], Result]] = {
    "calmness": calmness,
    "active_listening": active_listening,
    "empathy": empathy,
    "resolution": resolution,
}


@dataclass
class EvidenceResult:
    scores: list[CriterionScore]
    flags: list[Flag]
    rules: list[RuleOutcome]
    annotations: Annotations


def evidence_grade(
    transcript: Transcript, persona: Persona, criteria: list[Criterion]
) -> EvidenceResult:
    """Score every criterion from evidence and collect the flags."""
    ann = annotate(transcript, persona)
    rules = check_rules(ann)
    flags: list[Flag] = []
    supported = persona.language.split("-")[0] in SUPPORTED_LANGUAGES
    scores: list[CriterionScore] = []
    skipped: list[str] = []
    for c in criteria:
        if c.id == "policy_adherence":
            result: Result | None = policy_adherence(ann, rules)
        elif c.id in LEXICAL_CRITERIA and not supported:
            result = None
            skipped.append(c.id)
        elif c.id in ANALYZERS:
            result = ANALYZERS[c.id](ann)
        else:
            result = None
        if result is None:
            why = (
                f"not assessed: no analyzer for language {persona.language!r}"
                if c.id in skipped
                else "not assessed: no evidence analyzer for this criterion (needs the LLM judge)"
            )
            scores.append(
                CriterionScore(
                    criterion=c.id, name=c.name, weight=c.weight, score=None, rationale=why
                )
            )
            if c.id not in skipped:
                flags.append(Flag(kind="not_assessed", detail=f"{c.id}: {why}"))
            continue
        score, rationale, evidence = result
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
    if skipped:
        flags.append(
            Flag(
                kind="unsupported_language",
                detail=f"language {persona.language!r}: {', '.join(skipped)} not "
                "assessed by the evidence analyzers",
            )
        )
    for r in rules:
        if r.status == "broken":
            flags.append(
                Flag(
                    kind="policy_violation",
                    turns=r.turns,
                    blocker=r.rule.kind == "must_not",
                    detail=f"{r.rule.id} ({r.rule.kind}): {r.rule.text}",
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
    return EvidenceResult(scores, flags, rules, ann)
