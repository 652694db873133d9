"""The ``roleplay`` command: a thin layer over the same services the web app uses."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from roleplay.config import Settings
from roleplay.core.actors import Delta, Event, Retract
from roleplay.core.conversation import Conversation, make_actor
from roleplay.core.library import PersonaLibrary, builtin_dir, check_paths
from roleplay.core.persona import Persona
from roleplay.core.transcript import Turn, read_transcript
from roleplay.errors import (
    BackendError,
    InputError,
    InvalidValue,
    RoleplayError,
    ValidationFailed,
)
from roleplay.storage.turnlog import TurnLog

#: How the CLI names the values the services check (InvalidValue.field).
_FLAGS = {
    "role": "--role",
    "mode": "--mode",
    "attempts": "--attempts",
    "time_limit": "--time-limit",
    "candidate": "--candidate",
    "persona": "--persona",
    "name": "NAME",
    "password": "password",
}


class _Group(click.Group):
    """Turns every RoleplayError into a clear message and its exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationFailed as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            sys.exit(exc.exit_code)
        except InvalidValue as exc:
            click.echo(f"error: {_FLAGS.get(exc.field, exc.field)}: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
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
    from roleplay.core.tau2 import import_tau2

    wanted = [i for chunk in ids for i in chunk.split(",") if i]
    result = import_tau2(tasks, policy, out_dir, wanted or None)
    for warning in result.warnings:
        click.echo(warning, err=True)
    click.echo(f"wrote {len(result.written)} persona file(s) to {out_dir}")


# --------------------------------------------------------------------------- conversations
def _render_turn(turn: Turn, *, annotate: bool) -> str:
    who = "Customer" if turn.speaker == "customer" else "You"
    line = f"{who}: {turn.text}"
    if annotate and turn.speaker == "customer" and turn.mood is not None:
        notes = [f"mood {turn.mood_before}->{turn.mood}", f"move {turn.move}"]
        if turn.released:
            notes.append("released " + ", ".join(turn.released))
        line += f"\n    [{'; '.join(notes)}]"
    if annotate and turn.speaker == "candidate" and turn.acts:
        line += (
            "\n    [acts: "
            + ", ".join(a.kind.value + (f"({a.detail})" if a.detail else "") for a in turn.acts)
            + "]"
        )
    return line


def _new_conversation(persona_id: str, seed: int) -> tuple[Conversation, TurnLog]:
    settings = _settings()
    persona = PersonaLibrary.default(settings).get(persona_id)
    convo = Conversation(persona, make_actor(persona, settings, seed=seed), seed=seed)
    log = TurnLog(settings.home, convo.transcript)
    convo.on_turn = log
    return convo, log


def _stream_events(events: Iterator[Event]) -> None:
    shown = ""
    for event in events:
        if isinstance(event, Delta):
            click.echo(event.text, nl=False)
            shown += event.text
        elif isinstance(event, Retract):
            click.echo("\r\033[K" if shown else "", nl=False)
            click.echo("(rephrasing) ", nl=False)
            shown = ""
    click.echo()


@main.command()
@click.option("--persona", "persona_id", required=True, help="Persona id (see personas list).")
@click.option("--seed", default=0, show_default=True, help="Seed for the scripted lines.")
@click.option("--annotate/--no-annotate", default=False, help="Show mood and detected acts.")
def chat(persona_id: str, seed: int, annotate: bool) -> None:
    """Talk to a persona in the terminal. /end ends the conversation, /retry retries."""
    convo, log = _new_conversation(persona_id, seed)
    p = convo.persona
    click.echo(f"{p.briefing.company} · {p.briefing.channel} · {p.name}\n")
    click.echo(p.briefing.candidate_brief + "\n")
    click.echo("Policy card:\n" + p.briefing.policy_card)
    click.echo("Type your replies. /end ends the conversation.\n")
    click.echo("Customer: ", nl=False)
    _stream_events(convo.open())
    while not convo.ended:
        try:
            text = input("You: ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            convo.end()
            break
        command = text.strip().lower()
        try:
            if command == "/end":
                convo.end()
                break
            if convo.awaiting_retry:
                # The customer's last reply failed: voice it first, then send what was typed.
                click.echo("Customer: ", nl=False)
                _stream_events(convo.retry())
            elif command == "/retry":
                click.echo("(nothing to retry)")
            if command in ("", "/retry") or convo.ended:
                continue
            click.echo("Customer: ", nl=False)
            _stream_events(convo.send(text))
        except BackendError as exc:
            unsent = (
                ""
                if convo.transcript.turns[-1].text == text.strip()
                else (" Your new message was not sent yet: send it again after /retry.")
            )
            click.echo(
                f"\nerror: {exc.message}. Your last message is saved; type /retry.{unsent}",
                err=True,
            )
        if annotate:
            click.echo(_render_turn(convo.transcript.turns[-1], annotate=True).split("\n", 1)[-1])
    log.finish(convo.transcript)
    click.echo(f"\nConversation ended: {convo.outcome}. Saved to {log.path}")


@main.command()
@click.option("--persona", "persona_id", required=True, help="Persona id.")
@click.option(
    "--script",
    "script",
    required=True,
    type=click.Path(path_type=Path),
    help="Text file with one candidate message per line.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the transcript JSON.")
@click.option("--seed", default=0, show_default=True)
def simulate(persona_id: str, script: Path, as_json: bool, seed: int) -> None:
    """Run a scripted candidate against a persona and print the transcript."""
    try:
        lines = [ln.strip() for ln in script.read_text(encoding="utf-8").splitlines()]
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(str(script), "(file)", "no such file; check the path") from None
    except UnicodeDecodeError:
        raise InputError(str(script), "(file)", "not UTF-8 text") from None
    messages = [ln for ln in lines if ln and not ln.startswith("#")]
    if not messages:
        raise InputError(str(script), "(file)", "no candidate messages; write one per line")
    convo, log = _new_conversation(persona_id, seed)
    convo.start()
    for message in messages:
        if convo.ended:
            break
        convo.say(message)
    log.finish(convo.transcript)
    if as_json:
        click.echo(convo.transcript.to_json())
        return
    for turn in convo.transcript.turns:
        click.echo(_render_turn(turn, annotate=True))
    click.echo(f"\nOutcome: {convo.outcome or 'unfinished (script ran out)'}")


# --------------------------------------------------------------------------- grading
@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report JSON (a list for many).")
@click.option("--rubric", "rubric_id", default="default", show_default=True)
@click.option(
    "--export",
    "export",
    type=click.Choice(["md", "html"]),
    default=None,
    help="Also write each report as Markdown or HTML next to --out.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for exported reports (default: beside each transcript).",
)
def grade(
    files: tuple[Path, ...],
    as_json: bool,
    rubric_id: str,
    export: str | None,
    out_dir: Path | None,
) -> None:
    """Grade transcript JSON files against a rubric."""
    from tqdm import tqdm

    from grading.grader import grade as grade_one
    from grading.grader import make_judge
    from grading.report import render_text, to_html, to_markdown
    from grading.rubric import get_rubric

    settings = _settings()
    rubric = get_rubric(rubric_id)
    library = PersonaLibrary.default(settings)
    judge = make_judge(settings)
    transcripts = [(path, read_transcript(path)) for path in files]
    for path, transcript in transcripts:
        if transcript.persona not in library:
            raise InputError(
                str(path),
                "persona",
                f"unknown persona {transcript.persona!r}; run `roleplay personas list`",
            )
    reports = []
    bar = tqdm(
        transcripts,
        desc="grading",
        unit="transcript",
        file=sys.stderr,
        disable=len(transcripts) < 2,
    )
    for path, transcript in bar:
        report = grade_one(
            transcript,
            library.get(transcript.persona),
            rubric,
            judge=judge,
            samples=settings.judge_samples,
            prices=settings.prices,
        )
        reports.append((path, report))
        if export:
            target = (out_dir or path.parent) / f"{path.stem}.report.{export}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(
                to_markdown(report) if export == "md" else to_html(report), encoding="utf-8"
            )
    if as_json:
        payload = [r.model_dump(mode="json") for _, r in reports]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    for path, report in reports:
        click.echo(render_text(report, str(path)) + "\n")


@main.command()
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    default=Path("../shared/data"),
    show_default=True,
    help="Folder with the politeness and EPITOME CSV files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option(
    "--sample",
    type=int,
    default=None,
    help="Use at most N rows per corpus and part (the LLM judge defaults to 200).",
)
def calibrate(data: Path, as_json: bool, sample: int | None) -> None:
    """Measure the grader's judgements against human-labelled data."""
    from grading.calibration import calibrate as run
    from grading.calibration import render_markdown

    report = run(data, _settings(), sample=sample)
    click.echo(json.dumps(report, indent=2) if as_json else render_markdown(report))


