"""A persona's own items, read from their examples: which fact a question is about, which
resolution an offer names, which policy rule a message is about.

Each item (a fact, a resolution, a rule) is a bank of example phrasings, prepared once per
persona version. A sentence is compared with every bank of a kind
(:func:`roleplay.understanding.features.similarity`):

* ``support``: how close it is to the item's examples (the best two, averaged);
* ``lead``: how much closer than to the best other item of the same kind.

A small logistic model over (support, lead), fitted offline on every built-in persona's
examples with each example left out of its own bank (:mod:`roleplay.understanding.fit`),
turns them into the probability that the sentence is *about* the item. Whether it *does* the
item (asks, offers, breaks or keeps the rule) is for the act heads: a question, an offer, the
rule head. So a trainer's new persona is read the same way: nothing is fitted at run time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from roleplay.core.persona import Persona
from roleplay.understanding.features import Bank, featurize_cached, similarity

ItemKind = Literal["fact", "resolution", "rule"]


@dataclass(frozen=True)
class Item:
    kind: ItemKind
    id: str
    examples: tuple[str, ...]
    near_misses: tuple[str, ...]
    hints: tuple[str, ...]


def persona_items(persona: Persona) -> dict[ItemKind, list[Item]]:
    """Every item of a persona with its examples (a description counts as one)."""
    sc = persona.scenario
    facts = [
        Item("fact", f.id, tuple(f.examples), tuple(f.near_misses), tuple(f.asked_by))
        for f in sc.facts
    ]
    resolutions = [
        Item(
            "resolution",
            r.id,
            tuple(r.examples) or (r.description,),
            tuple(r.near_misses),
            tuple(r.patterns),
        )
        for r in [*sc.acceptable_resolutions, *sc.unacceptable_resolutions]
    ]
    rules = [
        Item(
            "rule",
            r.id,
            tuple(r.examples),
            tuple(r.near_misses),
            tuple(r.detect.patterns) if r.detect else (),
        )
        for r in persona.policy_rules
    ]
    return {"fact": facts, "resolution": resolutions, "rule": rules}


def _bank(texts: Sequence[str]) -> Bank | None:
    return Bank.of(featurize_cached(list(texts))) if texts else None


@dataclass
class _Prepared:
    item: Item
    positives: Bank | None
    negatives: Bank | None


class PersonaIndex:
    """A persona's items, prepared for comparison."""

    def __init__(self, persona: Persona) -> None:
        self.persona = persona
        self.items: dict[ItemKind, list[_Prepared]] = {
            kind: [_Prepared(i, _bank(i.examples), _bank(i.near_misses)) for i in items]
            for kind, items in persona_items(persona).items()
        }

    def polarity(self, sentences: Bank, kind: ItemKind) -> NDArray[np.float32]:
        """(sentences, items): how much closer each sentence is to an item's examples than to
        its near misses (0 when the item has no near misses)."""
        prepared = self.items[kind]
        out = np.zeros((len(sentences), len(prepared)), dtype=np.float32)
        for j, p in enumerate(prepared):
            if p.positives is not None and p.negatives is not None and len(sentences):
                out[:, j] = top2(similarity(sentences, p.positives)) - top2(
                    similarity(sentences, p.negatives)
                )
        return out

    def scores(self, sentences: Bank, kind: ItemKind) -> tuple[list[str], NDArray[np.float32]]:
        """Item ids of ``kind`` and (sentences, items, 2): support and lead (support is -1
        for an item with no examples)."""
        prepared = self.items[kind]
        out = np.full((len(sentences), len(prepared), 2), -1.0, dtype=np.float32)
        if not len(sentences) or not prepared:
            return [p.item.id for p in prepared], out
        support = np.full((len(sentences), len(prepared)), -1.0, dtype=np.float32)
        for j, p in enumerate(prepared):
            if p.positives is not None:
                support[:, j] = top2(similarity(sentences, p.positives))
        for j in range(len(prepared)):
            others = np.delete(support, j, axis=1)
            rival = others.max(axis=1) if others.shape[1] else np.full(len(sentences), -1.0)
            out[:, j, 0] = support[:, j]
            out[:, j, 1] = support[:, j] - rival
        return [p.item.id for p in prepared], out


def top2(sims: NDArray[np.float32]) -> NDArray[np.float32]:
    """Per row, the mean of the two highest similarities (the highest when there is one)."""
    if sims.shape[1] == 1:
        return np.asarray(sims[:, 0], dtype=np.float32)
    best = np.sort(sims, axis=1)[:, -2:]
    return np.asarray(best.mean(axis=1), dtype=np.float32)


_INDEXES: OrderedDict[str, PersonaIndex] = OrderedDict()
_LOCK = threading.Lock()


def index_for(persona: Persona) -> PersonaIndex:
    """The prepared index of a persona version (the last 64 kept, by content hash)."""
    key = persona.content_hash
    with _LOCK:
        found = _INDEXES.get(key)
        if found is not None:
            _INDEXES.move_to_end(key)
            return found
    built = PersonaIndex(persona)
    with _LOCK:
        _INDEXES[key] = built
        while len(_INDEXES) > 64:
            _INDEXES.popitem(last=False)
    return built
