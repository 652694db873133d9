"""The one place that knows about LLM providers and their client libraries.

Everything else talks to a :class:`ChatBackend` in the product's own terms: a list of
:class:`Message`, streamed text, or a pydantic model filled by structured output
(:class:`Structured`, which keeps the raw output and the token usage). Provider exceptions
become :class:`~roleplay.errors.BackendError` here. Any OpenAI-compatible endpoint works
(OpenAI, Azure's OpenAI-compatible endpoint, vLLM, Ollama, llama.cpp server) through
``ROLEPLAY_LLM_BASE_URL``; :func:`chat_backend` builds one from :class:`Settings`.

Token usage is the server's own count when it reports one (``usage`` in the reply, or the
last chunk of a stream), and a tiktoken estimate otherwise; :class:`Usage` says which.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import httpx
import openai
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, SecretStr, ValidationError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from roleplay.config import Settings, StructuredMethod
from roleplay.errors import BackendError, ConfigError
from roleplay.llm.tokens import count_messages, count_text

Role = Literal["persona", "grader", "reader"]
_MODEL_SETTING = {
    "persona": ("persona_model", "ROLEPLAY_PERSONA_MODEL"),
    "grader": ("grader_model", "ROLEPLAY_GRADER_MODEL"),
    "reader": ("reader_model", "ROLEPLAY_READER_MODEL"),
}
T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Message:
    """One chat message, in the product's terms."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Usage:
    """Tokens of one call: the server's count when it reported one, else tiktoken's."""

    prompt_tokens: int
    completion_tokens: int
    reported: bool


@dataclass(frozen=True)
class Structured(Generic[T]):
    """A structured-output call: the parsed model (None when the output did not validate),
    the raw output as the model wrote it, why it failed, and the tokens it used."""

    parsed: T | None
    raw: str
    error: str | None
    usage: Usage


def model_name(settings: Settings, role: Role) -> str:
    field, var = _MODEL_SETTING[role]
    name = getattr(settings, field)
    if not name:
        raise ConfigError(f"no model configured for the {role}", hint=f"set {var}")
    return str(name)


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


def _final(exc: BaseException) -> bool:
    """HTTP errors and timeouts were already retried by the client library."""
    return isinstance(exc, openai.APIStatusError | openai.APITimeoutError)


def _to_langchain(messages: Sequence[Message]) -> list[BaseMessage]:
    kinds: dict[str, Callable[[str], BaseMessage]] = {
        "system": SystemMessage,
        "user": HumanMessage,
        "assistant": AIMessage,
    }
    return [kinds[m.role](m.content) for m in messages]


def _estimate(messages: Sequence[Message]) -> int:
    return count_messages([(m.role, m.content) for m in messages])


def _reported(message: AIMessage | None) -> tuple[int, int] | None:
    meta = getattr(message, "usage_metadata", None) if message is not None else None
    if not meta or not (meta.get("input_tokens") or meta.get("output_tokens")):
        return None
    return int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0))


def _raw_text(raw: AIMessage) -> str:
    if raw.tool_calls:
        return json.dumps([tc["args"] for tc in raw.tool_calls])
    return raw.content if isinstance(raw.content, str) else str(raw.content)


class ChatBackend:
    """A chat model behind the product's narrow contract: :meth:`stream` and
    :meth:`structured`. Wraps any LangChain chat model (``ChatOpenAI`` in production,
    :class:`roleplay.testing.ScriptedChatModel` in tests)."""

    def __init__(
        self,
        chat: BaseChatModel,
        *,
        model: str,
        method: StructuredMethod = "json_schema",
        stream_retries: int = 1,
    ) -> None:
        self.chat = chat
        self.model = model
        self.method: StructuredMethod = method
        self.stream_retries = stream_retries
        self._structured: dict[type[BaseModel], Any] = {}

    def stream(self, messages: Sequence[Message]) -> Iterator[str | Usage]:
        """Stream the reply's text; the last item is its :class:`Usage`.

        Request-level retries (timeouts, 429, 5xx) are the client library's; a stream that
        drops before any text arrived is retried here, with backoff. Raises BackendError.
        """
        lc = _to_langchain(messages)
        got_text = False
        pieces: list[str] = []
        reported: tuple[int, int] | None = None

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, BACKEND_EXCEPTIONS) and not _final(exc) and not got_text

        retrying = Retrying(
            stop=stop_after_attempt(self.stream_retries + 1),
            wait=wait_exponential(multiplier=0.5, max=4),
            retry=retry_if_exception(retryable),
            reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    for chunk in self.chat.stream(lc):
                        usage = _reported(chunk)
                        if usage is not None:
                            reported = usage
                        text = chunk.content if isinstance(chunk.content, str) else ""
                        if text:
                            got_text = True
                            pieces.append(text)
                            yield text
        except BACKEND_EXCEPTIONS as exc:
            raise backend_error(exc, attempts=attempts) from exc
        if reported is not None:
            yield Usage(reported[0], reported[1], reported=True)
        else:
            yield Usage(_estimate(messages), count_text("".join(pieces)), reported=False)

    def structured(self, schema: type[T], messages: Sequence[Message]) -> Structured[T]:
        """Ask for output filling ``schema``. Invalid output is not an exception: it comes
        back with ``parsed=None``, the raw text and the reason. Raises BackendError when
        the backend itself fails."""
        chain = self._structured.get(schema)
        if chain is None:
            chain = self.chat.with_structured_output(schema, method=self.method, include_raw=True)
            self._structured[schema] = chain
        try:
            result = chain.invoke(_to_langchain(messages))
        except BACKEND_EXCEPTIONS as exc:
            raise backend_error(exc) from exc
        except (ValidationError, ValueError) as exc:
            # With json_schema the client parses the reply itself and raises on bad JSON
            # instead of returning a parsing_error; it is the same failure.
            usage = Usage(_estimate(messages), 0, reported=False)
            return Structured(None, "", f"output did not match the schema ({exc})"[:300], usage)
        out: dict[str, Any] = result if isinstance(result, dict) else {"parsed": result}
        raw = out.get("raw")
        raw_text = _raw_text(raw) if isinstance(raw, AIMessage) else ""
        counted = _reported(raw if isinstance(raw, AIMessage) else None)
        usage = (
            Usage(counted[0], counted[1], reported=True)
            if counted
            else Usage(_estimate(messages), count_text(raw_text), reported=False)
        )
        parsed = out.get("parsed")
        if isinstance(parsed, schema):
            return Structured(parsed, raw_text, None, usage)
        error = out.get("parsing_error")
        why = (
            f"output did not match the schema ({type(error).__name__})"
            if error
            else "no structured answer (a refusal or plain text)"
        )
        return Structured(None, raw_text, why, usage)


def chat_backend(
    settings: Settings, role: Role, *, temperature: float | None = None
) -> ChatBackend:
    """The configured chat model for ``role``. Retries with backoff (timeouts, 429, 5xx) are
    the client library's, bounded by ``ROLEPLAY_LLM_MAX_RETRIES``."""
    from langchain_openai import ChatOpenAI

    name = model_name(settings, role)
    chat = ChatOpenAI(
        model=name,
        base_url=settings.llm_base_url,
        # Local servers accept any key; the client library insists on one.
        api_key=SecretStr(settings.api_key or "not-needed"),
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        temperature=temperature if temperature is not None else (0.8 if role == "persona" else 0),
        stream_usage=True,
    )
    return ChatBackend(chat, model=name, method=settings.structured_output_method)
