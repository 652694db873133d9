"""The grading queue's cost: grade N stored sessions through the job queue (Huey, SQLite
queue file, worker threads) against calling the grader directly on the same sessions, in the
same run. Twice: the evidence grader alone, and with an LLM judge on the loopback fake
server answering in 50 ms (16 at once both ways).

Printed per case: sessions per second both ways, the queue's overhead per job and as a
share of the direct time (target <= 10%), and the process's peak memory.

Usage: python bench/queue_bench.py [--n 10000] [--distinct 40] [--llm-n 2000]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sqlalchemy import select  # noqa: E402
from tqdm import tqdm  # noqa: E402

from roleplay.config import Settings  # noqa: E402
from roleplay.core.library import PersonaLibrary, builtin_dir  # noqa: E402
from roleplay.services.candidates import CandidateService  # noqa: E402
from roleplay.storage.store import Store  # noqa: E402
from roleplay.storage.tables import Grade, Session, TurnRow  # noqa: E402
from roleplay.testing import FakeChatServer, FakeReply  # noqa: E402
from roleplay.understanding.features import _cached  # noqa: E402
from tests import scripts  # noqa: E402
from tests.scripts import talk  # noqa: E402

SCRIPTS = [scripts.GOOD, scripts.RUDE, scripts.POLICY_ONLY]


def seed_sessions(svc: CandidateService, store: Store, n: int, distinct: int) -> list[int]:
    """``distinct`` real conversations, then copies of them up to ``n`` finished sessions."""
    originals: list[int] = []
    for i in tqdm(range(distinct), desc="conversations", file=sys.stderr):
        token = store.create_invite("damaged-laptop", "practice", attempts=1 + n // distinct)
        info, _ = svc.start(token)
        talk(svc, token, info.id, SCRIPTS[i % len(SCRIPTS)][: 3 + i % 3])
        svc.end(token, info.id)
        originals.append(info.id)
    ids = list(originals)
    with store._db() as db:  # bulk copies: the bench measures grading, not inserting
        rows = {s.id: s for s in db.scalars(select(Session).where(Session.id.in_(originals)))}
        turns = {
            sid: list(db.scalars(select(TurnRow).where(TurnRow.session_id == sid)))
            for sid in originals
        }
        attempt = 1 + n // distinct + 1
        for k in range(n - distinct):
            src = rows[originals[k % distinct]]
            copy = Session(
                invite_id=src.invite_id,
                attempt=attempt + k,
                persona_id=src.persona_id,
                persona_version=src.persona_version,
                engine=src.engine,
                model=src.model,
                seed=src.seed,
                mode=src.mode,
                source="bench",
                status="ended",
                outcome=src.outcome,
            )
            db.add(copy)
            db.flush()
            for t in turns[src.id]:
                db.add(
                    TurnRow(
                        session_id=copy.id, idx=t.idx, speaker=t.speaker, text=t.text, data=t.data
                    )
                )
            ids.append(copy.id)
        db.commit()
    return ids


def reset(store: Store, ids: list[int]) -> None:
    with store._db() as db:
        db.query(Grade).filter(Grade.session_id.in_(ids)).delete(synchronize_session=False)
        db.add_all(Grade(session_id=i, status="pending") for i in ids)
        db.commit()
    _cached.cache_clear()  # each way starts with a cold sentence cache


def direct(svc: CandidateService, ids: list[int], concurrency: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(tqdm(pool.map(svc.grade_now, ids), total=len(ids), desc="direct", file=sys.stderr))
    return time.perf_counter() - start


def queued(svc: CandidateService, store: Store, ids: list[int], workers: int) -> float:
    start = time.perf_counter()
    for i in ids:
        svc.queue.enqueue(i)
    svc.queue.start_workers(workers)
    bar = tqdm(total=len(ids), desc="queue", file=sys.stderr)
    left = len(ids)
    while left:
        with store._db() as db:
            now = db.query(Grade).filter(Grade.status == "pending").count()
        bar.update(left - now)
        left = now
        if left:
            svc.queue.wait_for_progress(0.2)
    bar.close()
    elapsed = time.perf_counter() - start
    svc.queue.stop_workers()
    return elapsed


def judge_reply(body: dict[str, Any]) -> FakeReply:
    prompt = body["messages"][-1]["content"]
    ids = re.findall(r"Grade these criteria: ([^.\n]+)\.", prompt)[-1].split(", ")
    turn, quote = re.search(r"\[turn (\d+)\] AGENT: (.{1,12})", prompt).groups()  # type: ignore[union-attr]
    criteria = [
        {
            "criterion": c,
            "reasoning": "ok",
            "score": 4,
            "evidence": [{"turn": int(turn), "quote": quote}],
        }
        for c in ids
    ]
    return FakeReply(content=json.dumps({"criteria": criteria}), delay=0.05)


def case(name: str, env: dict[str, str], n: int, distinct: int, concurrency: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="queue-bench-"))
    settings = Settings.from_env(
        {"ROLEPLAY_HOME": str(home), "ROLEPLAY_GRADING_WORKERS": "0", **env}
    )
    store = Store.from_settings(settings)
    svc = CandidateService(store, settings, PersonaLibrary.load([builtin_dir()]))
    ids = seed_sessions(svc, store, n, distinct)
    # warm every cache but the sentence cache (persona indexes, compiled patterns, the
    # database's pages) on the originals, so neither way pays for being first
    reset(store, ids)
    direct(svc, ids[:distinct], concurrency)
    reset(store, ids)
    t_direct = direct(svc, ids, concurrency)
    reset(store, ids)
    t_queue = queued(svc, store, ids, concurrency)
    with store._db() as db:
        done = db.query(Grade).filter(Grade.status == "done").count()
    svc.close()
    store.close()
    overhead = (t_queue - t_direct) / len(ids)
    return {
        "case": name,
        "sessions": len(ids),
        "graded": done,
        "direct_per_s": len(ids) / t_direct,
        "queue_per_s": len(ids) / t_queue,
        "overhead_ms": overhead * 1000,
        "overhead_share": (t_queue - t_direct) / t_direct,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10000, help="sessions, evidence grader")
    parser.add_argument("--llm-n", type=int, default=2000, help="sessions, with the LLM judge")
    parser.add_argument("--distinct", type=int, default=40)
    args = parser.parse_args()
    results = [case("evidence grader", {}, args.n, args.distinct, 2)]
    with FakeChatServer(default=judge_reply) as llm:
        env = {
            "ROLEPLAY_LLM_BASE_URL": llm.url,
            "ROLEPLAY_GRADER_MODEL": "fake-judge",
            "ROLEPLAY_LLM_MAX_RETRIES": "0",
        }
        results.append(
            case("fake LLM judge, 50 ms, 16 at once", env, args.llm_n, args.distinct, 16)
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("Grading queue (Huey, SQLite queue file) against calling the grader directly")
    for r in results:
        print(
            f"  {r['case']:<34} {r['sessions']:>6} sessions ({r['graded']} graded): "
            f"direct {r['direct_per_s']:7.1f}/s, queue {r['queue_per_s']:7.1f}/s, "
            f"overhead {r['overhead_ms']:+6.2f} ms/job ({r['overhead_share']:+.1%})"
        )
    print(f"  peak memory of the process      {peak_mb:7.0f} MB")


if __name__ == "__main__":
    main()
