"""Turning bad data files into clear problems: ``FILE:FIELD: what is wrong; how to fix it``.

Shared by personas, rubrics and transcripts so every file type reports problems the same way.
Nothing here lets an exception escape for a malformed file: whatever the file holds, the
caller gets a list of :class:`~roleplay.errors.Problem`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import regex
import yaml
from pydantic import BaseModel, ValidationError

from roleplay.core import patterns
from roleplay.errors import Problem, ValidationFailed

T = TypeVar("T")


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def field_path(loc: Iterable[Any]) -> str:
    """``("lines", "complain", 2)`` → ``lines.complain[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def _describe_input(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (yes/no)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def pydantic_problems(file: str, exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Translate pydantic's errors into problems a trainer can act on."""
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        field = field_path(loc)
        kind = err["type"]
        got = _describe_input(err.get("input"))
        ctx = err.get("ctx") or {}
        if kind == "missing":
            msg = "required field is missing; add it"
        elif kind == "extra_forbidden":
            allowed = _allowed_fields(model, loc[:-1])
            hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
            msg = f"unknown field; check the spelling or remove it{hint}"
        elif kind in ("string_type",):
            msg = f"expected text, got {got}; put the value in quotes"
        elif kind in ("int_type", "int_parsing", "int_from_float"):
            msg = f"expected a whole number, got {got}"
        elif kind in ("float_type", "float_parsing"):
            msg = f"expected a number, got {got}"
        elif kind == "list_type":
            msg = f"expected a list (lines starting with '- '), got {got}"
        elif kind in ("model_type", "dict_type", "model_attributes_type"):
            msg = f"expected a mapping of fields (key: value lines), got {got}"
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            bound = {
                "greater_than_equal": f"at least {ctx.get('ge')}",
                "less_than_equal": f"at most {ctx.get('le')}",
                "greater_than": f"greater than {ctx.get('gt')}",
                "less_than": f"less than {ctx.get('lt')}",
            }[kind]
            msg = f"must be {bound}, got {got}"
        elif kind in ("literal_error", "enum"):
            expected = ctx.get("expected", "")
            msg = f"must be one of {expected}, got {got}"
        elif kind == "string_pattern_mismatch":
            msg = f"{got} has the wrong form; {_pattern_hint(loc)}"
        elif kind == "string_too_short":
            msg = "must not be empty; write some text"
        elif kind == "too_short":
            msg = f"needs at least {ctx.get('min_length', 1)} item(s); add one"
        elif kind == "bool_type" or kind == "bool_parsing":
            msg = f"expected true or false, got {got}"
        else:
            msg = f"{err['msg']} (got {got})"
        problems.append(Problem(file, field, msg))
    return problems


def _pattern_hint(loc: tuple[Any, ...]) -> str:
    last = next((p for p in reversed(loc) if isinstance(p, str)), "")
    if last == "language":
        return "use a language code such as en, nb or en-GB"
    if last == "id" and "facts" in loc:
        return "use lower-case letters, digits and underscores, starting with a letter"
    return "use lower-case letters, digits and '-' (for example damaged-laptop)"


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_of(field.annotation)
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def load_yaml_mapping(path: Path, what: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Read a YAML file that must hold a mapping; never raises for bad content."""
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(file, "(file)", "no such file; check the path")]
    except UnicodeDecodeError as exc:
        return None, [
            Problem(file, "(file)", f"not UTF-8 text (byte {exc.start}); save it as UTF-8")
        ]
    except OSError as exc:
        return None, [Problem(file, "(file)", f"cannot be read: {exc.strerror}")]
    return parse_yaml_mapping(text, file, what)


#: Persona and rubric files larger than this are refused before parsing.
MAX_YAML_BYTES = 512 * 1024
#: Mappings and lists nested deeper than this are refused before parsing (a persona needs 5).
MAX_YAML_DEPTH = 32


def _shape_problem(text: str) -> tuple[int, str] | None:
    """(line, problem) when the YAML is nested deeper than :data:`MAX_YAML_DEPTH` or uses
    aliases, read from the event stream (which, unlike building the data, does not
    recurse). Aliases are refused because a few of them can expand into billions of
    values once the data is walked."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.AliasEvent):
            return line, (
                "anchors and aliases (&name, *name) are not supported; write the value out"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                return line, (
                    f"lists or mappings are nested more than {MAX_YAML_DEPTH} levels deep; "
                    "remove the extra brackets"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def parse_yaml_mapping(
    text: str, file: str, what: str
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Parse YAML text (a file's, or an editor's) that must hold a mapping; never raises."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_YAML_BYTES:
        return None, [
            Problem(
                file,
                "(file)",
                f"the file is {size // 1024} KB; a {what} may be at most "
                f"{MAX_YAML_BYTES // 1024} KB, so split it or remove what it does not need",
            )
        ]
    try:
        shape = _shape_problem(text)
        if shape is not None:
            return None, [Problem(file, f"line {shape[0]}", shape[1])]
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark else "(file)"
        what_wrong = exc.problem or exc.context or "invalid YAML"
        opened = exc.context_mark
        if opened is not None and mark is not None and opened.line != mark.line:
            # an unclosed bracket or quote: the mistake is where it opened, not where the
            # parser noticed
            where = f"line {opened.line + 1}"
            what_wrong += (
                f" (noticed on line {mark.line + 1}; {exc.context} on line {opened.line + 1})"
            )
        return None, [
            Problem(
                file,
                where,
                f"YAML syntax error: {what_wrong}; check the indentation, colons and quoting "
                "around this line",
            )
        ]
    except yaml.YAMLError as exc:
        return None, [Problem(file, "(file)", f"YAML error: {exc}")]
    except RecursionError:  # belt and braces: the shape check should have caught it
        return None, [Problem(file, "(file)", "the YAML is nested too deeply to read")]
    if data is None:
        return None, [Problem(file, "(root)", f"the file is empty; write a {what} in it")]
    if not isinstance(data, dict):
        return None, [
            Problem(
                file,
                "(root)",
                f"expected a mapping of {what} fields (key: value lines), "
                f"got {_describe_input(data)}",
            )
        ]
    return data, []


def check_regex(file: str, field: str, pattern: Any) -> Iterator[Problem]:
    """A problem if ``pattern`` is not a valid regular expression, or is so slow on simple
    text that it could stall the server (catastrophic backtracking)."""
    if not isinstance(pattern, str):
        return
    try:
        patterns.compile_pattern(pattern)
    except regex.error as exc:
        yield Problem(
            file,
            field,
            f"invalid regular expression {pattern!r}: {getattr(exc, 'msg', exc)} at position "
            f"{getattr(exc, 'pos', '?')}; "
            r"escape special characters such as ( [ + ? with a backslash",
        )
        return
    if patterns.slow_pattern(pattern):
        yield Problem(
            file,
            field,
            f"regular expression {pattern!r} backtracks catastrophically (it stalls on "
            "repeated characters); remove nested repetition such as (a|aa)+ or (x+)+",
        )


def yaml_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand folders into their ``*.yaml``/``*.yml`` files (sorted); keep files as given."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            yield path


def load_unique(
    paths: Iterable[Path], load: Callable[[Path], T], key: Callable[[T], str], what: str
) -> tuple[dict[str, tuple[T, Path]], list[Problem], int]:
    """Load every YAML file under ``paths`` with ``load``; ids must be unique across files.

    Returns the loaded items by id (with their file), every problem found, and the number of
    files read. ``load`` raises ValidationFailed for an invalid file.
    """
    items: dict[str, tuple[T, Path]] = {}
    problems: list[Problem] = []
    files = 0
    for path in yaml_files(paths):
        files += 1
        if not path.exists():
            problems.append(Problem(display_path(path), "(file)", "no such file or folder"))
            continue
        try:
            item = load(path)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            continue
        item_id = key(item)
        if item_id in items:
            first = display_path(items[item_id][1])
            problems.append(
                Problem(
                    display_path(path),
                    "id",
                    f"duplicate {what} id {item_id!r}, already used by {first}; "
                    "give one of them another id",
                )
            )
            continue
        items[item_id] = (item, path)
    return items, problems, files
