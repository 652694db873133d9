"""The ``roleplay`` command: a thin face over the same services, and the same database, as the
web app. A conversation held with ``roleplay chat`` or ``simulate`` is stored like a web
session and shows on the reviewer dashboard (source ``cli-chat`` / ``cli-simulate``)."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from roleplay.config import Settings
from roleplay.core.actors import Delta, Done, Event, Retract
from roleplay.core.transcript import Turn
from roleplay.errors import (
    BackendError,
    InputError,
    InvalidValue,
    RoleplayError,
    ValidationFailed,
)
from roleplay.services.container import Services
from roleplay.services.personas import PersonaService

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
    "message": "message",
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


def _services() -> Services:
    return Services(_settings())


# --------------------------------------------------------------------------- personas
@main.group(cls=_Group)
def personas() -> None:
    """List, validate, describe and import personas."""


@personas.command("list")
def personas_list() -> None:
    """Print id, name, language and difficulty of every persona: built-in, in
    ROLEPLAY_PERSONAS_DIR, and saved in the studio."""
    services = _services()
    rows = [
        (p.id, p.name, p.language, str(p.difficulty), p.industry) for p in services.personas.all()
    ]
    services.close()
    head = ("ID", "NAME", "LANG", "DIFF", "INDUSTRY")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    for row in [head, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@personas.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--examples/--no-examples",
    default=True,
    show_default=True,
    help="Also check that the reader recognises each persona's examples (warnings only).",
)
def personas_validate(paths: tuple[Path, ...], examples: bool) -> None:
    """Validate persona files or folders (default: the library). Exit 1 on any problem.

    Then, for valid personas, warn (on stderr, exit 0) where the reader does not recognise
    the examples of a hidden fact, a resolution or a rule when each is left out in turn, or
    takes a near miss for the item."""
    targets = list(paths) or PersonaService.library_paths(_settings())
    result = PersonaService.validate(targets)
    if result.problems:
        raise ValidationFailed(result.problems)
    click.echo(f"ok: {len(result.personas)} persona(s) in {result.files} file(s) are valid")
    if examples:
        warnings = PersonaService.example_warnings(result)
        for line in warnings:
            click.echo(line, err=True)
        click.echo(f"{len(warnings)} example warning(s)", err=True)


@personas.command("schema")
def personas_schema() -> None:
    """Print the persona JSON Schema (for editor completion and validation)."""
    click.echo(json.dumps(PersonaService.schema(), indent=2))


@personas.command("show")
@click.argument("persona_id")
def personas_show(persona_id: str) -> None:
    """Print what the candidate sees for a persona: briefing, policy card and the customer's
    opening lines as rendered."""
    services = _services()
    p = services.personas.get(persona_id)
    services.close()
    click.echo(f"{p.name} ({p.id}), {p.industry}, difficulty {p.difficulty}, {p.language}")
    click.echo(f"Company: {p.briefing.company} ({p.briefing.channel})\n")
    click.echo(p.briefing.candidate_brief + "\n")
    click.echo("Policy card:\n" + p.briefing.policy_card)
    click.echo("The customer opens with one of:")
    for line in p.lines.opening:
        click.echo(f"  {p.render(line)}")


@personas.command("import-tau2")
@click.argument("tasks", type=click.Path(path_type=Path))
@click.option("--policy", required=True, type=click.Path(path_type=Path), help="policy.md")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--ids", multiple=True, help="Only these task ids (repeat or comma-separate).")
def personas_import_tau2(tasks: Path, policy: Path, out_dir: Path, ids: tuple[str, ...]) -> None:
    """Turn tau2-bench scenarios into persona files."""
    wanted = [i for chunk in ids for i in chunk.split(",") if i]
    result = PersonaService.import_tau2(tasks, policy, out_dir, wanted or None)
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


def _stream_events(events: Iterator[Event]) -> int:
    """Print the customer's replies as they stream; returns how many were completed."""
    shown = ""
    replies = 0
    for event in events:
        if isinstance(event, Delta):
            if not shown:
                click.echo("Customer: ", nl=False)
            click.echo(event.text, nl=False)
            shown += event.text
        elif isinstance(event, Retract):
            click.echo("\r\033[K" if shown else "", nl=False)
            click.echo("(rephrasing) ", nl=False)
            shown = ""
        elif isinstance(event, Done):
            click.echo()
            shown = ""
            replies += 1
    return replies


class _Session:
    """A CLI conversation: an invite made for it, and its stored session."""

    def __init__(self, services: Services, persona_id: str, candidate: str | None) -> None:
        self.services = services
        name = candidate or getpass.getuser()
        made = services.invites.create(
            persona_id, "practice", candidate_name=name, created_by="cli"
        )
        self.token = made.token
        self.id: int | None = None

    def start(self, seed: int, source: str) -> Turn:
        info, opening = self.services.candidates.start(self.token, seed=seed, source=source)
        self.id = info.id
        return opening

    def started(self) -> int:
        if self.id is None:  # the opening failed: the session exists all the same
            view = self.services.candidates.view(self.token)
            assert view.session is not None
            self.id = view.session.id
        return self.id

    @property
    def ended(self) -> bool:
        view = self.services.candidates.view(self.token)
        return view.session is not None and view.session.status == "ended"


