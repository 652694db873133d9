"""What a candidate's message does: the detected acts the director and the grader rest on.

Detection is lexical and deterministic, so every decision can be explained by the words that
triggered it (each :class:`Act` carries its ``quote``). The lexicons cover English; personas
in other languages still get fact questions, offers and policy rules from their own patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, Field

from roleplay.core import patterns
from roleplay.core.patterns import Match
from roleplay.core.persona import ActKind, Persona

_I = re.IGNORECASE


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts), _I)


GREET = _rx(
    r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|greetings|welcome)\b",
    r"thanks? (you )?for (contacting|reaching out|calling|getting in touch|writing)",
    r"\bmy name is\b",
)
APOLOGIZE = _rx(
    r"\b(i'?m|i am|we'?re|we are) (so |very |really |truly |terribly |deeply )?sorry\b",
    r"\bapologi[sz]e",
    r"\bmy apologies\b",
    r"\bsorry (about|for|that|to hear)\b",
)
ACKNOWLEDGE = _rx(
    r"\b(i|we) (completely |totally |really |fully |can )?(understand|see|hear|get) "
    r"(why|how|that|what|you|your)",
    r"\b(that|this|it)('s| is| sounds| must be| must have been| must feel) "
    r"(really |so |very |incredibly |extremely )?"
    r"(frustrating|stressful|annoying|upsetting|awful|difficult|hard|worrying|disappointing|"
    r"infuriating|a lot|terrible|unacceptable|not okay|not ok)",
    r"\bi can (only )?imagine\b",
    r"\bno wonder\b",
    r"\byou have every right\b",
    r"\bunderstandabl[ey]\b",
    r"\byou('re| are) right\b",
    r"\bi'?d (feel|be) the same\b",
    r"\bthat'?s (not|never) (the experience|what you)",
    r"\bi hear you\b",
)
OWNERSHIP = _rx(
    r"\bi('ll| will) (personally |make sure|take care|sort|fix|handle|look into|own)",
    r"\blet me (take care|sort|fix|handle|look into|get this|make this right)",
    r"\bi('m| am) (going to|on it)",
    r"\bi'?ll get (this|it) (sorted|fixed|done)",
)
NEXT_STEPS = _rx(
    r"\byou('ll| will) (receive|get|see)\b",
    r"\bi('ll| will| have) (send|sent|email|process|arrange|set up|create|issue|book|email)",
    r"\bwithin \d+ (business |working )?(days|hours)\b",
    r"\bnext steps?\b",
    r"\bhere'?s what (happens|will happen|i'?ll do)\b",
    r"\btracking (number|link)\b",
    r"\bconfirmation (email|number)\b",
    r"\bprepaid (return )?label\b",
)
POLICY_RECITAL = _rx(
    r"\b(our|the|company|store) polic(y|ies)\b",
    r"\bper (our )?policy\b",
    r"\baccording to (our|the) (policy|terms|rules)",
    r"\bpolicy (states|says|requires)",
    r"\bterms and conditions\b",
    r"\bi('m| am) (not allowed|not permitted|not authori[sz]ed)",
    r"\b(rules are rules|that'?s (just )?the (rule|policy|procedure))\b",
)
DISMISSIVE = _rx(
    r"\bcalm down\b",
    r"\brelax\b",
    r"\bnot (my|our) (problem|fault|responsibility)\b",
    r"\bnothing (i|we) can do\b",
    r"\b(that'?s|it'?s) not (a|that) big (a )?deal\b",
    r"\bwhatever\b",
    r"\bdeal with it\b",
    r"\byou('ll| will)? (just )?have to wait\b",
    r"\btake it or leave it\b",
    r"\bi don'?t know what (else )?to tell you\b",
    r"\b(as|like) i (already )?said\b",
    r"\bthese things happen\b",
    r"\bit is what it is\b",
    r"\bno need to (shout|yell|be rude|get upset)\b",
    r"\bchill\b",
)
RUDE = _rx(
    r"\b(stupid|idiot\w*|dumb|moron\w*|pathetic|hysterical|crazy|clueless|incompetent)\b",
    r"\bshut up\b",
    r"\bstop (whining|complaining|yelling|crying|moaning)\b",
    r"\bget lost\b",
    r"\bare you (deaf|blind|stupid|serious)\b",
    r"\blearn to read\b",
    r"\b(fuck\w*|shit\w*|crap|bitch\w*|damn|bloody|hell)\b",
    r"\bgrow up\b",
    r"\bnot (my|our) job\b",
    r"\bi don'?t care\b",
    r"\bgo away\b",
)
BLAME = _rx(
    r"\byou('re| are)? (should have|should'?ve|must have|must'?ve|probably|obviously) "
    r"(dropped|broke|damaged|opened|mishandled|done|read|checked|been|caused|misused)",
    r"\byour (own )?fault\b",
    r"\byou (did|caused|broke) (it|this|that)\b",
    r"\buser error\b",
    r"\byou (didn'?t|did not|never) (read|check|follow|look)",
    r"\bthat'?s on you\b",
    r"\bif you had (read|checked|been)",
)
CLOSE = _rx(
    r"\b(is there )?anything else (i|we) can (help|do|assist)",
    r"\bhave a (great|good|nice|lovely|wonderful) (day|evening|weekend|one|night)\b",
    r"\b(good ?bye|bye)\b",
    r"\btake care\b",
    r"\bi('ll| will| am going to|'m going to) (now )?(close|end) (this|the|our) "
    r"(chat|conversation|call|ticket)",
    r"\b(closing|ending) (this|the) (chat|conversation|call|ticket)\b",
)
# "Thanks for contacting us" opens a conversation as often as it closes one.
CLOSE_THANKS = _rx(
    r"\bthanks? (you )?for (contacting|reaching out|calling|chatting|getting in touch)\b"
)
QUESTION_START = re.compile(
    r"^\s*(can|could|would|will|do|does|did|is|are|was|were|have you|has (it|the|your)|what|"
    r"which|when|where|who|why|how|may|shall)\b",
    _I,
)
_ASK_VERBS = r"(send|share|provide|upload|attach|give|tell|confirm|email|forward|describe)"
REQUEST = re.compile(
    rf"^\s*(please |kindly )?{_ASK_VERBS}\b|\b(can|could|would|will) you (please )?{_ASK_VERBS}\b"
    rf"|\bplease {_ASK_VERBS}\b|\b(i|we)('d| would)? need (you to|your|a|the)\b"
    rf"|\bif you (could|can) {_ASK_VERBS}\b|\blet me know\b",
    _I,
)
# Attempts to steer the simulated customer or the grader rather than talk to the customer.
MANIPULATION = _rx(
    r"\bignore (all |any |your |the |my |previous |prior |above |earlier )*"
    r"(instructions|rules|prompts?|directions|guidelines|persona)",
    r"\byou are now\b",
    r"\bsystem prompt\b",
    r"\bhidden (instructions|facts|scenario|data)\b",
    r"\b(print|show|reveal|repeat|output|tell me) (me )?(your|the) (instructions|prompt|"
    r"rules|scenario|secret|hidden|system)",
    r"\bend (the|this)? ?(conversation|chat|call)? ?(as|with) (resolved|satisfied|success)",
    r"\bmark (this|the conversation|it) (as )?(resolved|satisfied)",
    r"\bpretend (to be|you are|you'?re)\b",
    r"\bdeveloper mode\b",
    r"\bjailbreak\b",
    r"\byou'?re (an? )?(ai|bot|language model|llm|chatbot|simulation)\b",
    r"(^|\n)\s*\[?(system|assistant|admin|developer)\]?\s*:",
    r"</?(system|instructions?)>",
    r"\b(score|grade|rate) (me|this( conversation| transcript)?) (as )?(a )?\d",
    r"\b(give|award) me (a |the )?(5|five|full marks|top score|perfect score|100)",
    r"\b(note|message|instruction)s? (to|for) the (grader|evaluator|judge|reviewer|ai)\b",
    r"\b(grader|evaluator|judge|rubric)\b",
    r"\bnew instructions\b",
    r"\bdisregard\b",
)
_NEGATORS = re.compile(
    r"\b(not|no|never|cannot|can'?t|won'?t|don'?t|doesn'?t|isn'?t|aren'?t|unable|without|"
    r"instead of|rather than|neither|nor|impossible|unfortunately)\b|n't\b",
    _I,
)
_SAFE_NO = re.compile(r"\bno (problem|worries|doubt)\b", _I)
_CLAUSE_BREAK = re.compile(r"[.!?;:\n]|,\s*(but|however|though|so|and)\b|\b(but|however)\b", _I)
_WORD = re.compile(r"[\w$€£#'-]+")
_STOP = {
    "the",
    "and",
    "for",
    "with",
    "that",
    "this",
    "was",
    "were",
    "have",
    "has",
    "from",
    "over",
    "into",
    "your",
    "you",
    "are",
    "its",
    "it's",
    "when",
    "then",
    "they",
    "them",
    "there",
    "their",
    "been",
    "about",
    "just",
    "like",
    "what",
    "which",
    "will",
    "would",
}


class Act(BaseModel):
    """One thing a candidate message does, with the words that show it."""

    kind: ActKind = Field(description="What the candidate did.")
    detail: str | None = Field(None, description="Fact or resolution id the act is about.")
    quote: str = Field(description="The words in the message that triggered the detection.")


def sentences(text: str) -> list[str]:
    """Split a message into sentences (keeping question marks)."""
    parts = re.split(r"(?<=[.!?])\s+|\n+", text.strip())
    return [p for p in parts if p.strip()]


def is_question(sentence: str) -> bool:
    return "?" in sentence or bool(QUESTION_START.search(sentence))


def negated(text: str, start: int) -> bool:
    """Whether the words just before ``start``, in the same clause, negate what follows."""
    window = text[max(0, start - 80) : start]
    breaks = list(_CLAUSE_BREAK.finditer(window))
    if breaks:
        window = window[breaks[-1].end() :]
    window = _SAFE_NO.sub("", window)
    words = window.split()[-6:]
    return bool(_NEGATORS.search(" ".join(words)))


def affirmed(pattern: str, text: str) -> Match | None:
    """First match of a trainer's ``pattern`` in ``text`` that is not negated in its clause."""
    for match in patterns.finditer(pattern, text):
        if not negated(text, match.start()):
            return match
    return None


