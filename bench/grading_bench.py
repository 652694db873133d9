"""Evidence grader throughput.

Builds transcripts with the scripted engine across the whole persona library, then prints
transcripts per second for (a) parsing the transcript JSON alone (baseline, same run) and
(b) parsing plus grading with the evidence layer, and the ratio between them.

Usage: python bench/grading_bench.py [--transcripts N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm

from grading.grader import grade
from grading.rubric import get_rubric
from roleplay.core.actors import ScriptedActor
from roleplay.core.conversation import Conversation
from roleplay.core.library import PersonaLibrary, builtin_dir
from roleplay.core.transcript import parse_transcript
from tests.scripts import ATTACKS, GOOD, NEVER_ASKS_PHOTO, POLICY_ONLY, RUDE


def build(n: int, library: PersonaLibrary) -> list[str]:
    personas = list(library)
    scripts = [GOOD, RUDE, POLICY_ONLY, NEVER_ASKS_PHOTO, ATTACKS + GOOD]
    out: list[str] = []
    for i in tqdm(range(n), desc="building transcripts", file=sys.stderr):
        persona = personas[i % len(personas)]
        convo = Conversation(persona, ScriptedActor(persona, i), seed=i)
        convo.start()
        for message in scripts[i % len(scripts)]:
            if convo.ended:
                break
            convo.say(message)
        data = json.loads(convo.transcript.to_json())
        if i % 2:  # half without annotations, so the grader must recompute them
            data = {
                "persona": data["persona"],
                "turns": [{"speaker": t["speaker"], "text": t["text"]} for t in data["turns"]],
            }
        out.append(json.dumps(data))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transcripts", type=int, default=500)
    args = parser.parse_args()
    library = PersonaLibrary.load([builtin_dir()])
    rubric = get_rubric("default")
    blobs = build(args.transcripts, library)

    start = time.perf_counter()
    for blob in blobs:
        parse_transcript(json.loads(blob), "bench")
    parse_rate = len(blobs) / (time.perf_counter() - start)

    start = time.perf_counter()
    for blob in tqdm(blobs, desc="grading", file=sys.stderr):
        transcript = parse_transcript(json.loads(blob), "bench")
        grade(transcript, library.get(transcript.persona), rubric)
    grade_rate = len(blobs) / (time.perf_counter() - start)

    print("\nEvidence grader")
    print(f"  parse only (baseline)      {parse_rate:10.0f} transcripts/s")
    print(
        f"  parse + evidence grade     {grade_rate:10.0f} transcripts/s "
        f"({1000 / grade_rate:.2f} ms each)"
    )
    print(f"  grading cost               {parse_rate / grade_rate:10.1f}x parsing")


if __name__ == "__main__":
    main()