@main.command()
@click.option("--persona", "persona_id", required=True, help="Persona id (see personas list).")
@click.option("--seed", default=0, show_default=True, help="Seed for the scripted lines.")
@click.option("--candidate", default=None, help="Your name on the reviewer dashboard.")
@click.option("--annotate/--no-annotate", default=False, help="Show mood and detected acts.")
def chat(persona_id: str, seed: int, candidate: str | None, annotate: bool) -> None:
    """Talk to a persona in the terminal. /end ends the conversation, /retry retries."""
    services = _services()
    session = _Session(services, persona_id, candidate)
    candidates = services.candidates
    p = services.personas.get(persona_id)
    click.echo(f"{p.briefing.company} · {p.briefing.channel} · {p.name}\n")
    click.echo(p.briefing.candidate_brief + "\n")
    click.echo("Policy card:\n" + p.briefing.policy_card)
    click.echo("The customer opens with one of:")
    for line in p.lines.opening:
        click.echo(f"  {p.render(line)}")
    click.echo("Type your replies. /end ends the conversation.\n")
    try:
        click.echo(_render_turn(session.start(seed, "cli-chat"), annotate=False))
    except BackendError as exc:
        click.echo(f"error: {exc.message}. Type /retry.", err=True)
    sid = session.started()
    while not session.ended:
        try:
            text = input("You: ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            candidates.end(session.token, sid)
            break
        command = text.strip().lower()
        try:
            if command == "/end":
                candidates.end(session.token, sid)
                break
            if command == "/retry":
                if not _stream_events(candidates.retry(session.token, sid)):
                    click.echo("(nothing to retry)")
                continue
            if not command:
                continue
            # A reply that failed earlier is voiced first, then the new message is sent.
            _stream_events(candidates.send(session.token, sid, text))
        except BackendError as exc:
            turns = candidates.history(session.token, sid)
            sent = any(t.speaker == "candidate" and t.text == text.strip() for t in turns[-2:])
            unsent = "" if sent else " Your new message was not sent yet: send it after /retry."
            click.echo(
                f"\nerror: {exc.message}. Your last message is saved; type /retry.{unsent}",
                err=True,
            )
        if annotate:
            last = candidates.history(session.token, sid)[-2:]
            for turn in last:
                click.echo(_render_turn(turn, annotate=True).split("\n", 1)[-1])
    outcome = services.store.session(sid).outcome
    services.close()
    click.echo(f"\nConversation ended: {outcome}. Stored as session {sid}.")


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
@click.option("--candidate", default=None, help="The candidate's name on the dashboard.")
def simulate(
    persona_id: str, script: Path, as_json: bool, seed: int, candidate: str | None
) -> None:
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
    services = _services()
    session = _Session(services, persona_id, candidate or f"simulate {script.name}")
    session.start(seed, "cli-simulate")
    sid = session.started()
    for message in messages:
        if session.ended:
            break
        for _ in services.candidates.send(session.token, sid, message):
            pass
    transcript = services.candidates.transcript(session.token, sid)
    services.close()
    if as_json:
        click.echo(transcript.to_json())
        return
    for turn in transcript.turns:
        click.echo(_render_turn(turn, annotate=True))
    click.echo(f"\nOutcome: {transcript.outcome or 'unfinished (script ran out)'}")


# --------------------------------------------------------------------------- grading
@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--all",
    "stored",
    is_flag=True,
    help="Grade every finished stored session again (as queue jobs): with --rubric when "
    "given, else each with the rubric its invite names.",
)
@click.option(
    "--concurrency", type=int, default=4, show_default=True, help="Folder: grades at once."
)
@click.option("--resume", is_flag=True, help="Folder: skip files already in the results.")
@click.option(
    "--results",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Folder: the JSON-lines file to write (default FOLDER/grades.jsonl).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report JSON (a list for many).")
@click.option(
    "--rubric", "rubric_id", default=None, help="Rubric id (default: the default rubric)."
)
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
    rubric_id: str | None,
    export: str | None,
    out_dir: Path | None,
    concurrency: int,
    resume: bool,
    results: Path | None,
    stored: bool,
) -> None:
    """Grade transcript JSON files against a rubric (studio-saved rubrics and persona
    versions included). Given a folder, grade every transcript in it into JSON lines
    (--results, default FOLDER/grades.jsonl), --concurrency at once, --resume after an
    interruption. With --all, grade every stored session again (after a rubric change)."""
    from tqdm import tqdm

    from grading.report import render_text, to_html, to_markdown

    if stored == bool(files):
        raise InputError("grade", "arguments", "give transcript files or a folder, or --all")
    services = _services()
    grading = services.grading
    if stored:
        candidates = services.candidates
        count = candidates.regrade_all(rubric_id)
        which = f"rubric {rubric_id!r}" if rubric_id else "each invite's rubric"
        if services.settings.grading_workers > 0:
            candidates.wait_for_grading(timeout=max(60.0, 10.0 * count))
            click.echo(f"{count} session(s) graded again with {which}")
        else:
            click.echo(f"{count} session(s) enqueued for `roleplay worker` ({which})")
        services.close()
        return
    rubric_id = rubric_id or "default"
    if len(files) == 1 and files[0].is_dir():
        folder = files[0]
        target = results or folder / "grades.jsonl"
        bulk = grading.grade_folder(
            folder, target, rubric_id, concurrency=concurrency, resume=resume
        )
        services.close()
        verdicts = ", ".join(f"{v} {n}" for v, n in sorted(bulk.verdicts.items())) or "none"
        click.echo(
            f"{bulk.graded} graded ({verdicts}), {bulk.skipped} already done, "
            f"{bulk.errors} could not be graded; results in {target}"
        )
        return
    services.catalog.rubric(rubric_id)  # a clear error for an unknown rubric, before any work
    transcripts = [(path, grading.read(path)) for path in files]
    reports = []
    bar = tqdm(
        transcripts,
        desc="grading",
        unit="transcript",
        file=sys.stderr,
        disable=len(transcripts) < 2,
    )
    for path, transcript in bar:
        report = grading.grade_transcript(transcript, rubric_id, source=str(path))
        reports.append((path, report))
        if export:
            target = (out_dir or path.parent) / f"{path.stem}.report.{export}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(
                to_markdown(report) if export == "md" else to_html(report), encoding="utf-8"
            )
    services.close()
    if as_json:
        payload = [r.model_dump(mode="json") for _, r in reports]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    for path, report in reports:
        click.echo(render_text(report, str(path)) + "\n")


