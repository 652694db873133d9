"""The transcript: the interchange format between the engine, storage and the grader.

Version 1 JSON::

    {"version": 1, "persona": "<id>", "outcome": "<ending>",
     "turns": [{"speaker": "customer" | "candidate", "text": "...", ...annotations}]}

Readers accept a file with only ``persona`` and ``turns`` (each with ``speaker`` and
``text``), ignore unknown fields, and reject bad files with a message naming file and field.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roleplay.core.director import Outcome
from roleplay.core.persona import Act, Move
from roleplay.core.validation import display_path, pydantic_problems
from roleplay.errors import InputError

TRANSCRIPT_VERSION = 1


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TokenUsage(_Lenient):
    """Token totals and estimated cost for a conversation or a grade."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    priced: bool = Field(True, description="False when the model has no known price.")
    counted_by: Literal["none", "api", "tiktoken", "mixed"] = Field(
        "none",
        description="api: the server reported every count; tiktoken: estimated offline; "
        "mixed: some of each.",
    )

    def add(self, prompt: int, completion: int, cost: float | None, reported: bool) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        source: Literal["api", "tiktoken"] = "api" if reported else "tiktoken"
        self.counted_by = source if self.counted_by in ("none", source) else "mixed"
        if cost is None:
            self.priced = False
        else:
            self.cost_usd = round(self.cost_usd + cost, 6)


class Turn(_Lenient):
    """One message, with the director's annotations when the engine produced it."""

    speaker: Literal["customer", "candidate"] = Field(description="Who said it.")
    text: str = Field(description="What was said, exactly as shown.")
    at: datetime | None = Field(None, description="When it was said (UTC).")
    acts: list[Act] | None = Field(None, description="Candidate turns: detected acts.")
    mood_before: int | None = Field(None, description="Customer mood before this turn.")
    mood: int | None = Field(None, description="Customer mood after this turn.")
    move: Move | None = Field(None, description="Customer turns: the move voiced.")
    released: list[str] = Field(default_factory=list, description="Hidden facts released.")
    offer: str | None = Field(None, description="Customer turns: the resolution in play.")
    reasons: list[str] = Field(default_factory=list, description="Why the customer reacted.")
    source: Literal["scripted", "llm", "fallback"] | None = Field(
        None, description="Customer turns: who wrote the words."
    )


class Transcript(_Lenient):
    """A whole conversation."""

    version: int = Field(TRANSCRIPT_VERSION, description="Interchange format version.")
    persona: str = Field(description="Persona id.")
    persona_version: str | None = Field(None, description="Persona content hash.")
    outcome: Outcome | None = Field(None, description="How it ended; none while running.")
    engine: str | None = Field(None, description="scripted or llm.")
    model: str | None = Field(None, description="Persona model, for the LLM engine.")
    seed: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    usage: TokenUsage | None = None
    turns: list[Turn] = Field(description="Messages in order.")

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True)

    def candidate_turns(self) -> list[tuple[int, Turn]]:
        return [(i, t) for i, t in enumerate(self.turns) if t.speaker == "candidate"]


def parse_transcript(data: object, file: str) -> Transcript:
    """Validate transcript data; raise InputError naming the file and field."""
    if not isinstance(data, dict):
        raise InputError(file, "(root)", "expected a JSON object with 'persona' and 'turns'")
    version = data.get("version", TRANSCRIPT_VERSION)
    if version != TRANSCRIPT_VERSION:
        raise InputError(
            file, "version", f"unsupported version {version!r}; this reader understands 1"
        )
    try:
        transcript = Transcript.model_validate(data)
    except ValidationError as exc:
        problem = pydantic_problems(file, exc, Transcript)[0]
        raise InputError(problem.file, problem.field, problem.message) from None
    if not transcript.turns:
        raise InputError(file, "turns", "no turns; a transcript needs at least one message")
    return transcript


def read_transcript(path: Path) -> Transcript:
    """Read a transcript JSON file."""
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(file, "(file)", "no such file; check the path") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as exc:
        raise InputError(file, "(file)", f"cannot be read as UTF-8 text: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            file, f"line {exc.lineno}", f"invalid JSON: {exc.msg}; check commas and quotes"
        ) from None
    return parse_transcript(data, file)
