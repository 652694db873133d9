"""Which persona or rubric to use: the built-in files, plus versions saved in the studio.

New sessions use a persona's latest version; an existing session always resolves the exact
version it ran with (by content hash), so editing a persona never changes a past session.
"""

from __future__ import annotations

import yaml

from grading.rubric import Rubric, get_rubric
from roleplay.core.library import PersonaLibrary
from roleplay.core.persona import Persona
from roleplay.errors import NotFound
from roleplay.storage.store import Store


class Catalog:
    def __init__(self, store: Store, library: PersonaLibrary) -> None:
        self.store = store
        self.library = library

    def persona_ids(self) -> list[str]:
        saved = {v.item_id for v in self.store.versions("persona")}
        return sorted({p.id for p in self.library} | saved)

    def persona(self, persona_id: str) -> Persona:
        """The latest version: saved in the studio, else the built-in file."""
        saved = self.store.versions("persona", persona_id)
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

    def rubric(self, rubric_id: str = "default") -> Rubric:
        saved = self.store.versions("rubric", rubric_id)
        if saved:
            return Rubric.model_validate(yaml.safe_load(saved[-1].yaml))
        try:
            return get_rubric(rubric_id)
        except NotFound:
            raise NotFound(f"unknown rubric {rubric_id!r}") from None
