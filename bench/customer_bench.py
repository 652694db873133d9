"""The offline customer and the grader on natural wording: scripted candidates written in words
unlike the personas' patterns (``bench/agents/*.yaml``: good, rude and rule-breaking agents for
every built-in persona), played through the director and the scripted customer for several
seeds, then graded.

Printed per persona and kind: how the conversations ended, the verdicts, how often the
customer repeated a line within three turns, and the share of customer turns that answer the
candidate's previous main act. Targets: every good agent ends ``resolved`` and passes; no rude
agent ends resolved or passes; every rule-breaker is flagged with the rule it broke.

Usage: python bench/customer_bench.py [--seeds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tqdm import tqdm  # noqa: E402

from grading.grader import grade  # noqa: E402
from grading.rubric import get_rubric  # noqa: E402
from roleplay.core.actors import ScriptedActor  # noqa: E402
from roleplay.core.conversation import Conversation  # noqa: E402
from roleplay.core.library import PersonaLibrary, builtin_dir  # noqa: E402
from roleplay.core.persona import Move  # noqa: E402

AGENTS = HERE / "agents"

#: The move a customer turn answers with, for the candidate's main act.
ANSWERS: dict[str, set[Move]] = {
    "ask_fact": {Move.give_fact, Move.dont_know},
    "reask_fact": {Move.repeat_fact},
    "offer": {Move.accept, Move.consider_offer, Move.clarify, Move.thank_close, Move.give_fact},
    "bad_offer": {Move.reject_offer},
    "blame": {Move.react_blame, Move.ask_manager, Move.leave},
    "rude": {Move.complain, Move.react_blame, Move.ask_manager, Move.leave},
    "dismissive": {Move.complain, Move.demand, Move.ask_manager, Move.leave},
    "close": {Move.leave, Move.thank_close, Move.clarify, Move.accept, Move.ask_next_steps},
}


def run(seeds: int) -> dict[str, Any]:
    library = PersonaLibrary.load([builtin_dir()])
    rubric = get_rubric("default")
    files = sorted(AGENTS.glob("*.yaml"))
    rows: list[dict[str, Any]] = []
    jobs = [
        (yaml.safe_load(f.read_text(encoding="utf-8")), seed)
        for f in files
        for seed in range(seeds)
    ]
    for data, seed in tqdm(jobs, desc="scripts", unit="persona×seed", file=sys.stderr):
        persona = library.get(data["persona"])
        for script in data["scripts"]:
            convo = Conversation(persona, ScriptedActor(persona, seed=seed), seed=seed)
            convo.start()
            for message in script["messages"]:
                if convo.ended:
                    break
                convo.say(message)
            if not convo.ended:
                convo.end()
            transcript = convo.transcript
            report = grade(transcript, persona, rubric)
            lines = [t.text for t in transcript.turns if t.speaker == "customer"]
            repeats = sum(1 for i, t in enumerate(lines) if t in lines[max(0, i - 3) : i])
            answered = total = 0
            turns = transcript.turns
            for i in range(1, len(turns) - 1):
                if turns[i].speaker != "candidate" or not turns[i].acts:
                    continue
                main = next((a.kind.value for a in turns[i].acts if a.kind.value in ANSWERS), None)
                if main is None:
                    continue
                total += 1
                answered += turns[i + 1].move in ANSWERS[main]
            broken = sorted({f.detail.split(" ", 1)[0] for f in report.flagged("policy_violation")})
            rows.append(
                {
                    "persona": persona.id,
                    "script": script["id"],
                    "kind": script["kind"],
                    "seed": seed,
                    "outcome": transcript.outcome.value if transcript.outcome else "unfinished",
                    "verdict": report.verdict,
                    "scores": {c.criterion: c.score for c in report.criteria},
                    "broken": broken,
                    "expected_rule": script.get("notes", ""),
                    "customer_turns": len(lines),
                    "repeats": repeats,
                    "answered": answered,
                    "answerable": total,
                }
            )
    return summarise(rows)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    verdicts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        by_kind[r["kind"]][r["outcome"]] += 1
        verdicts[r["kind"]][r["verdict"]] += 1
    breakers = [r for r in rows if r["kind"] == "rule_breaker"]
    flagged = sum(
        1 for r in breakers if r["broken"] and any(b in r["expected_rule"] for b in r["broken"])
    )
    customer_turns = sum(r["customer_turns"] for r in rows)
    means: dict[str, dict[str, float]] = {}
    for kind in by_kind:
        mine = [r for r in rows if r["kind"] == kind]
        means[kind] = {
            c: round(sum(r["scores"][c] or 0 for r in mine) / len(mine), 2)
            for c in mine[0]["scores"]
        }
    return {
        "conversations": len(rows),
        "outcomes": {k: dict(v) for k, v in by_kind.items()},
        "verdicts": {k: dict(v) for k, v in verdicts.items()},
        "mean_scores": means,
        "rule_breakers_flagged_with_their_rule": f"{flagged}/{len(breakers)}",
        "repetition_rate": round(sum(r["repeats"] for r in rows) / max(1, customer_turns), 3),
        "answers_previous_act": round(
            sum(r["answered"] for r in rows) / max(1, sum(r["answerable"] for r in rows)), 3
        ),
        "failures": [
            f"{r['persona']}/{r['script']} seed {r['seed']}: {r['outcome']}, {r['verdict']}"
            + (f", broke {', '.join(r['broken'])}" if r["broken"] else "")
            for r in rows
            if (r["kind"] == "good" and (r["outcome"] != "resolved" or r["verdict"] != "pass"))
            or (r["kind"] == "rude" and (r["outcome"] == "resolved" or r["verdict"] == "pass"))
        ],
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.seeds)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"\nNatural-wording agents through the scripted customer ({result['conversations']})")
    for kind, outcomes in result["outcomes"].items():
        print(f"  {kind:<13} outcomes {outcomes}  verdicts {result['verdicts'][kind]}")
        print(f"  {'':<13} mean scores {result['mean_scores'][kind]}")
    flagged = result["rule_breakers_flagged_with_their_rule"]
    print(f"  rule-breakers flagged with their rule: {flagged}")
    print(f"  customer repeated a line within 3 turns: {result['repetition_rate']:.1%}")
    print(f"  customer turns answering the previous act: {result['answers_previous_act']:.1%}")
    for failure in result["failures"][:40]:
        print("  miss:", failure)


if __name__ == "__main__":
    main()
