"""Per-message judgements the evidence grader rests on: politeness (tone) and empathy.

* :func:`politeness` scores a message's tone with politeness-strategy features (after
  Danescu-Niculescu-Mizil et al., ACL 2013: gratitude, deference, greetings, apologies,
  "please", hedges, counterfactual modals, direct questions and starts, ...) plus word and
  word-pair features, weighted by a logistic model. The weights in
  ``grading/data/politeness_model.json`` were fitted by ``python -m grading.fit_politeness``
  on a fixed 70% split of the Stanford Politeness Corpus (Wikipedia requests, Apache-2.0);
  the file records the split, the data and the figures on both parts.
* :func:`empathy` scores how strongly a message expresses feelings for the other person, with
  a hand-written lexicon (strong expressions count 2, weaker ones 0.5). Nothing in it is learned
  from EPITOME, whose licence is non-commercial; EPITOME is only used to measure it. Patterns
  were kept, dropped or demoted by how they separate the levels on the training part only
  (words such as "feel", "hard" or "same" fire as often without empathy as with it).

Both are English-only, like the rest of the lexical analyzers.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from functools import lru_cache
from importlib import resources
from typing import Any

_TOKEN = re.compile(r"[a-z']+|[?!]")

STRATEGIES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, flags)
    for name, pattern, flags in [
        ("gratitude", r"\b(thanks?|thank you|appreciate)\b", re.I),
        ("deference", r"^\W*(great|good|nice|interesting|cool|excellent|awesome)\b", re.I),
        ("greeting", r"^\W*(hi|hello|hey)\b", re.I),
        ("apologizing", r"\b(sorry|oops|woops|excuse me|forgive me|apologi[sz]e)\b", re.I),
        ("please", r"\bplease\b", re.I),
        ("please_start", r"^\W*please\b", re.I),
        ("indirect_btw", r"\bby the way\b|\bbtw\b", re.I),
        ("direct_question", r"^\W*(what|why|who|how)\b", re.I),
        ("direct_start", r"^\W*(so|then|and|but|or)\b", re.I),
        ("counterfactual_modal", r"\b(could|would) you\b", re.I),
        ("indicative_modal", r"\b(can|will) you\b", re.I),
        ("first_person_start", r"^\W*(i|my|mine|myself)\b", re.I),
        ("first_person_plural", r"\b(we|our|us|ourselves)\b", re.I),
        ("first_person", r"\b(i|my|mine|me|myself)\b", re.I),
        ("second_person", r"\b(you|your|yours|yourself)\b", re.I),
        ("second_person_start", r"^\W*(you|your)\b", re.I),
        (
            "hedges",
            r"\b(think|believe|suggest|maybe|perhaps|probably|seem\w*|guess|might|"
            r"possibly)\b",
            re.I,
        ),
        (
            "factuality",
            r"\b(in fact|actually|really|the point|the reality|the truth|obviously|"
            r"clearly)\b",
            re.I,
        ),
        (
            "negative_words",
            r"\b(wrong|bad|stupid|ridiculous|nonsense|ignor\w*|pointless|useless|"
            r"waste|mess|fault|problem|absurd|crap|damn)\b",
            re.I,
        ),
        ("question_mark", r"\?", 0),
        ("exclamation", r"!", 0),
        ("shouting", r"\b[A-Z]{3,}\b", 0),
    ]
}


def politeness_features(text: str) -> dict[str, float]:
    """Strategy, word and word-pair indicator features (plus a bias)."""
    feats = {f"s:{name}": 1.0 for name, p in STRATEGIES.items() if p.search(text)}
    feats["bias"] = 1.0
    tokens = _TOKEN.findall(text.lower())
    for tok in set(tokens):
        feats[f"w:{tok}"] = 1.0
    for a, b in itertools.pairwise(tokens):
        feats[f"b:{a}_{b}"] = 1.0
    return feats


@lru_cache(maxsize=1)
def politeness_model() -> dict[str, Any]:
    """The shipped weights and their provenance."""
    text = resources.files("grading.data").joinpath("politeness_model.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def politeness_logit(text: str) -> float:
    weights: dict[str, float] = politeness_model()["weights"]
    return sum(weights.get(k, 0.0) * v for k, v in politeness_features(text).items())


def politeness(text: str) -> float:
    """Probability (0..1) that a reader finds the message polite rather than impolite."""
    z = max(-30.0, min(30.0, politeness_logit(text)))
    return 1.0 / (1.0 + math.exp(-z))


_STRONG_EMPATHY = [
    r"\b(i'?m|i am) (so |very |really |truly |deeply |terribly )?sorry\b",
    r"\bsorry (to hear|you'?re|you are|for your|about)\b",
    r"\bmy heart (goes out|breaks|aches)\b",
    r"\b(hugs?|\*hugs?\*|sending (you )?(love|hugs|strength))\b",
    r"\bi('m| am) (so )?(happy|glad|proud) (for|of) you\b",
    r"\bthat sucks\b",
    r"\bi can'?t imagine\b",
    r"\bi can (only )?imagine\b",
    r"\b(i'?m|i am) (here for you|with you)\b",
    r"\byou'?re not alone\b",
    r"\b(i'?m|i am) (so |really )?(sad|upset|angry|heartbroken) (to|that|for)\b",
    r"<3|❤|♥",
    r"\bbreaks my heart\b",
    r"\bi (really )?(hope|wish) (you|things|it) (feel|get|gets|are|will)\b",
]
_WEAK_EMPATHY = [
    # Acknowledging how something feels: in support conversations this is the core of
    # empathy, but alone it reads as a weak reaction.
    r"\b(that|this|it)('s| is| sounds| must be| must feel| must have been) (so |really |very |"
    r"incredibly )?(hard|awful|terrible|rough|tough|painful|difficult|horrible|scary|"
    r"frustrating|heartbreaking|devastating|exhausting|lonely|overwhelming|stressful|upsetting)",
    r"\bi feel (for|you|the same|so bad)\b",
    r"\bi (completely |totally |really )?(understand|know) (how|what|that|the feeling)\b",
    r"\bi (get|hear) (it|you)\b",
    r"\b(hope|hoping) (you|that|things|it)\b",
    r"\b(stay strong|hang in there|take care|you got this|you can do (it|this))\b",
    r"\b(sorry|unfortunately)\b",
    r"!",
    r"\b(i'?m|i am) (here|available|around)\b",
    r"\b(someone|somebody) to (talk|listen|chat)\b",
    r"\b(pm|dm|message|msg) me\b",
    r"\b(willing to|happy to|i'?ll|i will|i can) (listen|talk|help|lend an? ear)\b",
    r"\blend an? ear\b",
    r"\byou (are|'re) (loved|not a bother|worth it|beautiful|strong|brave|amazing|not alone)\b",
    r"\b(not|aren'?t|never) alone\b",
    r"\b(cares?|care) (about|for) you\b",
    r"\b(get|got|make it) through (this|it)\b",
    r"\bcan relate\b",
    r"\bbeen (there|through)\b",
    r"\bcongrat",
    r"\byou did (the right thing|great|well|good)\b",
    r"\b(worst|horrible) feeling",
    r"\bdon'?t want you to\b",
    r"\b(it'?s|it is) (okay|ok|normal|understandable) to\b",
    r"\bproud of\b",
    r"\b(wish|hope) you\b",
    r":\)|:-\)|\(:",
]
STRONG_EMPATHY = [re.compile(p, re.I) for p in _STRONG_EMPATHY]
WEAK_EMPATHY = [re.compile(p, re.I) for p in _WEAK_EMPATHY]


#: Below this politeness a message reads as clearly impolite (calmness evidence).
IMPOLITE = 0.1


def strong_empathy(text: str) -> re.Match[str] | None:
    """The first strong expression of feeling for the other person, if any."""
    return next((m for p in STRONG_EMPATHY if (m := p.search(text))), None)


def empathy(text: str) -> float:
    """How strongly the message expresses feelings for the other person (0 = none)."""
    strong = sum(1 for p in STRONG_EMPATHY if p.search(text))
    weak = sum(1 for p in WEAK_EMPATHY if p.search(text))
    return 2.0 * strong + 0.5 * weak
