"""The local reader: the offline default, learned from examples, no server, no PyTorch.

A candidate message is split into sentences; every sentence is scored by the agent-act head
(:mod:`roleplay.understanding.classifiers`) and compared with the persona's own items
(:mod:`roleplay.understanding.items`). A message does an act when one of its sentences does;
the quote is that sentence, verbatim.

* Facts: a sentence asks for a fact when it is a question or a request and matches the fact's
  examples; asking again for a fact the customer already said is a re-ask, unless the sentence
  quotes the value back to confirm it.
* Offers: a sentence offers a resolution when the offer head says it proposes a remedy and
  the resolution's examples match; an unacceptable resolution is a bad offer.
* Rules: a sentence breaks a must-not rule, or does a must rule's step, when it matches the
  rule's examples better than its near misses.
* Reflection: the customer's own facts said back (the value, or two of its content words).

Persona patterns, where a persona has them, decide an item that has no examples; beside
examples, a must-not rule's detect pattern (matched, not negated) lifts the topic match by
:data:`HINT_LIFT`, so it can confirm a half-seen breach but never make one out of nothing.
Decisive readings (a close, a message addressed to the grader, a broken must-not rule) are
returned with their confidence; callers compare it with :data:`CERTAIN` and treat what falls
between as needing review.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from roleplay.core.persona import ActKind, Persona, PolicyRule
from roleplay.understanding import Context
from roleplay.understanding.classifiers import Head, Heads
from roleplay.understanding.features import Bank, Features, featurize_cached
from roleplay.understanding.items import ItemKind, index_for
from roleplay.understanding.readings import (
    ActReading,
    CandidateReading,
    CustomerMove,
    CustomerReading,
    RuleReading,
)
from roleplay.understanding.text import (
    addressed_to_grader,
    any_affirmed,
    any_match,
    mentions_fact,
    unmistakable,
)

READER_VERSION = "local-1"
#: Where a message splits into sentences and clauses: after . ! ? ; (then a space or the end),
#: at line breaks, and at a dash between spaces. A classifier trained on one act per example
#: reads a long message best in short pieces.
_BREAK = re.compile(r"[.!?;]+(?=\s|$)|\n+|\s[—–-]\s")
_CLAUSE = re.compile(r",\s+(?:but\s+|and\s+|men\s+|og\s+)?|\s+but\s+|\s+men\s+")
_WORDS = re.compile(r"\w+")
_CLAUSE_ACTS = [ActKind.greet, ActKind.apologize, ActKind.acknowledge, ActKind.ownership]
_GREETING_WORD = re.compile(r"^(hi|hello|hey|hei|hallo)\b", re.IGNORECASE)
#: Acts the head reads from the words alone (the persona's items give the others).
GENERIC = [
    ActKind.greet,
    ActKind.apologize,
    ActKind.acknowledge,
    ActKind.ownership,
    ActKind.question,
    ActKind.offer,
    ActKind.next_steps,
    ActKind.policy_recital,
    ActKind.dismissive,
    ActKind.rude,
    ActKind.blame,
    ActKind.close,
    ActKind.manipulation,
]
#: How sharply leaning towards a rule's examples (rather than its near misses) counts.
POLARITY_SLOPE = 12.0
#: How sure an item match must be to count, and to count without review.
ITEM_DECIDE = 0.5
ITEM_CERTAIN = 0.65
#: How much a trainer's detect pattern, matched and not negated, adds to a rule's topic match.
HINT_LIFT = 0.35


def sentences(text: str) -> list[str]:
    """The sentences (and clauses) of a message, each a verbatim slice of it."""
    pieces: list[str] = []
    start = 0
    for m in _BREAK.finditer(text):
        end = m.end() if text[m.start()] in ".!?;" else m.start()
        pieces.append(text[start:end])
        start = m.end()
    pieces.append(text[start:])
    found = [p.strip() for p in pieces]
    return [p for p in found if any(ch.isalnum() for ch in p)] or [text.strip()]


def clauses(sentence: str) -> list[str]:
    """The comma-separated clauses of a sentence that are long enough to read alone (a
    vocative or greeting, a clause after "but"), or none when it has one."""
    pieces = [p.strip() for p in _CLAUSE.split(sentence)]
    pieces = [p for p in pieces if p]
    if len(pieces) < 2:
        return []
    kept = [p for p in pieces if len(_WORDS.findall(p)) >= 2 or _GREETING_WORD.match(p)]
    return kept if len(kept) >= 2 else []


def _sentence_of(parts: list[str], words: str) -> str:
    """The sentence a phrase was found in (the phrase itself when it spans sentences)."""
    return next((p for p in parts if words in p), words)


def _item_probability(support: float, margin: float, coef: Sequence[float]) -> float:
    z = coef[0] * support + coef[1] * margin + coef[2]
    return float(1.0 / (1.0 + np.exp(-z)))


class LocalReader:
    """Reads turns with the shipped models. Stateless and thread-safe."""

    name = READER_VERSION

    def __init__(self) -> None:
        self.acts: Head = Heads.get("acts")
        self.moves: Head = Heads.get("moves")
        self.rule_head: Head = Heads.get("rules")
        self.item_coef: dict[str, tuple[float, float, float]] = Heads.items()

    # ------------------------------------------------------------------ candidate
    def read_candidate(
        self, text: str, persona: Persona, context: Context | None = None
    ) -> CandidateReading:
        context = context or Context()
        parts = sentences(text)
        feats = featurize_cached(parts)
        probs = self._act_probabilities(parts, feats)
        acts: list[ActReading] = []

        def add(kind: ActKind, quote: str, p: float, detail: str | None = None, **kw: str) -> None:
            item = detail is not None
            acts.append(
                ActReading(
                    kind=kind,
                    detail=detail,
                    quote=quote[:200],
                    confidence=round(p, 3),
                    present=True if item else self._present(kind, p),
                    certain=kw.get("source") == "hint"
                    or ((p >= ITEM_CERTAIN) if item else self._certain(kind, p)),
                    **kw,
                )
            )

        for kind in GENERIC:
            if kind.value not in self.acts.labels:
                continue
            k = self.acts.index(kind.value)
            if kind == ActKind.close:
                row = self._closing_row(probs)
                if row is None:
                    continue
            else:
                row = int(np.argmax(probs[:, k]))
            p = float(probs[row, k])
            floor = self.acts.absent[k] if kind in _DECISIVE else self.acts.decide[k]
            if kind == ActKind.greet and not (context.first_turn or row == 0):
                continue
            if p >= floor:
                add(kind, parts[row], p)

        marker = addressed_to_grader(text)
        if marker:
            acts = [a for a in acts if a.kind != ActKind.manipulation]
            add(ActKind.manipulation, marker, 0.99, source="hint")
        for act_name, words in unmistakable(text).items():
            kind = ActKind(act_name)
            acts = [a for a in acts if a.kind != kind]
            add(kind, _sentence_of(parts, words), 0.99, source="hint")
        bank = Bank.of(feats)
        asks = self._column(probs, ActKind.question)
        does = self.rule_head.probabilities(feats)[:, 0]
        self._facts(parts, bank, asks, persona, context, add)
        self._offers(parts, bank, probs, persona, add)
        rules = self._rules(parts, bank, does, persona)
        # Asking again for a fact to check it (a must rule's verification step) is not a re-ask,
        # the first time; once that check was done, asking for it again is.
        steps = {r.quote for r in rules if r.status == "step" and r.rule not in context.steps_done}
        acts = [a for a in acts if not (a.kind == ActKind.reask_fact and a.quote in steps)]
        for fact in persona.scenario.facts:
            if fact.id in context.stated:
                quote = mentions_fact(text, fact.value)
                if quote:
                    add(ActKind.reflect, quote, 1.0, fact.id, source="value")
        return CandidateReading(acts=_dedupe(acts), rules=rules, reader=self.name)

    def act_scores(self, text: str) -> dict[str, float]:
        """Each act's strongest probability over the sentences of ``text`` (for calibration
        against corpora rated by people)."""
        parts = sentences(text)
        probs = self._act_probabilities(parts, featurize_cached(parts))
        return {label: float(probs[:, k].max()) for k, label in enumerate(self.acts.labels)}

    def _act_probabilities(self, parts: list[str], feats: Features) -> np.ndarray:
        """Each act's probability per sentence: the most the sentence or one of its clauses
        shows it. A long sentence that greets, apologises and restates the problem reads as
        none of them whole; "Hi Dana, I'm so sorry ..." is a greeting and an apology. Only
        the courtesy acts are read by clause: a close, an offer or a hostile remark is read
        from the whole sentence ("Thanks for waiting, I have checked ..." does not close)."""
        probs = self.acts.probabilities(feats)
        owners: list[int] = []
        views: list[str] = []
        for row, part in enumerate(parts):
            pieces = clauses(part)
            if len(pieces) > 1:
                owners += [row] * len(pieces)
                views += pieces
        if views:
            extra = self.acts.probabilities(featurize_cached(views))
            cols = [self.acts.index(k.value) for k in _CLAUSE_ACTS if k.value in self.acts.labels]
            for i, row in enumerate(owners):
                probs[row, cols] = np.maximum(probs[row, cols], extra[i, cols])
        return probs

    def _closing_row(self, probs: np.ndarray) -> int | None:
        """The sentence that closes the message, if one does: the last one, or the one
        before it when the last only adds a pleasantry. A message that goes on to ask, offer
        or promise something after a goodbye is not closing."""
        close = self.acts.index(ActKind.close.value)
        substantive = [
            self.acts.index(k.value)
            for k in (ActKind.question, ActKind.offer, ActKind.next_steps, ActKind.ownership)
        ]
        last = len(probs) - 1
        if probs[last, close] >= self.acts.absent[close]:
            return last
        if last >= 1 and probs[last - 1, close] >= self.acts.absent[close]:
            adds = any(probs[last, k] >= self.acts.decide[k] for k in substantive)
            return None if adds else last - 1
        return None

    def _present(self, kind: ActKind, p: float) -> bool:
        if kind in GENERIC and kind.value in self.acts.labels:
            return p >= float(self.acts.decide[self.acts.index(kind.value)])
        return True

    def _certain(self, kind: ActKind, p: float) -> bool:
        if kind in GENERIC and kind.value in self.acts.labels:
            return p >= float(self.acts.certain[self.acts.index(kind.value)])
        return p >= ITEM_CERTAIN or kind in (ActKind.reflect,)

    def _column(self, probs: np.ndarray, kind: ActKind) -> np.ndarray:
        return probs[:, self.acts.index(kind.value)]

    def _matches(
        self, bank: Bank, persona: Persona, kind: ItemKind
    ) -> tuple[list[str], np.ndarray]:
        """Item ids and (sentences, items) match probabilities."""
        ids, scores = index_for(persona).scores(bank, kind)
        coef = self.item_coef[kind]
        out = np.zeros(scores.shape[:2], dtype=np.float32)
        for i in range(scores.shape[0]):
            for j in range(scores.shape[1]):
                if scores[i, j, 0] > -1:
                    out[i, j] = _item_probability(scores[i, j, 0], scores[i, j, 1], coef)
        return ids, out

    def _facts(
        self,
        parts: list[str],
        bank: Bank,
        asks: np.ndarray,
        persona: Persona,
        context: Context,
        add: AddAct,
    ) -> None:
        ids, match = self._matches(bank, persona, "fact")
        k = self.acts.index(ActKind.question.value)
        for j, fact_id in enumerate(ids):
            fact = persona.fact(fact_id)
            best = 0.0
            quote = ""
            for i, part in enumerate(parts):
                asking = float(asks[i]) >= float(self.acts.absent[k])
                p = float(match[i, j]) * min(1.0, float(asks[i]) / float(self.acts.decide[k]))
                p = p if asking else 0.0
                if fact.asked_by and not fact.examples and any_match(fact.asked_by, part):
                    p = max(p, 0.9 if asking else 0.0)
                if p > best:
                    best, quote = p, part
            if best < ITEM_DECIDE:
                continue
            if fact_id in context.stated:
                if mentions_fact(quote, fact.value) is None:
                    add(ActKind.reask_fact, quote, best, fact_id)
            else:
                add(ActKind.ask_fact, quote, best, fact_id)

    def _offers(
        self,
        parts: list[str],
        bank: Bank,
        probs: np.ndarray,
        persona: Persona,
        add: AddAct,
    ) -> None:
        ids, match = self._matches(bank, persona, "resolution")
        acceptable = {r.id for r in persona.scenario.acceptable_resolutions}
        by_id = {
            r.id: r
            for r in [
                *persona.scenario.acceptable_resolutions,
                *persona.scenario.unacceptable_resolutions,
            ]
        }
        # Any commitment gates a resolution: an offer, taking ownership ("I'll trace it
        # now") or a next step; the persona's examples say which resolution it is, and
        # leaning to its near misses (refusals, questions, conditions) takes it back.
        gate = np.zeros(len(parts), dtype=np.float32)
        for kind in (ActKind.offer, ActKind.ownership, ActKind.next_steps):
            k = self.acts.index(kind.value)
            column = probs[:, k]
            gate = np.maximum(gate, np.minimum(1.0, column / float(self.acts.decide[k])))
        lean = index_for(persona).polarity(bank, "resolution")
        scores = (
            match * gate[:, None] * np.minimum(1.0, 2.0 / (1.0 + np.exp(-POLARITY_SLOPE * lean)))
        )
        for j, res_id in enumerate(ids):
            res = by_id[res_id]
            if res.patterns and not res.examples:
                for i, part in enumerate(parts):
                    if any_affirmed(res.patterns, part):
                        scores[i, j] = max(scores[i, j], 0.9 * float(gate[i]) + 0.05)
        # A sentence offers one thing: the resolution it matches best.
        best_item = np.argmax(scores, axis=1) if len(ids) else np.zeros(0, dtype=int)
        for j, res_id in enumerate(ids):
            rows = [i for i in range(len(parts)) if best_item[i] == j]
            if not rows:
                continue
            i = max(rows, key=lambda r: scores[r, j])
            p = float(scores[i, j])
            if p >= ITEM_DECIDE:
                kind = ActKind.offer if res_id in acceptable else ActKind.bad_offer
                add(kind, parts[i], p, res_id)

    def _rules(
        self, parts: list[str], bank: Bank, does: np.ndarray, persona: Persona
    ) -> list[RuleReading]:
        ids, match = self._matches(bank, persona, "rule")
        decide = float(self.rule_head.decide[0])
        # Closer to the rule's near misses (its negated or hedged look-alikes) than to its
        # examples: the message keeps the rule, whatever the topic.
        lean = index_for(persona).polarity(bank, "rule")
        out: list[RuleReading] = []
        rules = {r.id: r for r in persona.policy_rules}
        for j, rule_id in enumerate(ids):
            rule = rules[rule_id]
            best, quote, source = 0.0, "", "model"
            for i, part in enumerate(parts):
                p = float(match[i, j]) * min(1.0, float(does[i]) / decide) if rule.examples else 0.0
                p *= float(1.0 / (1.0 + np.exp(-POLARITY_SLOPE * lean[i, j])))
                if rule.detect is not None and _hint_hit(rule, part):
                    # The trainer's own patterns: decisive alone for a rule without examples;
                    # beside examples, evidence that lifts a topic match the model half sees.
                    if not rule.examples:
                        hinted = 0.9
                    elif rule.kind == "must_not":
                        hinted = min(0.9, HINT_LIFT + float(match[i, j]))
                    else:
                        hinted = 0.0
                    if hinted > p:
                        p, source = hinted, "hint"
                if p > best:
                    best, quote = p, part
            if best >= ITEM_DECIDE:
                status = "breach" if rule.kind == "must_not" else "step"
                out.append(
                    RuleReading(
                        rule=rule_id,
                        status=status,
                        quote=quote[:200],
                        confidence=round(best, 3),
                        certain=best >= ITEM_CERTAIN,
                        source=source,
                    )
                )
        return out

    # ------------------------------------------------------------------ customer
    def read_customer(self, text: str) -> CustomerReading:
        parts = sentences(text)
        probs = self.moves.probabilities(featurize_cached([text, *parts]))
        whole = probs[0]
        labels = self.moves.labels
        # The whole message decides; a sentence can only make a decisive move more likely.
        best = int(np.argmax(whole))
        scores = {label: round(float(whole[k]), 3) for k, label in enumerate(labels)}
        total = float(whole.sum()) or 1.0
        confidence = float(whole[best]) / total if total else 0.0
        quote_row = 1 + int(np.argmax(probs[1:, best])) if len(parts) > 1 else 0
        quote = ([text, *parts])[quote_row]
        return CustomerReading(
            move=CustomerMove(labels[best]),
            confidence=round(min(1.0, max(confidence, float(whole[best]) * 0.5)), 3),
            certain=float(whole[best]) >= float(self.moves.certain[best]),
            quote=quote.strip()[:200],
            scores=scores,
            reader=self.name,
        )


_DECISIVE = {ActKind.close, ActKind.manipulation}


def _hint_hit(rule: PolicyRule, part: str) -> bool:
    d = rule.detect
    if d is None:
        return False
    finder = any_affirmed if rule.kind == "must_not" else any_match
    hit = finder(d.patterns, part)
    blocked = bool(d.unless) and any_match(d.unless, part) is not None
    gated = not d.when or rule.kind == "must" or any_match(d.when, part) is not None
    return bool(hit) and gated and not blocked


class AddAct(Protocol):
    """The signature of the local ``add`` helper."""

    def __call__(
        self, kind: ActKind, quote: str, p: float, detail: str | None = None, **kw: str
    ) -> None: ...


def _dedupe(acts: Iterable[ActReading]) -> list[ActReading]:
    best: dict[tuple[ActKind, str | None], ActReading] = {}
    for act in acts:
        key = (act.kind, act.detail)
        if key not in best or act.confidence > best[key].confidence:
            best[key] = act
    return list(best.values())
