"""The one place that knows about LLM providers.

Everything else asks this module for a LangChain chat model built from :class:`Settings`,
and turns provider exceptions into :class:`BackendError` with :func:`backend_error`. Any
OpenAI-compatible endpoint works (OpenAI, Azure's OpenAI-compatible endpoint, vLLM, Ollama,
llama.cpp server) through ``ROLEPLAY_LLM_BASE_URL``.
"""

from __future__ import annotations

from typing import Literal

import httpx
import openai
from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import SecretStr

from roleplay.config import Settings
from roleplay.errors import BackendError, ConfigError

Role = Literal["persona", "grader"]


def model_name(settings: Settings, role: Role) -> str:
    name = settings.persona_model if role == "persona" else settings.grader_model
    if not name:
        var = "ROLEPLAY_PERSONA_MODEL" if role == "persona" else "ROLEPLAY_GRADER_MODEL"
        raise ConfigError(f"no model configured for the {role}", hint=f"set {var}")
    return name


def chat_model(
    settings: Settings, role: Role, *, temperature: float | None = None
) -> BaseChatModel:
    """A chat model for ``role``. Retries with backoff (timeouts, 429, 5xx) are the client
    library's, bounded by ``ROLEPLAY_LLM_MAX_RETRIES``."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=model_name(settings, role),
        base_url=settings.llm_base_url,
        # Local servers accept any key; the client library insists on one.
        api_key=SecretStr(settings.api_key or "not-needed"),
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        temperature=temperature if temperature is not None else (0.8 if role == "persona" else 0),
        stream_usage=True,
    )


#: Errors from the client stack that mean "the backend failed", including a dropped stream.
BACKEND_EXCEPTIONS: tuple[type[BaseException], ...] = (
    openai.APIError,
    httpx.HTTPError,
    TimeoutError,
    ConnectionError,
)


def backend_error(exc: BaseException, *, attempts: int = 1) -> BackendError:
    """A clear, user-facing error for a failed LLM call."""
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
        msg, hint = "the LLM backend timed out", "try again, or raise ROLEPLAY_LLM_TIMEOUT"
    elif isinstance(exc, openai.RateLimitError):
        msg, hint = "the LLM backend is rate limiting requests (429)", "wait a moment and retry"
    elif isinstance(exc, openai.AuthenticationError):
        msg, hint = "the LLM backend rejected the API key (401)", "check OPENAI_API_KEY"
    elif isinstance(exc, openai.NotFoundError):
        msg, hint = "the LLM backend does not know this model (404)", "check the model name"
    elif isinstance(exc, openai.APIStatusError):
        msg = f"the LLM backend failed with HTTP {exc.status_code}"
        hint = "try again; if it persists, check the server"
    elif isinstance(exc, openai.APIConnectionError | httpx.TransportError | ConnectionError):
        msg, hint = "the connection to the LLM backend failed or dropped", "check the server"
    else:
        msg, hint = f"the LLM backend failed: {type(exc).__name__}", "try again"
    return BackendError(f"{msg} (after {attempts} attempt(s))", attempts=attempts, hint=hint)
