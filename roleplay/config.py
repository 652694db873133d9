"""Settings: defaults in code, overridden by ``ROLEPLAY_*`` environment variables.

Secrets come only from the environment. ``.env.example`` documents every variable read here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from roleplay.errors import ConfigError

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]

#: USD per million tokens (input, output). Override or extend with ROLEPLAY_PRICES.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
}


class Settings(BaseModel):
    """Every setting the product reads. Build with :meth:`from_env`."""

    home: Path = Field(description="Data folder (database, logs). ROLEPLAY_HOME.")
    persona_dirs: list[Path] = Field(
        default_factory=list,
        description="Extra persona folders searched after the built-in library. "
        "ROLEPLAY_PERSONAS_DIR, separated by the OS path separator.",
    )
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint. ROLEPLAY_LLM_BASE_URL."
    )
    api_key: str | None = Field(
        None, description="API key. ROLEPLAY_LLM_API_KEY, else OPENAI_API_KEY.", repr=False
    )
    persona_model: str | None = Field(
        None, description="Model that voices the customer; unset = scripted engine."
    )
    grader_model: str | None = Field(
        None, description="Model for the LLM judge; unset = evidence grader only."
    )
    reader_model: str | None = Field(
        None,
        description="Model that reads turns for the director and the grader (the LLM reader); "
        "unset = the offline local reader. ROLEPLAY_READER_MODEL.",
    )
    structured_output_method: StructuredMethod = Field(
        "json_schema", description="How the judge asks for structured output."
    )
    llm_timeout: float = Field(60.0, gt=0, description="Seconds per LLM request.")
    llm_max_retries: int = Field(2, ge=0, description="Client-library retries with backoff.")
    history_token_budget: int = Field(
        3000, ge=200, description="Max tokens of conversation history sent to the persona model."
    )
    judge_samples: int = Field(1, ge=1, le=10, description="Judge samples per grade (k).")
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="USD per million tokens (input, output) by model name.",
    )
    queue_url: str | None = Field(
        None,
        description="Grading job queue: unset = a SQLite queue file in ROLEPLAY_HOME (one "
        "machine); redis://host:6379/0 for several replicas. ROLEPLAY_QUEUE_URL.",
    )
    grading_workers: int = Field(
        2,
        ge=0,
        description="Grading worker threads inside `roleplay serve`; 0 = none (run "
        "`roleplay worker` beside it). ROLEPLAY_GRADING_WORKERS.",
    )
    grading_retries: int = Field(
        3, ge=0, description="Retries of a grade after a backend error. ROLEPLAY_GRADING_RETRIES."
    )
    grading_lease: float = Field(
        30.0,
        gt=0,
        description="Seconds a worker's claim on a grade holds unless renewed (it renews it "
        "every third while it works); a killed worker's grade is taken over after it. "
        "ROLEPLAY_GRADING_LEASE.",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite in ROLEPLAY_HOME."
    )
    public_url: str | None = Field(
        None,
        description="The address candidates and reviewers use, e.g. https://roleplay.example.com. "
        "Invite links are built from it, never from a request's Host header. ROLEPLAY_PUBLIC_URL.",
    )
    secure_cookies: bool | None = Field(
        None,
        description="Mark cookies Secure (HTTPS only). Default: on when ROLEPLAY_PUBLIC_URL is "
        "https. ROLEPLAY_SECURE_COOKIES.",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where sign-in throttling counts failures (a `limits` storage URL, e.g. "
        "redis://127.0.0.1:6379 for several replicas). ROLEPLAY_RATE_LIMIT_STORAGE.",
    )

    @property
    def persona_engine(self) -> Literal["scripted", "llm"]:
        return "llm" if self.persona_model else "scripted"

    @property
    def tls(self) -> bool:
        """Whether the product is served over HTTPS (cookies Secure, HSTS on)."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return bool(self.public_url and self.public_url.lower().startswith("https://"))

    def base_url(self) -> str:
        """The public address, without a trailing slash: ``ROLEPLAY_PUBLIC_URL``, else the
        address of the server running on this ``ROLEPLAY_HOME`` (``roleplay serve`` records
        it), else the default port on loopback."""
        return (self.public_url or self.running_server() or "http://127.0.0.1:7860").rstrip("/")

    @property
    def server_record(self) -> Path:
        """Where ``roleplay serve`` records its address while it runs."""
        return self.home / "server.json"

    def running_server(self) -> str | None:
        """The address of the live server recorded in ``server_record``, if its process runs."""
        try:
            record = json.loads(self.server_record.read_text(encoding="utf-8"))
            url, pid = str(record["url"]), int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            os.kill(pid, 0)
        except PermissionError:
            return url  # alive, another user's
        except OSError:
            return None  # the server that wrote it has stopped
        return url

    @property
    def grader_engine(self) -> Literal["evidence", "evidence+llm"]:
        return "evidence+llm" if self.grader_model else "evidence"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default ``os.environ``); raise ConfigError when invalid."""
        e = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = e.get(name, "").strip()
            return value or None

        raw: dict[str, object] = {
            "home": Path(get("ROLEPLAY_HOME") or Path.home() / ".roleplay").expanduser(),
            "llm_base_url": get("ROLEPLAY_LLM_BASE_URL"),
            "api_key": get("ROLEPLAY_LLM_API_KEY") or get("OPENAI_API_KEY"),
            "persona_model": get("ROLEPLAY_PERSONA_MODEL"),
            "grader_model": get("ROLEPLAY_GRADER_MODEL"),
            "reader_model": get("ROLEPLAY_READER_MODEL"),
            "database_url": get("ROLEPLAY_DATABASE_URL"),
            "public_url": get("ROLEPLAY_PUBLIC_URL"),
            "queue_url": get("ROLEPLAY_QUEUE_URL"),
        }
        dirs = get("ROLEPLAY_PERSONAS_DIR")
        if dirs:
            raw["persona_dirs"] = [Path(p).expanduser() for p in dirs.split(os.pathsep) if p]
        for var, key in [
            ("ROLEPLAY_STRUCTURED_OUTPUT_METHOD", "structured_output_method"),
            ("ROLEPLAY_LLM_TIMEOUT", "llm_timeout"),
            ("ROLEPLAY_LLM_MAX_RETRIES", "llm_max_retries"),
            ("ROLEPLAY_HISTORY_TOKENS", "history_token_budget"),
            ("ROLEPLAY_JUDGE_SAMPLES", "judge_samples"),
            ("ROLEPLAY_SECURE_COOKIES", "secure_cookies"),
            ("ROLEPLAY_RATE_LIMIT_STORAGE", "rate_limit_storage"),
            ("ROLEPLAY_GRADING_WORKERS", "grading_workers"),
            ("ROLEPLAY_GRADING_RETRIES", "grading_retries"),
            ("ROLEPLAY_GRADING_LEASE", "grading_lease"),
        ]:
            value = get(var)
            if value is not None:
                raw[key] = value
        prices = get("ROLEPLAY_PRICES")
        if prices:
            try:
                extra = json.loads(prices)
                if not isinstance(extra, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                raise ConfigError(
                    f"ROLEPLAY_PRICES is not a JSON object: {exc}",
                    hint='example: {"my-model": [0.5, 1.5]} (USD per million input, output tokens)',
                ) from None
            raw["prices"] = {**DEFAULT_PRICES, **extra}
        try:
            settings = cls.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"setting {field!r} is invalid: {err['msg']}",
                hint="see .env.example for the accepted values",
            ) from None
        if (settings.persona_model or settings.grader_model or settings.reader_model) and not (
            settings.api_key or settings.llm_base_url
        ):
            raise ConfigError(
                "an LLM model is configured but neither OPENAI_API_KEY nor "
                "ROLEPLAY_LLM_BASE_URL is set",
                hint="set OPENAI_API_KEY for OpenAI, or ROLEPLAY_LLM_BASE_URL for a local server",
            )
        return settings
