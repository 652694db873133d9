"""Conversation engine benchmark.

Prints:
* milliseconds per scripted turn (director + scripted actor), over whole conversations;
* the LLM path's added latency per turn: a full conversation turn through LLMActor (prompt
  building, token counting, streaming, output checks) against the loopback fake server,
  minus the same server's latency measured with a bare openai client call in the same run.

Usage: python bench/engine_bench.py [--turns N] [--server-delay SECONDS]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai
from tqdm import tqdm

from roleplay.config import Settings
from roleplay.core.actors import ScriptedActor
from roleplay.core.conversation import Conversation, make_actor
from roleplay.core.library import PersonaLibrary, builtin_dir
from roleplay.testing import FakeChatServer, FakeReply
from tests.scripts import GOOD, POLICY_ONLY, RUDE

REPLY = "I need this sorted today. The screen is cracked and I have work on Monday."


def scripted(turns: int) -> float:
    lib = PersonaLibrary.load([builtin_dir()])
    personas = list(lib)
    done = 0
    elapsed = 0.0
    with tqdm(total=turns, desc="scripted turns", unit="turn", file=sys.stderr) as bar:
        seed = 0
        while done < turns:
            for persona in personas:
                for script in (GOOD, RUDE, POLICY_ONLY):
                    seed += 1
                    start = time.perf_counter()
                    convo = Conversation(persona, ScriptedActor(persona, seed), seed=seed)
                    convo.start()
                    n = 0
                    for message in script:
                        if convo.ended:
                            break
                        convo.say(message)
                        n += 1
                    elapsed += time.perf_counter() - start
                    done += n
                    bar.update(n)
    return elapsed / done * 1000


def llm(turns: int, delay: float) -> tuple[list[float], list[float]]:
    persona = PersonaLibrary.load([builtin_dir()]).get("damaged-laptop")
    server = FakeChatServer(default=lambda body: FakeReply(content=REPLY, delay=delay)).start()
    try:
        client = openai.OpenAI(base_url=server.url, api_key="x")
        settings = Settings.from_env(
            {
                "ROLEPLAY_LLM_BASE_URL": server.url,
                "ROLEPLAY_PERSONA_MODEL": "fake",
                "ROLEPLAY_HOME": "/tmp/bench-home",
            }
        )
        baseline: list[float] = []
        engine: list[float] = []
        messages = [{"role": "user", "content": GOOD[0]}]
        for _ in tqdm(range(turns), desc="LLM turns", unit="turn", file=sys.stderr):
            start = time.perf_counter()
            stream = client.chat.completions.create(
                model="fake",
                messages=messages,  # type: ignore[arg-type]
                stream=True,
            )
            for _chunk in stream:
                pass
            baseline.append(time.perf_counter() - start)

            convo = Conversation(persona, make_actor(persona, settings))
            convo.start()
            start = time.perf_counter()
            convo.say("Hi Dana, I'm sorry about the screen on your Lumen 14.")
            engine.append(time.perf_counter() - start)
        return baseline, engine
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--llm-turns", type=int, default=40)
    parser.add_argument("--server-delay", type=float, default=0.05)
    args = parser.parse_args()

    ms = scripted(args.turns)
    baseline, engine = llm(args.llm_turns, args.server_delay)
    b50, e50 = statistics.median(baseline) * 1000, statistics.median(engine) * 1000
    b95 = statistics.quantiles(baseline, n=20)[18] * 1000
    e95 = statistics.quantiles(engine, n=20)[18] * 1000
    print("\nConversation engine")
    print(f"  scripted turn                     {ms:8.2f} ms/turn (director + scripted actor)")
    print(f"  fake server, bare openai stream   p50 {b50:7.1f} ms   p95 {b95:7.1f} ms  (baseline)")
    print(f"  LLM actor turn, same server       p50 {e50:7.1f} ms   p95 {e95:7.1f} ms")
    print(
        f"  added by the engine               p50 {e50 - b50:7.1f} ms   "
        f"ratio {e50 / b50:5.2f}x baseline"
    )


if __name__ == "__main__":
    main()
