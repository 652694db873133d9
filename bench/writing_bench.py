"""How well the written-communication check sees writing faults, per language, on agent
messages the grader's authors did not tune it on.

Data: ``bench/data/writing/clean_<lang>.jsonl`` (correct professional messages) and
``sloppy_<lang>.jsonl`` (text-speak, misspellings, missing capitals). The lines are split by
parity: even lines are the fit half (the settings in ``grading/data/writing.yaml`` were chosen
on them), odd lines the report half printed here. Messages are grouped five at a time into one
candidate's writing.

Printed per language, on the report half:
- the false-error rate on clean messages (flagged words per 200; target below 1), with the
  baseline of the dictionary alone (no frequency fallback, no compounds) in the same run;
- the mean score as k typos per 100 words are injected into the clean messages (k = 0..16),
  which must fall monotonically, and the share of injected typos that are flagged;
- the mean score of the sloppy messages;
- the time per 100 words.

Usage: python bench/writing_bench.py [--half fit|report] [--sweep]
(--sweep prints the Norwegian frequency-fallback threshold against both rates, on the half.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import time
from pathlib import Path

from tqdm import tqdm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from grading import writing  # noqa: E402
from grading.spelling import FrequencyFallback, speller, supported_languages  # noqa: E402

DATA = HERE / "data" / "writing"
GROUP = 5
TYPO_RATES = (0, 1, 2, 4, 8, 16)
#: Neighbouring keys on a QWERTY keyboard (Norwegian keyboards share the letter rows).
KEYS = ["qwertyuiopå", "asdfghjkløæ", "zxcvbnm"]


def load(name: str, half: str) -> list[str]:
    path = DATA / f"{name}.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines() if line]
    return lines[0 if half == "fit" else 1 :: 2]


def groups(messages: list[str]) -> list[dict[int, str]]:
    out = []
    for i in range(0, len(messages), GROUP):
        out.append({2 * n + 1: m for n, m in enumerate(messages[i : i + GROUP])})
    return out


def _neighbour(c: str, rng: random.Random) -> str:
    for row in KEYS:
        i = row.find(c)
        if i >= 0:
            options = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            return rng.choice(options)
    return c


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: a letter dropped, doubled, swapped with the next, or a neighbour."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "double", "swap", "near"))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "swap" and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + _neighbour(word[i], rng) + word[i + 1 :]


def inject(text: str, k: float, rng: random.Random) -> tuple[str, list[str]]:
    """``text`` with about k typos per 100 words in lowercase words of four letters or more."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if w.isalpha() and w.islower() and len(w) >= 4]
    n = min(len(candidates), round(k * len(words) / 100 + rng.random() - 0.5))
    made = []
    for i in rng.sample(candidates, max(n, 0)):
        words[i] = typo(words[i], rng)
        made.append(words[i])
    return " ".join(words), made


def flagged_words(turns: dict[int, str], lang: str) -> list[writing.Issue]:
    found = writing.check(turns, lang, set())
    assert found is not None
    return [i for i in found.issues if i.kind != "long_sentence"]


def false_errors(clean: list[str], lang: str) -> tuple[int, int, list[str]]:
    words = flags = 0
    examples: list[str] = []
    for g in groups(clean):
        found = writing.check(g, lang, set())
        assert found is not None
        words += found.words
        bad = [i for i in found.issues if i.kind != "long_sentence"]
        flags += len(bad)
        examples += [i.quote for i in bad]
    return flags, words, examples


def score(turns: dict[int, str], lang: str) -> int | None:
    return writing.assess(turns, lang, set(), suggest=False)[0]


def run_language(lang: str, half: str) -> None:
    clean, sloppy = load(f"clean_{lang}", half), load(f"sloppy_{lang}", half)
    if not clean:
        print(f"{lang}: no data in {DATA}")
        return
    sp = speller(lang)
    assert sp is not None
    t0 = time.perf_counter()
    flags, words, examples = false_errors(clean, lang)
    per100 = (time.perf_counter() - t0) * 1000 / max(words, 1) * 100
    rate = flags / max(words, 1) * 200
    saved = sp.profile.frequency_fallback, sp.profile.compounds
    sp.profile.frequency_fallback, sp.profile.compounds = [], None
    sp._known.clear()
    base_flags, _, _ = false_errors(clean, lang)
    sp.profile.frequency_fallback, sp.profile.compounds = saved
    sp._known.clear()
    base_rate = base_flags / max(words, 1) * 200
    print(
        f"\n{supported_languages()[lang]} ({lang}), {half} half: {len(clean)} clean messages, "
        f"{words} words; {len(sloppy)} sloppy"
    )
    ratio = f"{rate / base_rate:.2f}x" if base_rate else "-"
    print(
        f"  false errors on clean text: {rate:.2f} per 200 words ({flags} of {words}; "
        f"target < 1); dictionary alone {base_rate:.2f} per 200 (ratio {ratio})"
    )
    if examples:
        print(f"  flagged in clean text: {', '.join(sorted(set(examples))[:15])}")
    rng = random.Random(7)
    print("  typos/100 words   mean score   typos flagged")
    means = []
    for k in TYPO_RATES:
        scores, made, caught = [], 0, 0
        for g in tqdm(groups(clean), desc=f"  k={k}", leave=False, disable=None):
            hurt: dict[int, str] = {}
            typos: list[str] = []
            for t, text in g.items():
                hurt[t], new = inject(text, k, rng)
                typos += new
            s = score(hurt, lang)
            if s is not None:
                scores.append(s)
            seen = {i.quote for i in flagged_words(hurt, lang)}
            made += len(typos)
            caught += sum(1 for w in typos if w.strip(".,!?;:") in seen)
        mean = statistics.mean(scores)
        means.append(mean)
        share = f"{caught / made:.0%}" if made else "-"
        print(f"  {k:>15}   {mean:>10.2f}   {share:>13}")
    monotonic = all(a >= b for a, b in itertools.pairwise(means))
    print(f"  score falls monotonically with typos: {'yes' if monotonic else 'NO'}")
    if sloppy:
        s_scores = [s for g in groups(sloppy) if (s := score(g, lang)) is not None]
        print(
            f"  sloppy messages: mean score {statistics.mean(s_scores):.2f}, "
            f"{sum(s <= 3 for s in s_scores)}/{len(s_scores)} at 3 or below"
        )
    print(f"  speed: {per100:.1f} ms per 100 words (dictionaries loaded)")


def sweep(half: str) -> None:
    sp = speller("nb")
    assert sp is not None
    clean = load("clean_nb", half)
    rng = random.Random(3)
    hurt = [inject(m, 8, rng) for m in clean]
    print("nb frequency fallback: min_zipf  false errors/200  typos flagged")
    for z in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0):
        sp.profile.frequency_fallback = [
            FrequencyFallback(min_length=4, min_zipf=4.0),
            FrequencyFallback(min_length=5, min_zipf=z),
        ]
        sp._known.clear()
        flags, words, _ = false_errors(clean, "nb")
        made = sum(len(t) for _, t in hurt)
        seen = {i.quote for text, _ in hurt for i in flagged_words({1: text}, "nb")}
        caught = sum(1 for _, t in hurt for w in t if w.strip(".,!?;:") in seen)
        print(f"  {z:>29.1f}  {flags / words * 200:>15.2f}  {caught / made:>12.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--half", choices=("fit", "report"), default="report")
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    if args.sweep:
        sweep(args.half)
        return
    for lang in supported_languages():
        run_language(lang, args.half)


if __name__ == "__main__":
    main()