# --------------------------------------------------------------------------- accounts and invites
def _store() -> Any:
    from roleplay.storage.store import Store

    return Store.from_settings(_settings())


def _accounts() -> Any:
    from roleplay.services.accounts import AccountService

    return AccountService(_store())


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@main.group(cls=_Group)
def users() -> None:
    """Manage reviewer, trainer and admin accounts."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["reviewer", "trainer", "admin"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_add(name: str, role: str, password_stdin: bool) -> None:
    """Add an account; the password is prompted for (or read from stdin)."""
    user = _accounts().add_user(name, role, _read_password())
    click.echo(f"added {user.role} {user.name}")


@users.command("list")
def users_list() -> None:
    """Print every account and its role."""
    for user in _accounts().list_users():
        click.echo(f"{user.name}\t{user.role}")


@users.command("set-role")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["reviewer", "trainer", "admin"]))
def users_set_role(name: str, role: str) -> None:
    """Change an account's role."""
    user = _accounts().set_role(name, role)
    click.echo(f"{user.name} is now {user.role}")


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_set_password(name: str, password_stdin: bool) -> None:
    """Give an account a new password (its sign-ins end)."""
    _accounts().set_password(name, _read_password())
    click.echo(f"new password set for {name}; signed out everywhere")


@users.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def users_remove(name: str, yes: bool) -> None:
    """Remove an account."""
    if not yes:
        click.confirm(f"Remove the account {name!r}?", abort=True)
    _accounts().remove_user(name)
    click.echo(f"removed {name}")


