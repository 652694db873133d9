"""Shared fixtures. Every test runs offline with a temporary data folder and no LLM settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roleplay.core.library import PersonaLibrary, builtin_dir
from roleplay.core.persona import Persona

#: The environment as the user set it, before each test's isolation removes LLM settings.
ORIGINAL_ENV = dict(os.environ)

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

_LLM_VARS = [
    "ROLEPLAY_LLM_BASE_URL",
    "OPENAI_API_KEY",
    "ROLEPLAY_LLM_API_KEY",
    "ROLEPLAY_PERSONA_MODEL",
    "ROLEPLAY_GRADER_MODEL",
    "ROLEPLAY_PERSONAS_DIR",
    "ROLEPLAY_DATABASE_URL",
    "OPENAI_BASE_URL",
]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in _LLM_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ROLEPLAY_HOME", str(tmp_path / "home"))
    yield


@pytest.fixture(scope="session")
def library() -> PersonaLibrary:
    return PersonaLibrary.load([builtin_dir()])


@pytest.fixture(scope="session")
def laptop(library: PersonaLibrary) -> Persona:
    return library.get("damaged-laptop")


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "tau2_retail" / "tasks.json").exists():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


# ---------------------------------------------------------------------------- storage
POSTGRES_ADMIN_URL = os.environ.get(
    "ROLEPLAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres"
)


def _postgres_database() -> Iterator[str]:
    """A fresh, throwaway PostgreSQL database for one test."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"roleplay_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            raise RuntimeError(
                f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}; .ci/run should have "
                "started it (scripts/ensure-test-services)"
            ) from exc
        pytest.skip(f"PostgreSQL not reachable: run scripts/ensure-test-services ({exc.orig})")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'roleplay.db'}"
    else:
        yield from _postgres_database()


REDIS_URL = os.environ.get("ROLEPLAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """The test Redis (queue names are per database, so tests never share a queue)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI"):
            raise RuntimeError(
                f"Redis is not reachable at {REDIS_URL}; .ci/run should have started it "
                "(scripts/ensure-test-services)"
            ) from exc
        pytest.skip(f"Redis not reachable: run scripts/ensure-test-services ({exc})")
    return REDIS_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


# ---------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, shared by every browser test."""
    from tests.web_helpers import browser_or_skip

    yield from browser_or_skip()
