"""The persona library: loading, validating and looking up personas by id."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from roleplay.config import Settings
from roleplay.core.persona import Persona, card_items, placeholders
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
#: Lines in these banks may use {offer}: how the customer says the resolution back.
_OFFER_BANKS = {"accept", "consider_offer", "clarify"}


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


def _unknown_ids(file: str, field: str, ids: Any, known: list[str], what: str) -> Iterator[Problem]:
    """A problem for each id in ``ids`` that is not one of ``known`` (when any are known)."""
    for j, item_id in _items(ids):
        if isinstance(item_id, str) and known and item_id not in known:
            yield Problem(
                file, f"{field}[{j}]", f"{item_id!r} {what}; use one of: {', '.join(known)}"
            )


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
        if (
            _get(fact, "reveal") == "on_ask"
            and not _get(fact, "asked_by")
            and not _get(fact, "examples")
        ):
            yield Problem(
                file,
                f"scenario.facts[{i}].examples",
                "an on_ask fact needs examples of how a candidate asks for it (or asked_by "
                "patterns), or the candidate can never learn it; add e.g. "
                "['Could you send me a photo of the damage?']",
            )

    resolution_ids: list[str] = []
    for group in ("acceptable_resolutions", "unacceptable_resolutions"):
        for i, res in _items(_get(data, "scenario", group)):
            if isinstance(_get(res, "id"), str):
                resolution_ids.append(_get(res, "id"))
            for j, pattern in _items(_get(res, "patterns")):
                yield from check_regex(file, f"scenario.{group}[{i}].patterns[{j}]", pattern)
            if isinstance(res, dict) and not _get(res, "patterns") and not _get(res, "examples"):
                yield Problem(
                    file,
                    f"scenario.{group}[{i}].examples",
                    "a resolution needs examples of a candidate offering it (or patterns); "
                    "add e.g. ['I can send you a replacement today']",
                )
            for j, fid in _items(_get(res, "requires_facts")):
                if isinstance(fid, str) and fact_ids and fid not in fact_ids:
                    yield Problem(
                        file,
                        f"scenario.{group}[{i}].requires_facts[{j}]",
                        f"{fid!r} names no fact; use one of: {', '.join(fact_ids)}",
                    )

    for j, pattern in _items(_get(data, "temperament", "trigger_phrases")):
        yield from check_regex(file, f"temperament.trigger_phrases[{j}]", pattern)

    acceptable_ids = [
        str(_get(r, "id")) for _, r in _items(_get(data, "scenario", "acceptable_resolutions"))
    ]
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
        if (
            isinstance(rule, dict)
            and not _get(rule, "detect")
            and not _get(rule, "examples")
            and not _get(rule, "offers")
            and not _get(rule, "asks")
        ):
            yield Problem(
                file,
                f"policy_rules[{i}].examples",
                "a policy rule needs examples (messages that break it, or that do the "
                "required step), detect patterns, or (a must rule) the resolutions it offers "
                "or the facts it asks for",
            )
        for key, what in (("offers", "an entitlement to offer"), ("asks", "a fact to ask")):
            if _get(rule, key) and _get(rule, "kind") != "must":
                yield Problem(
                    file,
                    f"policy_rules[{i}].{key}",
                    f"{key} applies only to must rules ({what}); remove it or change kind to must",
                )
        for key, ids, what in (
            ("asks", fact_ids, "names no fact"),
            ("offers", acceptable_ids, "names no acceptable resolution"),
            ("before", resolution_ids, "names no resolution"),
        ):
            yield from _unknown_ids(file, f"policy_rules[{i}].{key}", _get(rule, key), ids, what)
        card = _get(data, "briefing", "policy_card")
        items = card_items(card) if isinstance(card, str) else None
        for j, number in _items(_get(rule, "covers")):
            if items is not None and isinstance(number, int) and number not in items:
                yield Problem(
                    file,
                    f"policy_rules[{i}].covers[{j}]",
                    f"the policy card has no item {number}; its items are "
                    f"{', '.join(map(str, items)) or 'not numbered'}",
                )

    hidden = {
        _get(f, "id")
        for _, f in _items(facts)
        if _get(f, "reveal") == "on_ask" and isinstance(_get(f, "id"), str)
    }
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
                    if name == "offer" and bank in _OFFER_BANKS:
                        continue
                    if name in hidden and bank not in _FACT_BANKS:
                        yield Problem(
                            file,
                            field,
                            f"{{{name}}} is an on_ask fact: saying it in a {bank} line would "
                            "give it away before it is asked for; use it only through {fact} "
                            "in give_fact and repeat_fact lines",
                        )
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


def _render_problems(file: str, persona: Persona) -> Iterator[Problem]:
    """Lines whose {fact_id} placeholder reads badly once filled with the fact's value: the
    value starting a sentence in lower case, or running into the next sentence."""
    values = {f.id: f.value for f in persona.scenario.facts}
    for bank, entries in persona.lines.model_dump().items():
        for j, line in enumerate(entries):
            for match in re.finditer(r"\{(\w+)\}", line):
                value = values.get(match.group(1))
                if value is None:
                    continue
                before = line[: match.start()].rstrip()
                after = line[match.end() :]
                starts = before == "" or before.endswith((".", "!", "?"))
                runs_on = (
                    after[:1] == " "
                    and after[1:2].isupper()
                    and not value.rstrip().endswith((".", "!", "?"))
                )
                if (starts and value[:1].islower()) or runs_on:
                    rendered = persona.render(line)
                    yield Problem(
                        file,
                        f"lines.{bank}[{j}]",
                        f"{{{match.group(1)}}} fills in {value!r}, which reads badly here: "
                        f"{rendered!r}; write the words into the line, or use {{fact}} in "
                        "give_fact lines to say the fact's statement",
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
    if persona is not None and not problems:
        problems.extend(_render_problems(file, persona))
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
