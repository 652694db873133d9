"""The understanding layer: one reader of turns for the director and the grader alike.

A reader turns a candidate message into a :class:`CandidateReading` (the acts it does, each
with the words it rests on and a confidence, and what it does to each policy rule) and a
customer message into a :class:`CustomerReading` (its move). Two readers keep one contract:

* :class:`~roleplay.understanding.local.LocalReader`: the offline default, learned from
  human-written examples (``fit.py``);
* :class:`~roleplay.understanding.llm.LLMReader`: a configured chat model through the LLM
  seam, with the local reader as its fallback.

:func:`reader_for` picks one from the settings.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from roleplay.config import Settings
from roleplay.core.persona import Persona
from roleplay.understanding.readings import (
    DECISIVE_ACTS,
    DECISIVE_MOVES,
    ActReading,
    CandidateReading,
    CustomerMove,
    CustomerReading,
    RuleReading,
)


class Context:
    """What the reader knows of the conversation so far."""

    def __init__(
        self,
        stated: set[str] | None = None,
        *,
        first_turn: bool = False,
        steps_done: set[str] | None = None,
    ) -> None:
        self.stated = set(stated or ())  # facts the customer has said
        self.first_turn = first_turn
        self.steps_done = set(steps_done or ())  # must rules whose step was already done


class Reader(Protocol):
    name: str

    def read_candidate(
        self, text: str, persona: Persona, context: Context | None = None
    ) -> CandidateReading: ...

    def read_customer(self, text: str) -> CustomerReading: ...


if TYPE_CHECKING:
    from roleplay.understanding.local import LocalReader

_local: LocalReader | None = None
_lock = threading.Lock()


def local_reader() -> LocalReader:
    """The offline reader (its models are loaded once per process)."""
    global _local
    if _local is None:
        with _lock:
            if _local is None:
                from roleplay.understanding.local import LocalReader

                _local = LocalReader()
    return _local


def reader_for(settings: Settings | None = None) -> Reader:
    """The LLM reader when a reader model is configured, else the local reader."""
    if settings is not None and settings.reader_model:
        from roleplay.understanding.llm import LLMReader

        return LLMReader.from_settings(settings, fallback=local_reader())
    return local_reader()


__all__ = [
    "DECISIVE_ACTS",
    "DECISIVE_MOVES",
    "ActReading",
    "CandidateReading",
    "Context",
    "CustomerMove",
    "CustomerReading",
    "Reader",
    "RuleReading",
    "local_reader",
    "reader_for",
]
