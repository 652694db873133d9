"""LLM judge token cost: one call for the whole rubric against one call per criterion.

Both modes run the real judge chain (ChatOpenAI, json_schema structured output) against the
loopback fake server, over the hand-written damaged-laptop transcripts, in the same run. The
fake answers every criterion with a realistic-length reasoning. Tokens are counted with
tiktoken on what was actually sent and received.

Usage: python bench/judge_bench.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm

from grading import EXAMPLES_DIR
from grading.evidence import evidence_grade
from grading.grader import make_judge
from grading.rubric import get_rubric
from roleplay.config import Settings
from roleplay.core.library import PersonaLibrary, builtin_dir
from roleplay.core.transcript import read_transcript
from roleplay.testing import FakeChatServer, FakeReply

TRANSCRIPTS = EXAMPLES_DIR
REASONING = (
    "The agent acknowledged the customer's situation early and kept a courteous tone. "
    "It referred back to the order and the damage, asked for the photo before offering a "
    "replacement, and explained the shipping timeline without promising faster delivery. "
    "The next steps were stated clearly before closing."
)


def respond(body: dict[str, Any]) -> FakeReply:
    prompt = body["messages"][-1]["content"]
    ids = re.findall(r"Grade these criteria: ([^.\n]+)\.", prompt)[-1].split(", ")
    quote = re.search(r"\[turn (\d+)\] AGENT: (.{1,18})", prompt)
    assert quote is not None
    turn, words = int(quote.group(1)), quote.group(2)
    data = {
        "criteria": [
            {
                "criterion": cid,
                "reasoning": REASONING,
                "score": 4,
                "evidence": [{"turn": turn, "quote": words}],
            }
            for cid in ids
        ]
    }
    return FakeReply(content=json.dumps(data))


def main() -> None:
    library = PersonaLibrary.load([builtin_dir()])
    rubric = get_rubric("default")
    totals = {"one call": [0, 0, 0], "per criterion": [0, 0, 0]}
    with FakeChatServer(default=respond) as server:
        settings = Settings.from_env(
            {
                "ROLEPLAY_LLM_BASE_URL": server.url,
                "ROLEPLAY_GRADER_MODEL": "gpt-4o-mini",
                "ROLEPLAY_HOME": "/tmp/bench-home",
            }
        )
        judge = make_judge(settings)
        assert judge is not None
        files = sorted(TRANSCRIPTS.glob("*.json"))
        for path in tqdm(files, desc="judging", file=sys.stderr):
            transcript = read_transcript(path)
            persona = library.get(transcript.persona)
            evidence = evidence_grade(transcript, persona, rubric.criteria)
            run = judge.judge(transcript, persona, rubric, rubric.criteria, evidence)
            totals["one call"][0] += run.prompt_tokens
            totals["one call"][1] += run.completion_tokens
            totals["one call"][2] += run.attempts
            for criterion in rubric.criteria:
                run = judge.judge(transcript, persona, rubric, [criterion], evidence)
                totals["per criterion"][0] += run.prompt_tokens
                totals["per criterion"][1] += run.completion_tokens
                totals["per criterion"][2] += run.attempts
    n = len(files)
    print(
        f"\nLLM judge tokens per grade ({n} transcripts, {len(rubric.criteria)} criteria, "
        "tiktoken cl100k)"
    )
    for mode, (prompt, completion, calls) in totals.items():
        print(
            f"  {mode:<14} prompt {prompt / n:7.0f}  completion {completion / n:6.0f}  "
            f"total {(prompt + completion) / n:7.0f}  calls {calls / n:4.1f}"
        )
    one = sum(totals["one call"][:2])
    per = sum(totals["per criterion"][:2])
    print(f"  per-criterion baseline costs {per / one:.2f}x the one-call judge")


if __name__ == "__main__":
    main()
