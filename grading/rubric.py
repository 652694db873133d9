"""Rubrics as data: criteria with weights and five anchored levels, and a pass mark."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from roleplay.core.validation import display_path, load_unique, load_yaml_mapping, pydantic_problems
from roleplay.errors import NotFound, ValidationFailed

BUILTIN_DIR = Path(__file__).resolve().parent / "rubrics"

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", min_length=2, max_length=64)]


FailFlag = Literal["closed_unresolved", "injection_attempt", "customer_fault"]


def _default_fail_on() -> list[FailFlag]:
    return ["closed_unresolved"]


class Criterion(BaseModel):
    """One thing the candidate is scored on, 1 to 5."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Slug = Field(
        description="Identifier; the built-in evidence analyzers use calmness, "
        "active_listening, empathy, policy_adherence, resolution and written_communication."
    )
    name: str = Field(min_length=1, description="Display name.")
    description: str = Field(min_length=1, description="What the criterion measures.")
    weight: float = Field(gt=0, le=10, description="Relative weight in the overall score.")
    levels: dict[int, Annotated[str, Field(min_length=1)]] = Field(
        description="What a 1, 2, 3, 4 and 5 look like (all five required)."
    )

    @field_validator("levels")
    @classmethod
    def _five_levels(cls, v: dict[int, str]) -> dict[int, str]:
        if sorted(v) != [1, 2, 3, 4, 5]:
            raise ValueError(
                f"needs exactly the levels 1, 2, 3, 4 and 5, got {sorted(v)}; "
                "describe what each score looks like"
            )
        return v


class Rubric(BaseModel):
    """A rubric: criteria, weights and the pass mark (0-100 on the overall score)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Slug = Field(description="Rubric id, e.g. default.")
    name: str = Field(min_length=1)
    version: int = Field(1, ge=1, description="Bump when the rubric changes.")
    pass_mark: float = Field(ge=0, le=100, description="Overall score needed to pass.")
    fail_on: list[FailFlag] = Field(
        default_factory=_default_fail_on,
        description="Flags that fail the grade whatever the overall (a broken must-not "
        "policy rule always does).",
    )
    criteria: list[Criterion] = Field(min_length=1)

    @field_validator("criteria")
    @classmethod
    def _unique(cls, v: list[Criterion]) -> list[Criterion]:
        ids = [c.id for c in v]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate criterion id(s) {', '.join(dupes)}; rename one")
        return v

    @property
    def content_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def load_rubric_file(path: Path) -> Rubric:
    data, problems = load_yaml_mapping(path, "rubric")
    if data is None:
        raise ValidationFailed(problems)
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(pydantic_problems(display_path(path), exc, Rubric)) from None


def load_rubrics(dirs: list[Path] | None = None) -> dict[str, Rubric]:
    """All rubrics by id; duplicate ids across files are an error."""
    rubrics, problems, _ = load_unique(
        dirs or [BUILTIN_DIR], load_rubric_file, lambda r: r.id, "rubric"
    )
    if problems:
        raise ValidationFailed(problems)
    return {rid: rubric for rid, (rubric, _) in rubrics.items()}


def get_rubric(rubric_id: str, dirs: list[Path] | None = None) -> Rubric:
    rubrics = load_rubrics(dirs)
    if rubric_id not in rubrics:
        raise NotFound(f"unknown rubric {rubric_id!r}", hint=f"known: {', '.join(sorted(rubrics))}")
    return rubrics[rubric_id]
