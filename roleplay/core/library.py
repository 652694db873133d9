"""The persona library: loading, validating and looking up personas by id."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from roleplay.config import Settings
from roleplay.core.persona import Persona, placeholders
from roleplay.core.validation import (
    check_regex,
    display_path,
    load_unique,
    load_yaml_mapping,
    pydantic_problems,
)
from roleplay.errors import NotFound, Problem, ValidationFailed

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # roleplay/

#: Lines in these banks may use {fact}: the fact being given or repeated.
_FACT_BANKS = {"give_fact", "repeat_fact"}


def builtin_dir() -> Path:
    """The built-in persona folder: inside the wheel when installed, else the checkout's."""
    packaged = _PACKAGE_DIR / "builtin_personas"
    return packaged if packaged.is_dir() else _PACKAGE_DIR.parent / "personas"


def _get(data: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(data, list) or key >= len(data):
                return None
        elif not isinstance(data, dict):
            return None
        data = data[key] if isinstance(key, int) else data.get(key)
    return data


def _items(data: Any) -> Iterator[tuple[int, Any]]:
    return enumerate(data) if isinstance(data, list) else iter(())


def _cross_problems(file: str, data: dict[str, Any]) -> Iterator[Problem]:
    """Checks that span fields. Works on the raw mapping so they run even when other
    fields are invalid, and every problem in a file is reported at once."""
    facts = _get(data, "scenario", "facts")
    fact_ids: list[str] = []
    for i, fact in _items(facts):
        fid = _get(fact, "id")
        if isinstance(fid, str):
            if fid in fact_ids:
                yield Problem(
                    file, f"scenario.facts[{i}].id", f"duplicate fact id {fid!r}; rename one"
                )
            fact_ids.append(fid)
        for j, pattern in _items(_get(fact, "asked_by")):
            yield from check_regex(file, f"scenario.facts[{i}].asked_by[{j}]", pattern)
        if _get(fact, "reveal") == "on_ask" and not _get(fact, "asked_by"):
            yield Problem(
                file,
                f"scenario.facts[{i}].asked_by",
                "an on_ask fact needs asked_by patterns, or the candidate can never "
                "learn it; add e.g. ['photo|picture']",
            )

    for group in ("acceptable_resolutions", "unacceptable_resolutions"):
        for i, res in _items(_get(data, "scenario", group)):
            for j, pattern in _items(_get(res, "patterns")):
                yield from check_regex(file, f"scenario.{group}[{i}].patterns[{j}]", pattern)
            for j, fid in _items(_get(res, "requires_facts")):
                if isinstance(fid, str) and fact_ids and fid not in fact_ids:
                    yield Problem(
                        file,
                        f"scenario.{group}[{i}].requires_facts[{j}]",
                        f"{fid!r} names no fact; use one of: {', '.join(fact_ids)}",
                    )

    for j, pattern in _items(_get(data, "temperament", "trigger_phrases")):
        yield from check_regex(file, f"temperament.trigger_phrases[{j}]", pattern)

    rule_ids: set[str] = set()
    for i, rule in _items(_get(data, "policy_rules")):
        rid = _get(rule, "id")
        if isinstance(rid, str):
            if rid in rule_ids:
                yield Problem(file, f"policy_rules[{i}].id", f"duplicate rule id {rid!r}")
            rule_ids.add(rid)
        for key in ("patterns", "when", "unless"):
            for j, pattern in _items(_get(rule, "detect", key)):
                yield from check_regex(file, f"policy_rules[{i}].detect.{key}[{j}]", pattern)
        if _get(rule, "kind") == "must" and _get(rule, "detect", "unless"):
            yield Problem(
                file,
                f"policy_rules[{i}].detect.unless",
                "unless applies only to must_not rules; remove it or change kind",
            )

    lines = _get(data, "lines")
    if isinstance(lines, dict):
        for bank, entries in lines.items():
            for j, line in _items(entries):
                if not isinstance(line, str):
                    continue
                field = f"lines.{bank}[{j}]"
                try:
                    names = placeholders(line)
                except ValueError as exc:
                    yield Problem(
                        file,
                        field,
                        f"malformed placeholder ({exc}); write {{fact_id}}, and double a brace "
                        "({{ or }}) to show it literally",
                    )
                    continue
                for name in names:
                    if name == "fact" and bank in _FACT_BANKS:
                        continue
                    if name not in fact_ids:
                        known = ", ".join(fact_ids) or "none defined"
                        extra = (
                            " ({fact} works only in give_fact and repeat_fact)"
                            if name == "fact"
                            else ""
                        )
                        yield Problem(
                            file,
                            field,
                            f"placeholder {{{name}}} names no fact{extra}; use one of the fact "
                            f"ids ({known}) or add a fact with id {name!r}",
                        )


def check_persona_data(file: str, data: dict[str, Any]) -> tuple[Persona | None, list[Problem]]:
    """Validate one persona mapping; returns the persona when there are no problems."""
    problems: list[Problem] = []
    persona: Persona | None = None
    try:
        persona = Persona.model_validate(data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(file, exc, Persona))
    problems.extend(_cross_problems(file, data))
    return (persona if not problems else None), problems


def load_persona_file(path: Path) -> Persona:
    """Load and validate one persona file; raises ValidationFailed listing every problem."""
    data, problems = load_yaml_mapping(path, "persona")
    if data is None:
        raise ValidationFailed(problems)
    persona, problems = check_persona_data(display_path(path), data)
    if persona is None:
        raise ValidationFailed(problems)
    return persona


@dataclass
class CheckResult:
    personas: dict[str, tuple[Persona, Path]]
    problems: list[Problem]
    files: int


def check_paths(paths: Iterable[Path]) -> CheckResult:
    """Validate persona files and folders, including ids duplicated across files."""
    personas, problems, files = load_unique(paths, load_persona_file, lambda p: p.id, "persona")
    return CheckResult(personas, problems, files)


class PersonaLibrary:
    """A registry of personas by id. Duplicate ids are rejected, never shadowed."""

    def __init__(self, personas: Iterable[Persona] = ()) -> None:
        self._by_id: dict[str, Persona] = {}
        self._files: dict[str, Path] = {}
        for persona in personas:
            self.add(persona)

    def add(self, persona: Persona, file: Path | None = None) -> None:
        if persona.id in self._by_id:
            raise ValidationFailed(
                [Problem(persona.id, "id", "duplicate persona id; give one of them another id")]
            )
        self._by_id[persona.id] = persona
        if file is not None:
            self._files[persona.id] = file

    def file(self, persona_id: str) -> Path | None:
        """The YAML file a persona was loaded from (None when built in code)."""
        self.get(persona_id)
        return self._files.get(persona_id)

    def get(self, persona_id: str) -> Persona:
        try:
            return self._by_id[persona_id]
        except KeyError:
            close = difflib.get_close_matches(persona_id, self._by_id, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "run `roleplay personas list`"
            raise NotFound(f"unknown persona {persona_id!r}", hint=hint) from None

    def __iter__(self) -> Iterator[Persona]:
        return iter(sorted(self._by_id.values(), key=lambda p: p.id))

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, persona_id: object) -> bool:
        return persona_id in self._by_id

    @classmethod
    def load(cls, dirs: Iterable[Path]) -> PersonaLibrary:
        """Load every persona in ``dirs``; raises ValidationFailed if any file is invalid."""
        result = check_paths([d for d in dirs if d.exists()])
        if result.problems:
            raise ValidationFailed(result.problems)
        library = cls()
        for persona, path in result.personas.values():
            library.add(persona, path)
        return library

    @classmethod
    def default(cls, settings: Settings | None = None) -> PersonaLibrary:
        """The built-in library plus any folders in ROLEPLAY_PERSONAS_DIR."""
        settings = settings or Settings.from_env()
        return cls.load([builtin_dir(), *settings.persona_dirs])