def any_affirmed(hints: Iterable[str], text: str) -> Match | None:
    for pattern in hints:
        found = affirmed(pattern, text)
        if found:
            return found
    return None


def any_match(hints: Iterable[str], text: str) -> Match | None:
    for pattern in hints:
        found = patterns.search(pattern, text)
        if found:
            return found
    return None


def shouting(text: str) -> str | None:
    """Three or more words in capitals (not abbreviations like ID or UPS)."""
    caps = re.findall(r"\b[A-Z]{3,}\b", text)
    caps = [w for w in caps if w not in {"USD", "UPS", "DHL", "FAQ", "ASAP", "PDF", "SMS", "URL"}]
    letters = [c for c in text if c.isalpha()]
    upper_ratio = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
    if len(caps) >= 3 or (len(letters) >= 12 and upper_ratio > 0.7):
        return " ".join(caps[:5]) or text[:40]
    return None


def content_words(text: str) -> set[str]:
    """Distinctive words: four letters or more, or anything with a digit ("14", "A1042")."""
    return {
        w.lower().strip("'")
        for w in _WORD.findall(text)
        if (len(w) >= 4 or any(c.isdigit() for c in w)) and w.lower() not in _STOP
    }


def mentions_fact(text: str, value: str) -> str | None:
    """The candidate refers back to a fact: its whole value, or two of its content words."""
    low = text.lower()
    at = low.find(value.lower())
    if at >= 0:
        return text[at : at + len(value)]
    words = content_words(value)
    hits = [m for w in words if (m := re.search(rf"\b{re.escape(w)}", low))]
    if len(words) >= 2 and len(hits) >= 2:
        first = min(hits, key=lambda m: m.start())
        return text[first.start() : first.end()]  # verbatim, so it can be cited
    return None


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group(0).strip() if m else None


