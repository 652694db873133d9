"""Grading through the job queue (Huey): retried with backoff, failures recorded, one grade per
session however often its job runs, and a grade lost with a killed server completed after
the restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from roleplay.config import Settings
from roleplay.core.library import PersonaLibrary
from roleplay.errors import BackendError
from roleplay.services.candidates import CandidateService
from roleplay.services.jobs import GradingQueue
from roleplay.storage.store import GradeClaim, Store
from roleplay.testing import FakeChatServer, FakeReply
from tests import scripts
from tests.scripts import talk
from tests.test_calibration import _fake_llm
from tests.web_helpers import ROLEPLAY, Server


def until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Wait for a condition (checked every 50 ms), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)


class Ledger:
    """A stand-in for the store's grade rows (claims with leases included), recording every
    call. A session is pending until it is graded or has failed."""

    def __init__(self, failures: int = 0, hold: threading.Event | None = None) -> None:
        self.failures = failures
        self.hold = hold  # when given, each grade waits for it
        self.calls: list[tuple[int, float]] = []
        self.done: dict[int, int] = {}
        self.failed: dict[int, str] = {}
        self.claims: dict[int, tuple[str, float]] = {}  # session -> (owner, lease end)
        self.busy = 0  # claims refused because another worker's lease held
        self.lock = threading.Lock()

    def grade(self, session_id: int, rubric_id: str | None = None) -> None:
        with self.lock:
            self.calls.append((session_id, time.monotonic()))
            if len(self.calls) <= self.failures:
                raise BackendError("the LLM endpoint answered 503")
        if self.hold is not None:
            assert self.hold.wait(30)
        with self.lock:
            self.done[session_id] = self.done.get(session_id, 0) + 1
            self.claims.pop(session_id, None)

    def claim_grade(self, session_id: int, owner: str, seconds: float) -> GradeClaim:
        with self.lock:
            if session_id in self.done or session_id in self.failed:
                return GradeClaim("not pending")
            now = time.monotonic()
            holder = self.claims.get(session_id)
            if holder is not None and holder[1] > now:
                self.busy += 1
                return GradeClaim("busy", wait=holder[1] - now)
            self.claims[session_id] = (owner, now + seconds)
            return GradeClaim("claimed")

    def renew_claim(self, session_id: int, owner: str, seconds: float) -> bool:
        with self.lock:
            if self.claims.get(session_id, ("",))[0] != owner:
                return False
            self.claims[session_id] = (owner, time.monotonic() + seconds)
            return True

    def release_claim(self, session_id: int, owner: str) -> None:
        with self.lock:
            if self.claims.get(session_id, ("",))[0] == owner:
                del self.claims[session_id]

    def grade_failed(self, session_id: int, error: str) -> None:
        with self.lock:
            self.failed[session_id] = error
            self.claims.pop(session_id, None)


def queue_for(
    tmp_path: Path, ledger: Ledger, retries: int, lease: float = 30.0, workers: int = 1
) -> GradingQueue:
    settings = Settings.from_env(
        {
            "ROLEPLAY_HOME": str(tmp_path),
            "ROLEPLAY_GRADING_RETRIES": str(retries),
            "ROLEPLAY_GRADING_LEASE": str(lease),
        }
    )
    queue = GradingQueue(
        settings,
        ledger.grade,
        ledger,
        scope=str(tmp_path),
        retry_delay=1.0,  # the scheduler looks once a second: 1 s, then 3 s
        retry_backoff=3.0,
    )
    queue.start_workers(workers)
    return queue


def test_a_backend_error_is_retried_with_growing_delays(tmp_path: Path) -> None:
    ledger = Ledger(failures=2)
    queue = queue_for(tmp_path, ledger, retries=3)
    try:
        queue.enqueue(7)
        until(lambda: 7 in ledger.done, what="the third attempt")
    finally:
        queue.stop_workers()
    times = [t for _, t in ledger.calls]
    assert len(times) == 3 and ledger.done == {7: 1} and not ledger.failed
    first, second = times[1] - times[0], times[2] - times[1]
    assert second > first  # backoff: each retry waits longer


def test_the_last_failure_is_stored_with_its_reason(tmp_path: Path) -> None:
    ledger = Ledger(failures=99)
    queue = queue_for(tmp_path, ledger, retries=1)
    try:
        queue.enqueue(3)
        until(lambda: 3 in ledger.failed, what="the final failure")
    finally:
        queue.stop_workers()
    assert len(ledger.calls) == 2  # the first try and one retry
    assert ledger.failed[3] == "BackendError: the LLM endpoint answered 503"


def test_a_job_run_twice_stores_one_grade(tmp_path: Path) -> None:
    ledger = Ledger()
    queue = queue_for(tmp_path, ledger, retries=0)
    try:
        queue.enqueue(5)
        queue.enqueue(5)
        until(lambda: queue.queued() == 0 and 5 in ledger.done, what="both jobs")
        queue.enqueue(5)
        until(lambda: queue.queued() == 0, what="the third job")
    finally:
        queue.stop_workers()
    assert ledger.done == {5: 1}


def test_a_replica_that_starts_leaves_a_grade_another_is_working_on(tmp_path: Path) -> None:
    # Replica A is grading session 4 (slowly); replica B starts and resumes every pending grade.
    hold = threading.Event()
    ledger = Ledger(hold=hold)
    a = queue_for(tmp_path, ledger, retries=0, lease=2.0)
    b = queue_for(tmp_path, ledger, retries=0, lease=2.0)
    try:
        a.enqueue(4)
        until(lambda: len(ledger.calls) == 1, what="replica A to start the grade")
        b.resume([4])
        # B's job finds A's lease, waits it out, and finds it again: A renews it while it works
        until(lambda: ledger.busy >= 2 or len(ledger.calls) > 1, what="replica B to look twice")
        assert len(ledger.calls) == 1
        hold.set()
        until(lambda: a.queued() == 0 and b.queued() == 0 and 4 in ledger.done, what="both")
    finally:
        hold.set()
        a.stop_workers()
        b.stop_workers()
    assert ledger.done == {4: 1} and len(ledger.calls) == 1


def test_a_grade_whose_worker_died_is_taken_over_when_its_lease_runs_out(
    tmp_path: Path,
) -> None:
    ledger = Ledger()
    assert ledger.claim_grade(6, "a killed worker", 1.5).state == "claimed"
    queue = queue_for(tmp_path, ledger, retries=0, lease=5.0)
    try:
        queue.resume([6])
        until(lambda: 6 in ledger.done, what="the grade to be taken over")
    finally:
        queue.stop_workers()
    assert ledger.done == {6: 1}


def test_jobs_of_another_database_are_never_taken(tmp_path: Path) -> None:
    mine, theirs = Ledger(), Ledger()
    settings = Settings.from_env({"ROLEPLAY_HOME": str(tmp_path)})
    other = GradingQueue(settings, theirs.grade, theirs, scope="db-b")
    queue = GradingQueue(settings, mine.grade, mine, scope="db-a")
    queue.start_workers(1)
    try:
        other.enqueue(1)  # same queue file, another database
        queue.enqueue(2)
        until(lambda: 2 in mine.done, what="my job")
    finally:
        queue.stop_workers()
    assert mine.done == {2: 1} and not theirs.calls and other.queued() == 1


def test_a_grade_lost_with_a_killed_server_completes_after_the_restart(
    tmp_path: Path, library: PersonaLibrary
) -> None:
    home = tmp_path / "home"
    slow = threading.Event()

    def judge(body: dict[str, object]) -> FakeReply:
        reply = _fake_llm(body)
        if not slow.is_set():  # the first grading hangs until the server is killed
            slow.set()
            reply.delay = 30.0
        return reply

    with FakeChatServer(default=judge) as llm:
        env = {
            "ROLEPLAY_LLM_BASE_URL": llm.url,
            "ROLEPLAY_GRADER_MODEL": "fake-judge",
            "ROLEPLAY_LLM_MAX_RETRIES": "0",
            "ROLEPLAY_LLM_TIMEOUT": "60",
            "ROLEPLAY_GRADING_LEASE": "3",  # the killed worker's claim runs out 3 s on
        }
        # A candidate finishes while no worker runs: the grade waits in the queue.
        settings = Settings.from_env({"ROLEPLAY_HOME": str(home), "ROLEPLAY_GRADING_WORKERS": "0"})
        store = Store.from_settings(settings)
        svc = CandidateService(store, settings, library)
        token = store.create_invite("damaged-laptop", "practice", candidate_name="Kim")
        info, _ = svc.start(token)
        talk(svc, token, info.id, scripts.GOOD)
        assert store.grade(info.id)[0] == "pending"  # type: ignore[index]

        server = Server(home, extra_env=env).start()
        try:
            until(slow.is_set, what="the server's worker to call the judge")
            server.kill()
            assert store.grade(info.id)[0] == "pending"  # type: ignore[index]
            server.start()
            until(
                lambda: store.grade(info.id)[0] != "pending",  # type: ignore[index]
                timeout=60,
                what="the grade after the restart",
            )
        finally:
            server.stop()
            svc.close()
        status, report, error = store.grade(info.id)  # type: ignore[misc]
        assert status == "done" and error is None
        assert report is not None and report["provenance"]["engine"] == "evidence+llm"
        with store.engine.connect() as db:
            count = db.execute(
                text("select count(*) from grades where session_id = :s"), {"s": info.id}
            ).scalar()
        assert count == 1
        store.close()


def test_roleplay_worker_grades_what_servers_without_workers_leave(
    tmp_path: Path, library: PersonaLibrary
) -> None:
    home = tmp_path / "home"
    settings = Settings.from_env({"ROLEPLAY_HOME": str(home), "ROLEPLAY_GRADING_WORKERS": "0"})
    store = Store.from_settings(settings)
    svc = CandidateService(store, settings, library)
    token = store.create_invite("damaged-laptop", "practice", candidate_name="Lee")
    info, _ = svc.start(token)
    talk(svc, token, info.id, scripts.GOOD)
    assert store.grade(info.id)[0] == "pending"  # type: ignore[index]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROLEPLAY_", "OPENAI_"))}
    worker = subprocess.Popen(
        [str(ROLEPLAY), "worker", "--workers", "1"],
        env={**env, "ROLEPLAY_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        until(
            lambda: store.grade(info.id)[0] == "done",  # type: ignore[index]
            timeout=60,
            what="the worker's grade",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
        svc.close()
    assert worker.returncode == 0
    report = store.grade(info.id)[1]  # type: ignore[index]
    assert report is not None and report["outcome"] == "resolved"
    store.close()


def test_grading_a_folder_writes_json_lines_and_resumes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from grading import EXAMPLES_DIR
    from roleplay.faces.cli import main

    folder = tmp_path / "transcripts"
    folder.mkdir()
    for path in sorted(EXAMPLES_DIR.glob("*.json")):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "broken.json").write_text('{"persona": "nobody", "turns": []}', encoding="utf-8")
    env = {"ROLEPLAY_HOME": str(tmp_path / "home")}
    first = CliRunner(env=env).invoke(main, ["grade", str(folder), "--concurrency", "3"])
    assert first.exit_code == 0, first.output
    assert "6 graded (fail 5, pass 1), 0 already done, 1 could not be graded" in first.output
    results = folder / "grades.jsonl"
    lines = results.read_text().splitlines()
    assert len(lines) == 7
    # interrupted after four lines, the last one cut short
    results.write_text("\n".join(lines[:4]) + "\n" + lines[4][:40], encoding="utf-8")
    again = CliRunner(env=env).invoke(main, ["grade", str(folder), "--resume"])
    assert again.exit_code == 0, again.output
    assert "3 graded" in again.output and "4 already done" in again.output
    rows = [json.loads(ln) for ln in results.read_text().splitlines()]
    assert sorted(r["file"] for r in rows) == sorted(p.name for p in folder.glob("*.json"))
    model = next(r for r in rows if r["file"] == "model_answer.json")
    assert model["verdict"] == "pass" and model["report"]["overall"] == model["overall"]
    broken = next(r for r in rows if r["file"] == "broken.json")["error"]
    assert broken.endswith("broken.json:turns: no turns; a transcript needs at least one message")


def test_grade_all_grades_every_stored_session_again(
    tmp_path: Path, library: PersonaLibrary
) -> None:
    from click.testing import CliRunner

    from roleplay.faces.cli import main

    home = tmp_path / "home"
    settings = Settings.from_env({"ROLEPLAY_HOME": str(home)})
    store = Store.from_settings(settings)
    svc = CandidateService(store, settings, library)
    ids = []
    for name, script in [("Ann", scripts.GOOD), ("Rob", scripts.RUDE)]:
        rubric = "chat-email" if name == "Rob" else None  # Rob applied to a chat desk
        token = store.create_invite(
            "damaged-laptop", "assessment", candidate_name=name, rubric_id=rubric
        )
        info, _ = svc.start(token)
        talk(svc, token, info.id, script)
        if store.session(info.id).status == "active":
            svc.end(token, info.id)
        ids.append(info.id)
    svc.wait_for_grading()
    svc.close()
    before = {i: store.grade(i)[1]["provenance"]["graded_at"] for i in ids}  # type: ignore[index]
    cli = CliRunner(env={"ROLEPLAY_HOME": str(home)})
    result = cli.invoke(main, ["grade", "--all"])
    assert result.exit_code == 0, result.output
    assert "2 session(s) graded again with each invite's rubric" in result.output
    rubrics = []
    for i in ids:
        status, report, _ = store.grade(i)  # type: ignore[misc]
        assert status == "done" and report["provenance"]["graded_at"] > before[i]
        rubrics.append(report["provenance"]["rubric_id"])
    assert rubrics == ["default", "chat-email"]
    result = cli.invoke(main, ["grade", "--all", "--rubric", "default"])
    assert "2 session(s) graded again with rubric 'default'" in result.output
    assert [store.grade(i)[1]["provenance"]["rubric_id"] for i in ids] == ["default"] * 2  # type: ignore[index]
    store.close()
