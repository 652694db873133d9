"""Written communication: spelling, mechanics and readability of the candidate's messages.

Offline and deterministic. Spelling comes from real dictionaries (:mod:`grading.spelling`);
names, product names, order numbers, e-mail addresses, links and every word the customer or
the persona used are never counted as errors. Mechanics are the slips a spell checker cannot
see: a sentence that starts without a capital, a lowercase "I", a doubled word, "!!!". Clarity
is sentence length and LIX readability (from ``textstat``). Each issue cites its turn and its
words; the score is the number of issues per 100 words against the bounds in
``grading/data/writing.yaml``. With an LLM judge configured, grammar and clarity are judged on
top (the judge may lower this score, never raise it: see :mod:`grading.grader`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Literal

import regex

from grading.report import Evidence
from grading.spelling import Speller, config, speller

IssueKind = Literal["spelling", "capital", "repeat", "punctuation", "long_sentence"]

#: How each kind of issue is named to people, singular and plural.
KIND_WORDS: dict[str, tuple[str, str]] = {
    "spelling": ("misspelling", "misspellings"),
    "capital": ("missing capital", "missing capitals"),
    "repeat": ("doubled word", "doubled words"),
    "punctuation": ("run of !/?", "runs of !/?"),
    "long_sentence": ("overlong sentence", "overlong sentences"),
}

_SKIP = regex.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\S+")
_CHUNK = regex.compile(r"\S+")
_WORD = regex.compile(r"\p{L}+(?:['’\-]\p{L}+)*")
#: A sentence ends at . ! ? or … and a space, except after a number ("den 20. mai").
_SENTENCE_END = regex.compile(r"(?<=[.!?…])(?<!\d\.)\s+|\n+")
#: Letters joined by a dot: a user name, a domain or an abbreviation (kari.n, f.eks.).
_DOTTED = regex.compile(r"\p{L}\.\p{L}")
_PUNCT_RUN = regex.compile(r"[!?]{2,}")
_APOSTROPHE_S = regex.compile(r"['’]s?$")


#: At most this many issues are cited (each is highlighted in the reviewer's transcript).
MAX_CITED = 40


@dataclass(frozen=True)
class Issue:
    turn: int
    kind: IssueKind
    quote: str
    start: int
    fix: str | None = None


@dataclass
class WritingCheck:
    """What the check found in the candidate's writing."""

    words: int = 0
    sentences: int = 0
    issues: list[Issue] = field(default_factory=list)
    lix: float | None = None
    longest: int = 0

    @property
    def rate(self) -> float:
        """Issues per 100 words (counting at least 100 words)."""
        s = config().scoring
        return len(self.issues) / max(self.words, s.per_words) * s.per_words


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    sentence_start: bool


def words_of(text: str) -> list[str]:
    """The lowercase words of a text (for the words the customer or persona used)."""
    return [m.group().lower().replace("’", "'") for m in _WORD.finditer(_SKIP.sub(" ", text))]


def _tokens(text: str) -> tuple[list[_Token], list[tuple[int, int]]]:
    """The words worth checking, and the sentence spans. Chunks holding a digit (order numbers,
    amounts, dates) and links or addresses are skipped whole."""
    masked = _SKIP.sub(lambda m: " " * len(m.group()), text)
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENTENCE_END.finditer(masked):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(masked)))
    spans = [(a, b) for a, b in spans if masked[a:b].strip()]
    starts = set()
    for a, b in spans:
        first = _WORD.search(masked, a, b)
        if first is not None and not regex.search(r"\d", masked[a : first.start()]):
            starts.add(first.start())
    tokens = []
    for chunk in _CHUNK.finditer(masked):
        if regex.search(r"\d", chunk.group()) or _DOTTED.search(chunk.group()):
            continue
        for w in _WORD.finditer(chunk.group()):
            start = chunk.start() + w.start()
            tokens.append(_Token(w.group(), start, start in starts))
    return tokens, spans


def _is_name(tok: _Token) -> bool:
    """Capitalised mid-sentence, an acronym, or mixed case (FlexiPlan, iPhone): a name."""
    word = tok.text
    if any(c.isupper() for c in word[1:]):
        return True
    return word[0].isupper() and not tok.sentence_start


def _spelled(sp: Speller, word: str) -> bool:
    plain = word.replace("’", "'")
    if sp.known(plain) or (plain[0].isupper() and sp.known(plain.lower())):
        return True
    base = _APOSTROPHE_S.sub("", plain)
    if base != plain and base and sp.known(base):
        return True
    parts = plain.split("-")
    return len(parts) > 1 and all(p and (sp.known(p) or sp.known(p.lower())) for p in parts)