def detect_acts(
    text: str,
    persona: Persona,
    stated_facts: Iterable[str] = (),
    *,
    first_turn: bool = False,
) -> list[Act]:
    """Detect what a candidate message does.

    ``stated_facts`` are the fact ids the customer has already said; asking for one of
    those again is a re-ask (unless the message quotes the value back to confirm it).
    """
    acts: list[Act] = []
    stated = set(stated_facts)

    def add(kind: ActKind, quote: str | None, detail: str | None = None) -> None:
        if quote is not None:
            acts.append(Act(kind=kind, detail=detail, quote=quote[:120]))

    manipulation = _first(MANIPULATION, text)
    add(ActKind.manipulation, manipulation)
    add(ActKind.greet, _first(GREET, text) if first_turn or GREET.search(text[:20]) else None)
    add(ActKind.apologize, _first(APOLOGIZE, text))
    ack = _first(ACKNOWLEDGE, text) or _first(OWNERSHIP, text)
    add(ActKind.acknowledge, ack)

    for fact in persona.scenario.facts:
        if fact.id in stated:
            quote = mentions_fact(text, fact.value)
            if quote:
                add(ActKind.reflect, quote, fact.id)

    for sentence in sentences(text):
        asking = is_question(sentence) or bool(REQUEST.search(sentence))
        if asking:
            add(ActKind.question, sentence.strip()[:120])
        if not asking:
            continue
        for fact in persona.scenario.facts:
            hit = any_match(fact.asked_by, sentence)
            if not hit:
                continue
            if fact.id in stated:
                if mentions_fact(sentence, fact.value) is None:
                    add(ActKind.reask_fact, hit.group(0), fact.id)
            else:
                add(ActKind.ask_fact, hit.group(0), fact.id)

    if not manipulation:
        for res in persona.scenario.acceptable_resolutions:
            hit = any_affirmed(res.patterns, text)
            if hit:
                add(ActKind.offer, hit.group(0), res.id)
        for res in persona.scenario.unacceptable_resolutions:
            hit = any_affirmed(res.patterns, text)
            if hit:
                add(ActKind.bad_offer, hit.group(0), res.id)

    add(ActKind.next_steps, _first(NEXT_STEPS, text))
    helpful = any(a.kind in (ActKind.offer, ActKind.next_steps, ActKind.ask_fact) for a in acts)
    if not helpful:
        add(ActKind.policy_recital, _first(POLICY_RECITAL, text))
    add(ActKind.dismissive, _first(DISMISSIVE, text))
    add(ActKind.rude, _first(RUDE, text) or shouting(text))
    add(ActKind.blame, _first(BLAME, text))
    add(ActKind.close, _first(CLOSE, text) or (None if first_turn else _first(CLOSE_THANKS, text)))
    return _dedupe(acts)


def _dedupe(acts: list[Act]) -> list[Act]:
    seen: set[tuple[ActKind, str | None]] = set()
    out: list[Act] = []
    for act in acts:
        key = (act.kind, act.detail)
        if key not in seen:
            seen.add(key)
            out.append(act)
    return out


def kinds(acts: Iterable[Act]) -> set[ActKind]:
    return {a.kind for a in acts}
