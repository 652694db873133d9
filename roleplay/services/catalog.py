"""Which persona or rubric to use: the built-in files, plus versions saved in the studio.

The one home of "the saved version, else the built-in file", for the objects and for their
YAML. New sessions use a persona's latest version; an existing session always resolves the
exact version it ran with (by content hash), so editing a persona never changes a past
session.
"""

from __future__ import annotations

import yaml

from grading.rubric import BUILTIN_DIR, Rubric, load_rubrics
from roleplay.core.library import PersonaLibrary
from roleplay.core.persona import Persona
from roleplay.errors import InvalidValue, NotFound, RoleplayError
from roleplay.storage.store import Store, VersionInfo, VersionKind


def persona_label(persona: Persona) -> str:
    """How people know a persona: "Company: customer name"."""
    return f"{persona.briefing.company}: {persona.name}"


class Catalog:
    def __init__(self, store: Store, library: PersonaLibrary) -> None:
        self.store = store
        self.library = library

    def _saved(self, kind: VersionKind, item_id: str) -> list[VersionInfo]:
        return self.store.versions(kind, item_id)

    # ------------------------------------------------------------------ personas
    def persona_ids(self) -> list[str]:
        saved = {v.item_id for v in self.store.versions("persona")}
        return sorted({p.id for p in self.library} | saved)

    def persona_choices(self, *, with_ids: bool = False) -> list[tuple[str, str]]:
        """(label, id) of every persona for people to pick from: "Company: customer name"
        (``with_ids``: and the id, for trainers who also work with the files)."""
        return [
            (persona_label(p) + (f" ({p.id})" if with_ids else ""), p.id) for p in self.personas()
        ]

    def persona_label(self, persona_id: str) -> str:
        """How people know a persona ("Company: customer name"); the id when it is unknown."""
        try:
            return persona_label(self.persona(persona_id))
        except RoleplayError:
            return persona_id

    def personas(self) -> list[Persona]:
        """The latest version of every persona, built-in and saved."""
        return [self.persona(pid) for pid in self.persona_ids()]

    def persona_yaml(self, persona_id: str, version: int | None = None) -> str:
        """A persona's YAML: a saved version (the latest by default), else its file."""
        saved = self._saved("persona", persona_id)
        if version is not None:
            match = [v for v in saved if v.version == version]
            if not match:
                raise InvalidValue("version", f"{persona_id} has no version {version}")
            return match[0].yaml
        if saved:
            return saved[-1].yaml
        file = self.library.file(persona_id)  # NotFound, with suggestions, when unknown
        if file is None:
            raise NotFound(f"persona {persona_id!r} has no YAML file")
        return file.read_text(encoding="utf-8")

    def persona(self, persona_id: str) -> Persona:
        """The latest version: saved in the studio, else the built-in file."""
        saved = self._saved("persona", persona_id)
        if saved:
            return Persona.model_validate(yaml.safe_load(saved[-1].yaml))
        return self.library.get(persona_id)

    def persona_version(self, persona_id: str, content_hash: str) -> Persona:
        """The version a session ran with; the latest if that version is not known."""
        found = self.store.version_by_hash("persona", content_hash)
        if found is not None:
            return Persona.model_validate(yaml.safe_load(found.yaml))
        if persona_id in self.library:
            return self.library.get(persona_id)
        return self.persona(persona_id)

    # ------------------------------------------------------------------ rubrics
    def rubric_ids(self) -> list[str]:
        saved = {v.item_id for v in self.store.versions("rubric")}
        return sorted(set(load_rubrics()) | saved)

    def rubric_yaml(self, rubric_id: str = "default") -> str:
        saved = self._saved("rubric", rubric_id)
        if saved:
            return saved[-1].yaml
        path = BUILTIN_DIR / f"{rubric_id}.yaml"
        if rubric_id in load_rubrics() and path.exists():
            return path.read_text(encoding="utf-8")
        raise NotFound(
            f"unknown rubric {rubric_id!r}", hint=f"known: {', '.join(self.rubric_ids())}"
        )

    def rubric_choices(self) -> list[tuple[str, str]]:
        """(name, id) of every rubric, for people to pick from, the default first."""
        ids = sorted(self.rubric_ids(), key=lambda r: (r != "default", r))
        return [(self.rubric(r).name, r) for r in ids]

    def rubric(self, rubric_id: str = "default") -> Rubric:
        saved = self._saved("rubric", rubric_id)
        if saved:
            return Rubric.model_validate(yaml.safe_load(saved[-1].yaml))
        rubrics = load_rubrics()
        if rubric_id not in rubrics:
            raise NotFound(
                f"unknown rubric {rubric_id!r}", hint=f"known: {', '.join(self.rubric_ids())}"
            )
        return rubrics[rubric_id]
