"""The trainer's studio as a service: edit, validate, version and test-drive personas and
rubrics. Validation gives exactly the messages of ``roleplay personas validate``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from grading.rubric import Rubric
from roleplay.config import Settings
from roleplay.core.actors import ScriptedActor
from roleplay.core.conversation import Conversation, make_actor
from roleplay.core.library import check_persona_data
from roleplay.core.persona import Persona
from roleplay.core.transcript import Turn
from roleplay.core.validation import parse_yaml_mapping, pydantic_problems
from roleplay.errors import InputError, InvalidValue, Problem, ValidationFailed
from roleplay.services.catalog import Catalog
from roleplay.storage.store import Store, VersionInfo
from roleplay.understanding import reader_for
from roleplay.understanding.check import example_warnings


@dataclass(frozen=True)
class Checked:
    """The result of validating editor text."""

    ok: bool
    problems: list[str]
    #: What the reader does not recognise among the persona's examples (saving still works).
    warnings: list[str] = field(default_factory=list)


class TestDrive:
    """A trainer's conversation with the persona being edited. Nothing is stored."""

    def __init__(self, conversation: Conversation) -> None:
        self._conversation = conversation

    @property
    def turns(self) -> list[Turn]:
        return list(self._conversation.transcript.turns)

    @property
    def ended(self) -> bool:
        return self._conversation.ended

    @property
    def outcome(self) -> str | None:
        outcome = self._conversation.outcome
        return outcome.value if outcome is not None else None

    def say(self, text: str) -> Turn:
        return self._conversation.say(text)


class StudioService:
    def __init__(self, store: Store, settings: Settings, catalog: Catalog) -> None:
        self.store = store
        self.settings = settings
        self.catalog = catalog

    # ------------------------------------------------------------------ personas
    def persona_yaml(self, persona_id: str, version: int | None = None) -> str:
        """A persona's YAML: a saved version (latest by default), else the built-in file."""
        return self.catalog.persona_yaml(persona_id, version)

    @staticmethod
    def _validate_persona(text: str, file: str) -> tuple[Persona | None, list[Problem]]:
        data, problems = parse_yaml_mapping(text, file, "persona")
        if data is None:
            return None, problems
        return check_persona_data(file, data)

    def check_persona(
        self, text: str, file: str = "persona.yaml", *, examples: bool = False
    ) -> tuple[Persona | None, Checked]:
        """Validate editor text; with ``examples``, also check that the reader recognises
        the persona's examples (half a second or so: on load and save, not per keystroke)."""
        persona, problems = self._validate_persona(text, file)
        warnings = example_warnings(persona, file) if persona is not None and examples else []
        return persona, Checked(persona is not None, [str(p) for p in problems], warnings)

    def save_persona(self, text: str, user: str) -> tuple[Persona, int]:
        """Validate and store a new version; raises ValidationFailed with the problems."""
        persona, problems = self._validate_persona(text, "persona.yaml")
        if persona is None:
            raise ValidationFailed(problems)
        version = self.store.save_version("persona", persona.id, text, persona.content_hash, user)
        return persona, version

    def duplicate(self, persona_id: str, new_id: str) -> str:
        """The YAML of ``persona_id`` under a new id, ready to edit and save."""
        if not re.fullmatch(r"[a-z0-9]+(?:[-_][a-z0-9]+)*", new_id or ""):
            raise InvalidValue("id", "use lower-case letters, digits and '-' for the new id")
        if new_id in self.catalog.persona_ids():
            raise InvalidValue("id", f"a persona {new_id!r} already exists")
        text = self.persona_yaml(persona_id)
        # the original's opening comment describes the original, not the copy
        body = re.sub(r"\A(?:[ \t]*#.*\n|[ \t]*\n)+", "", text)
        body = re.sub(r"(?m)^id:\s*\S+", f"id: {new_id}", body, count=1)
        return f"# {new_id}: a copy of {persona_id}, made in the trainer studio.\n" + body

    def persona_versions(self, persona_id: str) -> list[VersionInfo]:
        return self.store.versions("persona", persona_id)

    def test_drive(self, persona: Persona, engine: str = "scripted", seed: int = 0) -> TestDrive:
        """A conversation with the persona being edited. Nothing is stored."""
        if engine == "llm" and self.settings.persona_engine == "llm":
            actor = make_actor(persona, self.settings, seed=seed)
        else:
            actor = ScriptedActor(persona, seed)
        convo = Conversation(persona, actor, seed=seed, reader=reader_for(self.settings))
        convo.start()
        return TestDrive(convo)

    # ------------------------------------------------------------------ rubrics
    def rubric_yaml(self, rubric_id: str = "default") -> str:
        return self.catalog.rubric_yaml(rubric_id)

    def check_rubric(self, text: str, file: str = "rubric.yaml") -> tuple[Rubric | None, Checked]:
        data, problems = parse_yaml_mapping(text, file, "rubric")
        if data is None:
            return None, Checked(False, [str(p) for p in problems])
        try:
            rubric = Rubric.model_validate(data)
        except ValidationError as exc:
            return None, Checked(False, [str(p) for p in pydantic_problems(file, exc, Rubric)])
        return rubric, Checked(True, [])

    def save_rubric(self, text: str, user: str) -> tuple[Rubric, int]:
        rubric, checked = self.check_rubric(text)
        if rubric is None:
            raise InputError("rubric.yaml", "(editor)", "; ".join(checked.problems))
        version = self.store.save_version("rubric", rubric.id, text, rubric.content_hash, user)
        return rubric, version
