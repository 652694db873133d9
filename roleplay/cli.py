"""The ``roleplay`` command: a thin layer over the same services the web app uses."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from roleplay.config import Settings
from roleplay.errors import RoleplayError, ValidationFailed
from roleplay.library import PersonaLibrary, builtin_dir, check_paths
from roleplay.persona import Persona


class _Group(click.Group):
    """Turns every RoleplayError into a clear message and its exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationFailed as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            sys.exit(exc.exit_code)
        except RoleplayError as exc:
            click.echo(f"error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(package_name="roleplay-evaluator")
def main() -> None:
    """Roleplay Evaluator: rehearse and assess customer-service conversations."""


def _settings() -> Settings:
    return Settings.from_env()


def _library() -> PersonaLibrary:
    return PersonaLibrary.default(_settings())


# --------------------------------------------------------------------------- personas
@main.group(cls=_Group)
def personas() -> None:
    """List, validate, describe and import personas."""


@personas.command("list")
def personas_list() -> None:
    """Print id, name, language and difficulty of every persona in the library."""
    lib = _library()
    rows = [(p.id, p.name, p.language, str(p.difficulty), p.industry) for p in lib]
    widths = [
        max(len(r[i]) for r in [("ID", "NAME", "LANG", "DIFF", "INDUSTRY"), *rows])
        for i in range(5)
    ]
    for row in [("ID", "NAME", "LANG", "DIFF", "INDUSTRY"), *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@personas.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def personas_validate(paths: tuple[Path, ...]) -> None:
    """Validate persona files or folders (default: the library). Exit 1 on any problem."""
    targets = list(paths) or [builtin_dir(), *_settings().persona_dirs]
    result = check_paths(targets)
    if result.problems:
        raise ValidationFailed(result.problems)
    click.echo(f"ok: {len(result.personas)} persona(s) in {result.files} file(s) are valid")


@personas.command("schema")
def personas_schema() -> None:
    """Print the persona JSON Schema (for editor completion and validation)."""
    click.echo(json.dumps(Persona.model_json_schema(), indent=2))


@personas.command("show")
@click.argument("persona_id")
def personas_show(persona_id: str) -> None:
    """Print what the candidate sees for a persona: briefing and policy card."""
    p = _library().get(persona_id)
    click.echo(f"{p.name} ({p.id}), {p.industry}, difficulty {p.difficulty}, {p.language}")
    click.echo(f"Company: {p.briefing.company} ({p.briefing.channel})\n")
    click.echo(p.briefing.candidate_brief + "\n")
    click.echo("Policy card:\n" + p.briefing.policy_card)


@personas.command("import-tau2")
@click.argument("tasks", type=click.Path(path_type=Path))
@click.option("--policy", required=True, type=click.Path(path_type=Path), help="policy.md")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--ids", multiple=True, help="Only these task ids (repeat or comma-separate).")
def personas_import_tau2(tasks: Path, policy: Path, out_dir: Path, ids: tuple[str, ...]) -> None:
    """Turn tau2-bench scenarios into persona files."""
    from roleplay.tau2 import import_tau2

    wanted = [i for chunk in ids for i in chunk.split(",") if i]
    result = import_tau2(tasks, policy, out_dir, wanted or None)
    for warning in result.warnings:
        click.echo(warning, err=True)
    click.echo(f"wrote {len(result.written)} persona file(s) to {out_dir}")
