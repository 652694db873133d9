"""Shared fixtures. Every test runs offline with a temporary data folder and no LLM settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roleplay.library import PersonaLibrary, builtin_dir
from roleplay.persona import Persona

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
