"""The one LLM seam: the only code that knows about providers and their client libraries.

Import from here: :class:`ChatBackend` (stream, structured output), :class:`Message`,
:class:`Usage`, :class:`Structured` and :func:`chat_backend` to build one from settings.
"""

from roleplay.llm.backend import (
    BACKEND_EXCEPTIONS,
    ChatBackend,
    Message,
    Structured,
    Usage,
    backend_error,
    chat_backend,
    model_name,
)

__all__ = [
    "BACKEND_EXCEPTIONS",
    "ChatBackend",
    "Message",
    "Structured",
    "Usage",
    "backend_error",
    "chat_backend",
    "model_name",
]