@main.command()
@click.option("--persona", "persona_id", required=True)
@click.option("--mode", required=True, type=click.Choice(["practice", "assessment"]))
@click.option("--candidate", default=None, help="The candidate's name, shown to reviewers.")
@click.option("--attempts", default=1, show_default=True, type=int)
@click.option("--time-limit", "time_limit", default=None, type=float, help="Minutes.")
@click.option(
    "--base-url",
    default=None,
    help="Public address of the server (default ROLEPLAY_PUBLIC_URL or http://127.0.0.1:7860).",
)
def invite(
    persona_id: str,
    mode: str,
    candidate: str | None,
    attempts: int,
    time_limit: float | None,
    base_url: str | None,
) -> None:
    """Create an invite link for a candidate."""
    from roleplay.services.catalog import Catalog
    from roleplay.services.invites import InviteService

    settings = _settings()
    if base_url:
        settings = settings.model_copy(update={"public_url": base_url})
    store = _store()
    service = InviteService(store, Catalog(store, PersonaLibrary.default(settings)), settings)
    made = service.create(
        persona_id,
        mode,
        candidate_name=candidate,
        attempts=attempts,
        time_limit_minutes=time_limit,
        created_by="cli",
    )
    click.echo(made.link)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7860, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Start the web app (candidate pages, reviewer dashboard, /healthz)."""
    from roleplay.faces.web.server import serve as run

    run(host, port, _settings())
