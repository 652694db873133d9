"""Personas as a service for the CLI: list (built-in and studio-saved), show, validate, the
JSON Schema, and the tau2-bench importer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roleplay.config import Settings
from roleplay.core.library import CheckResult, builtin_dir, check_paths
from roleplay.core.persona import Persona
from roleplay.core.tau2 import ImportResult, import_tau2
from roleplay.services.catalog import Catalog


class PersonaService:
    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog

    def all(self) -> list[Persona]:
        """Every persona a new invite can use: built-in files, ROLEPLAY_PERSONAS_DIR folders
        and versions saved in the studio (the latest of each)."""
        return self.catalog.personas()

    def get(self, persona_id: str) -> Persona:
        return self.catalog.persona(persona_id)

    @staticmethod
    def library_paths(settings: Settings) -> list[Path]:
        """The built-in persona folder and the ROLEPLAY_PERSONAS_DIR folders."""
        return [builtin_dir(), *settings.persona_dirs]

    @staticmethod
    def validate(paths: list[Path]) -> CheckResult:
        return check_paths(paths)

    @staticmethod
    def example_warnings(result: CheckResult) -> list[str]:
        """For each valid persona, what the reader does not recognise among its examples."""
        from roleplay.core.validation import display_path
        from roleplay.understanding.check import example_warnings

        return [
            line
            for persona, path in result.personas.values()
            for line in example_warnings(persona, display_path(path))
        ]

    @staticmethod
    def schema() -> dict[str, Any]:
        return Persona.model_json_schema()

    @staticmethod
    def import_tau2(
        tasks: Path, policy: Path, out_dir: Path, ids: list[str] | None = None
    ) -> ImportResult:
        return import_tau2(tasks, policy, out_dir, ids)
