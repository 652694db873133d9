"""Grading jobs through a real job queue (Huey): durable, retried, resumed after a crash.

* Storage: a SQLite queue file in ``ROLEPLAY_HOME`` by default (no server), or Redis at
  ``ROLEPLAY_QUEUE_URL`` when several app replicas share the work.
* Workers: threads inside ``roleplay serve`` (``ROLEPLAY_GRADING_WORKERS``, default 2), or
  ``roleplay worker`` on its own, for scale-out.
* A grade that fails on a backend error is retried with exponential backoff
  (``ROLEPLAY_GRADING_RETRIES``); the last failure is stored with its reason.
* One worker at a time: a worker claims a grade in the database with a lease it renews while
  it works (``ROLEPLAY_GRADING_LEASE``). A second job for that session waits for the lease
  and then finds the grade done, so a job run twice stores one grade. The lease of a worker
  that was killed runs out, and the next job for its session takes the grade over; a replica
  that starts never takes a grade another live replica is working on.
* Resumed: on start, every session still pending (its job lost with a killed process) is
  enqueued again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import Task
from huey.consumer import Consumer
from huey.exceptions import RetryTask
from huey.storage import SqliteStorage

from roleplay.config import Settings
from roleplay.errors import BackendError, ConfigError
from roleplay.storage.store import GradeClaim

log = logging.getLogger(__name__)

#: Seconds before the first retry; each later one waits RETRY_BACKOFF times longer.
RETRY_DELAY = 2.0
RETRY_BACKOFF = 2.0
TASK_NAME = "roleplay.grade_session"


class GradeRows(Protocol):
    """Where grades are claimed and failures recorded (the store; an in-memory one in tests)."""

    def claim_grade(self, session_id: int, owner: str, seconds: float) -> GradeClaim: ...

    def renew_claim(self, session_id: int, owner: str, seconds: float) -> bool: ...

    def release_claim(self, session_id: int, owner: str) -> None: ...

    def grade_failed(self, session_id: int, error: str) -> None: ...


def make_huey(settings: Settings, scope: str = "") -> Huey:
    """The queue the settings name (created on first use). ``scope`` (the database URL) names
    the queue: jobs for one database are never taken by workers of another."""
    name = "roleplay-" + hashlib.sha256(scope.encode()).hexdigest()[:12]
    url = settings.queue_url
    if url and url.startswith(("redis://", "rediss://")):
        return RedisHuey(name, url=url, results=False)
    if url:
        raise ConfigError(
            f"ROLEPLAY_QUEUE_URL {url!r} is not a Redis URL",
            hint="use redis://host:6379/0, or leave it empty for the SQLite queue file",
        )
    settings.home.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        name, filename=str(settings.home / "queue.db"), results=False, storage_class=_QueueFile
    )


class _QueueFile(SqliteStorage):  # type: ignore[misc]
    """Huey's SQLite storage, committing with ``synchronous=NORMAL``: in WAL mode a kill of
    the process loses nothing and a power cut cannot corrupt the file, only the last jobs.
    Those are not lost either: the database is the record (a grade row pending), and every
    pending grade is enqueued again on start. Saves an fsync per enqueue and per dequeue."""

    def _create_connection(self) -> object:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class GradingQueue:
    """Enqueue grades; run them in workers. ``grade`` does the work for one session; ``rows``
    hands out the claims on grades and records failures."""

    def __init__(
        self,
        settings: Settings,
        grade: Callable[[int, str | None], None],
        rows: GradeRows,
        scope: str = "",
        *,
        retry_delay: float = RETRY_DELAY,
        retry_backoff: float = RETRY_BACKOFF,
    ) -> None:
        self.settings = settings
        self.huey = make_huey(settings, scope)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._progress = threading.Condition()
        self._grade, self._rows = grade, rows
        self._consumer: Consumer | None = None
        lease = settings.grading_lease

        @self.huey.task(  # type: ignore[untyped-decorator]
            name=TASK_NAME,
            retries=settings.grading_retries,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
            context=True,
        )
        def grade_session(
            session_id: int, rubric_id: str | None = None, task: Task | None = None
        ) -> None:
            claim = rows.claim_grade(session_id, self.owner, lease)
            if claim.state == "not pending":
                return  # done already: a job run twice stores one grade
            if claim.state == "busy":  # another worker is on it: look again when its lease ends
                log.info("session %s is being graded by another worker", session_id)
                raise RetryTask(delay=claim.wait + 0.5)
            try:
                with self._holding(session_id, lease):
                    self._grade(session_id, rubric_id)
            except BackendError as exc:
                if task is not None and task.retries > 0:
                    log.warning("grade of session %s failed (%s); retrying", session_id, exc)
                    rows.release_claim(session_id, self.owner)
                    raise
                rows.grade_failed(session_id, f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # not worth retrying: record it, never lose it
                log.exception("grade of session %s failed", session_id)
                rows.grade_failed(session_id, f"{type(exc).__name__}: {exc}")
            finally:
                with self._progress:
                    self._progress.notify_all()

        self._task = grade_session

    @contextmanager
    def _holding(self, session_id: int, lease: float) -> Iterator[None]:
        """Renew this worker's lease on a grade every third of it until the work is done."""
        done = threading.Event()

        def renew() -> None:
            while not done.wait(lease / 3):
                if not self._rows.renew_claim(session_id, self.owner, lease):
                    return

        beat = threading.Thread(target=renew, name=f"lease-{session_id}", daemon=True)
        beat.start()
        try:
            yield
        finally:
            done.set()
            beat.join()

    def enqueue(self, session_id: int, rubric_id: str | None = None) -> None:
        self._task(session_id, rubric_id)

    def resume(self, pending: list[int]) -> int:
        """Enqueue the sessions still pending (after a crash or a restart). A grade another
        live worker holds is left to it; one whose worker died is taken over when its lease
        runs out."""
        for session_id in pending:
            self.enqueue(session_id)
        return len(pending)

    def queued(self) -> int:
        return int(self.huey.pending_count())

    def wait_for_progress(self, timeout: float) -> None:
        """Wait until a job of this process finishes, or ``timeout`` seconds (a job run by
        another process is seen on the next check)."""
        with self._progress:
            self._progress.wait(timeout)

    # ------------------------------------------------------------------ workers
    def start_workers(self, workers: int | None = None) -> None:
        """Run workers as threads of this process (``roleplay serve``)."""
        count = self.settings.grading_workers if workers is None else workers
        if count <= 0 or self._consumer is not None:
            return
        # inside the server: no health-check thread restarting workers behind its back
        consumer = self._consumer_for(count, check_worker_health=False)
        consumer.start()
        self._consumer = consumer

    def stop_workers(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None

    def run_forever(self, workers: int) -> None:
        """``roleplay worker``: run workers until interrupted (SIGINT / SIGTERM)."""
        self._consumer_for(workers, check_worker_health=True).run()

    def _consumer_for(self, workers: int, *, check_worker_health: bool) -> Consumer:
        """Worker threads polling the queue at most every half second (no periodic tasks)."""
        return self.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=False,
            check_worker_health=check_worker_health,
            backoff=1.15,
            max_delay=0.5,
        )
