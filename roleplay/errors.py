"""One error hierarchy for the whole product.

Every error the user can cause or fix derives from :class:`RoleplayError` and carries
structured fields; the CLI and the UI turn it into a clear message and an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input: where it is and what to do about it."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.field}: {self.message}"


class RoleplayError(Exception):
    """Root of every error this project raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ValidationFailed(RoleplayError):
    """One or more data files (personas, rubrics, transcripts) are invalid."""

    exit_code = 1

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class InputError(RoleplayError):
    """A file or argument given by the user cannot be used (missing, malformed, unknown id)."""

    def __init__(self, file: str, field: str, message: str) -> None:
        self.problem = Problem(file, field, message)
        super().__init__(str(self.problem))


class InvalidValue(RoleplayError):
    """A value someone typed (a form field, a command option) cannot be used.

    ``field`` names the value in the product's own terms (``password``, ``role``, ``note``);
    each face says it in its own words (a CLI flag, a form label).
    """

    def __init__(self, field: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class NotFound(RoleplayError):
    """A persona, rubric or session id that does not exist."""


class ConfigError(RoleplayError):
    """A setting from the environment is missing or invalid."""


class BackendError(RoleplayError):
    """The LLM backend failed after the client libraries' own retries."""

    def __init__(self, message: str, *, attempts: int = 0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.attempts = attempts


class StructuredOutputError(BackendError):
    """The judge kept returning output that does not validate, after bounded re-asks."""

    def __init__(self, message: str, *, attempts: int, last_output: str | None) -> None:
        super().__init__(message, attempts=attempts)
        self.last_output = last_output
