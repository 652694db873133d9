"""Grading jobs through a real job queue (Huey): durable, retried, resumed after a crash.

* Storage: a SQLite queue file in ``ROLEPLAY_HOME`` by default (no server), or Redis at
  ``ROLEPLAY_QUEUE_URL`` when several app replicas share the work.
* Workers: threads inside ``roleplay serve`` (``ROLEPLAY_GRADING_WORKERS``, default 2), or
  ``roleplay worker`` on its own, for scale-out.
* A grade that fails on a backend error is retried with exponential backoff
  (``ROLEPLAY_GRADING_RETRIES``); the last failure is stored with its reason.
* Idempotent: a session has one grade row, and a job for a session that is no longer pending
  does nothing, so a job run twice stores one grade.
* Resumed: on start, every session still pending (its job lost with a killed process) is
  enqueued again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import Task
from huey.consumer import Consumer
from huey.exceptions import TaskLockedException

from roleplay.config import Settings
from roleplay.errors import BackendError, ConfigError

log = logging.getLogger(__name__)

#: Seconds before the first retry; each later one waits RETRY_BACKOFF times longer.
RETRY_DELAY = 2.0
RETRY_BACKOFF = 2.0
TASK_NAME = "roleplay.grade_session"


def _lock_name(session_id: int) -> str:
    return f"grade-{session_id}"


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
    return SqliteHuey(name, filename=str(settings.home / "queue.db"), results=False)


class GradingQueue:
    """Enqueue grades; run them in workers. ``grade`` does the work for one session and
    ``is_pending`` says whether a session still needs it."""

    def __init__(
        self,
        settings: Settings,
        grade: Callable[[int, str | None], None],
        is_pending: Callable[[int], bool],
        fail: Callable[[int, str], None],
        scope: str = "",
        *,
        retry_delay: float = RETRY_DELAY,
        retry_backoff: float = RETRY_BACKOFF,
    ) -> None:
        self.settings = settings
        self.huey = make_huey(settings, scope)
        self._progress = threading.Condition()
        self._grade, self._is_pending, self._fail = grade, is_pending, fail
        self._consumer: Consumer | None = None
        retries = settings.grading_retries

        @self.huey.task(  # type: ignore[untyped-decorator]
            name=TASK_NAME,
            retries=retries,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
            context=True,
        )
        def grade_session(
            session_id: int, rubric_id: str | None = None, task: Task | None = None
        ) -> None:
            try:
                # One worker grades a session at a time; a second job for it (a resumed one,
                # say) leaves it to the first. A lock left by a killed worker is cleared when
                # its grade is resumed.
                with self.huey.lock_task(_lock_name(session_id)):
                    if not self._is_pending(session_id):
                        return  # done already: a job run twice stores one grade
                    self._grade(session_id, rubric_id)
            except TaskLockedException:
                log.info("session %s is being graded by another worker", session_id)
            except BackendError as exc:
                if task is not None and task.retries > 0:
                    log.warning("grade of session %s failed (%s); retrying", session_id, exc)
                    raise
                self._fail(session_id, f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # not worth retrying: record it, never lose it
                log.exception("grade of session %s failed", session_id)
                self._fail(session_id, f"{type(exc).__name__}: {exc}")
            finally:
                with self._progress:
                    self._progress.notify_all()

        self._task = grade_session

    def enqueue(self, session_id: int, rubric_id: str | None = None) -> None:
        self._task(session_id, rubric_id)

    def resume(self, pending: list[int]) -> int:
        """Enqueue the sessions still pending (after a crash or a restart), clearing any lock
        a killed worker left on them."""
        if pending:
            self.huey.flush_locks(*(_lock_name(s) for s in pending))
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