@main.command()
@click.option("--workers", type=int, default=2, show_default=True, help="Worker threads.")
def worker(workers: int) -> None:
    """Run grading workers on their own (scale-out; pair with ROLEPLAY_GRADING_WORKERS=0 on
    the servers). Grades left pending are enqueued again on start. Stop with Ctrl-C."""
    services = _services()
    candidates = services.candidates
    resumed = candidates.resume_grading()
    click.echo(f"grading worker: {workers} thread(s); {resumed} pending grade(s) enqueued")
    candidates.queue.run_forever(workers)


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
@click.option(
    "--transcripts",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Instead: grade a folder of labelled transcripts (with labels.json) and compare "
    "verdicts and scores with the labels.",
)
def calibrate(data: Path, as_json: bool, sample: int | None, transcripts: Path | None) -> None:
    """Measure the grader's judgements against human-labelled data."""
    from grading.calibration import render_markdown, render_transcripts

    services = _services()
    if transcripts is not None:
        figures = services.grading.calibrate_transcripts(transcripts)
        click.echo(json.dumps(figures, indent=2) if as_json else render_transcripts(figures))
        return
    report = services.grading.calibrate(data, sample)
    click.echo(json.dumps(report, indent=2) if as_json else render_markdown(report))


# --------------------------------------------------------------------------- accounts and invites
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
    user = _services().accounts.add_user(name, role, _read_password())
    click.echo(f"added {user.role} {user.name}")


@users.command("list")
def users_list() -> None:
    """Print every account and its role."""
    for user in _services().accounts.list_users():
        click.echo(f"{user.name}\t{user.role}")


@users.command("set-role")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["reviewer", "trainer", "admin"]))
def users_set_role(name: str, role: str) -> None:
    """Change an account's role."""
    user = _services().accounts.set_role(name, role)
    click.echo(f"{user.name} is now {user.role}")


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_set_password(name: str, password_stdin: bool) -> None:
    """Give an account a new password (its sign-ins end)."""
    _services().accounts.set_password(name, _read_password())
    click.echo(f"new password set for {name}; signed out everywhere")


@users.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def users_remove(name: str, yes: bool) -> None:
    """Remove an account."""
    if not yes:
        click.confirm(f"Remove the account {name!r}?", abort=True)
    _services().accounts.remove_user(name)
    click.echo(f"removed {name}")


@main.command()
@click.option("--persona", "persona_id", required=True)
@click.option("--mode", required=True, type=click.Choice(["practice", "assessment"]))
@click.option("--candidate", default=None, help="The candidate's name, shown to reviewers.")
@click.option("--attempts", default=1, show_default=True, type=int)
@click.option("--time-limit", "time_limit", default=None, type=float, help="Minutes.")
@click.option(
    "--rubric",
    "rubric_id",
    default="default",
    show_default=True,
    help="The rubric its sessions are graded with (chat-email adds written communication).",
)
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
    rubric_id: str,
    base_url: str | None,
) -> None:
    """Create an invite link for a candidate (studio-saved personas included)."""
    settings = _settings()
    if base_url:
        settings = settings.model_copy(update={"public_url": base_url})
    made = Services(settings).invites.create(
        persona_id,
        mode,
        candidate_name=candidate,
        attempts=attempts,
        time_limit_minutes=time_limit,
        created_by="cli",
        rubric_id=rubric_id,
    )
    click.echo(made.link)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7860, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Start the web app (candidate pages, reviewer dashboard, /healthz)."""
    from roleplay.faces.web.server import serve as run

    run(host, port, _settings())