def check(turns: dict[int, str], language: str, known: set[str]) -> WritingCheck | None:
    """Check the candidate's messages (turn index → text). ``known`` holds lowercase words
    never counted as misspelled (the customer's and the persona's). None when the language
    has no dictionary."""
    sp = speller(language)
    if sp is None:
        return None
    import textstat  # its first import takes a moment; most rubrics never need it

    scoring = config().scoring
    capital = {w.lower(): w for w in sp.profile.always_capital}
    result = WritingCheck()
    prose = []
    for turn, text in sorted(turns.items()):
        tokens, spans = _tokens(text)
        result.words += len(tokens)
        for i, tok in enumerate(tokens):
            low = tok.text.lower().replace("’", "'")
            head = regex.split(r"['’]", tok.text)[0]
            proper = capital.get(head.lower())
            if proper is not None and head != proper:
                fixed = proper + tok.text[len(head) :]
                result.issues.append(Issue(turn, "capital", tok.text, tok.start, fixed))
                continue
            if tok.sentence_start and tok.text[0].islower() and not _is_name(tok):
                result.issues.append(
                    Issue(turn, "capital", tok.text, tok.start, tok.text[0].upper() + tok.text[1:])
                )
            if i and low == tokens[i - 1].text.lower() and len(low) > 1:
                prev = tokens[i - 1]
                if text[prev.start + len(prev.text) : tok.start].strip() == "":
                    quote = text[prev.start : tok.start + len(tok.text)]
                    result.issues.append(Issue(turn, "repeat", quote, prev.start, tok.text))
                    continue
            if len(tok.text) < 2 or _is_name(tok) or low in known:
                continue
            if tok.sentence_start and tok.text[0].isupper():
                after = text[tok.start + len(tok.text) : tok.start + len(tok.text) + 1]
                if after == "," and not sp.known(low):
                    continue  # "Priya, I am sorry": a name opening the sentence
            if not _spelled(sp, tok.text):
                result.issues.append(Issue(turn, "spelling", tok.text, tok.start))
        for m in _PUNCT_RUN.finditer(text):
            result.issues.append(Issue(turn, "punctuation", m.group(), m.start(), m.group()[0]))
        for a, b in spans:
            n = len(_WORD.findall(text[a:b]))
            result.sentences += 1
            result.longest = max(result.longest, n)
            if n > scoring.long_sentence_words:
                opening = " ".join(text[a:b].split()[:8])
                result.issues.append(Issue(turn, "long_sentence", opening, a, f"{n} words"))
        body = text.strip()
        prose.append(body if body[-1:] in ".!?…" else body + ".")
    if result.words:
        result.lix = round(float(textstat.lix("\n".join(prose))), 1)
    return result


def _fixes(sp: Speller, issues: list[Issue], limit: int = 6) -> list[Issue]:
    """Issues with suggestions filled in for the first ``limit`` distinct misspellings (a
    suggestion takes up to a second or two in Norwegian)."""
    suggested: dict[str, str | None] = {}
    out = []
    for issue in issues:
        if issue.kind == "spelling":
            if issue.quote not in suggested and len(suggested) < limit:
                suggested[issue.quote] = sp.fix(issue.quote)
            issue = replace(issue, fix=suggested.get(issue.quote))
        out.append(issue)
    return out


def note(issue: Issue) -> str:
    """What to fix, in words: "spelling: did you mean “the”?"."""
    if issue.kind == "spelling":
        return f"spelling: did you mean “{issue.fix}”?" if issue.fix else "spelling: not a word"
    if issue.kind == "capital":
        return f"capital letter: write “{issue.fix}”"
    if issue.kind == "repeat":
        return "doubled word"
    if issue.kind == "punctuation":
        return f"one “{issue.fix}” is enough with a customer"
    return f"overlong sentence ({issue.fix}): split it"


def _count(issues: list[Issue]) -> str:
    counts = Counter(i.kind for i in issues)
    return ", ".join(
        f"{n} {KIND_WORDS[k][0 if n == 1 else 1]}"
        for k, n in sorted(counts.items(), key=lambda kv: -kv[1])
    )


Result = tuple[int | None, str, list[Evidence]]


def assess(
    turns: dict[int, str], language: str, known: set[str], *, suggest: bool = True
) -> Result:
    """The written-communication score, its rationale and the words it rests on (with the
    likely fix of the first few misspellings when ``suggest``)."""
    found = check(turns, language, known)
    if found is None:
        return None, f"not assessed: no dictionary for the language {language!r}", []
    scoring = config().scoring
    if found.words < scoring.min_words:
        return None, f"not assessed: only {found.words} words written", []
    rate = found.rate
    score = next(
        (lvl for lvl in sorted(scoring.bounds, reverse=True) if rate < scoring.bounds[lvl]), 1
    )
    hard = found.lix is not None and found.lix > scoring.hard_lix
    if hard and score == 5:
        score = 4
    sp = speller(language)
    assert sp is not None
    issues = _fixes(sp, found.issues) if suggest else found.issues
    evidence = [Evidence(turn=i.turn, quote=i.quote, note=note(i)) for i in issues[:MAX_CITED]]
    readability = f"LIX {found.lix:.0f}" + (", hard to read" if hard else "")
    if not issues:
        why = f"no spelling or mechanical slips in {found.words} words ({readability})"
        return score, why, evidence
    why = f"{_count(issues)} in {found.words} words ({rate:.1f} per 100; {readability})"
    fixes = [f"“{i.quote}” → “{i.fix}”" for i in issues if i.kind == "spelling" and i.fix][:4]
    if fixes:
        why += "; fix " + ", ".join(dict.fromkeys(fixes))
    return score, why, evidence
