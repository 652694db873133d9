"""Actors put the director's chosen move into words.

* :class:`ScriptedActor` speaks the persona's trainer-authored lines: offline, deterministic
  for a seed, never the same line twice in a row.
* :class:`LLMActor` has a chat model write the line, with only released facts in the prompt,
  checks each sentence before it is shown, regenerates once on a bad reply and then falls
  back to the scripted line.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, Protocol

import yaml

from roleplay.config import Settings
from roleplay.core.director import mood_label
from roleplay.core.guard import check_reply
from roleplay.core.persona import OPTIONAL_MOVES, Move, Persona
from roleplay.errors import BackendError
from roleplay.llm import ChatBackend, Message, Usage
from roleplay.llm.tokens import cost_usd, count_messages, count_text, trim_history


# ---------------------------------------------------------------------------- events
@dataclass(frozen=True)
class Delta:
    """More text of the customer's reply, safe to show."""

    text: str


@dataclass(frozen=True)
class Retract:
    """Discard the partial reply shown so far; a replacement follows."""


@dataclass(frozen=True)
class Done:
    """The reply is complete."""

    text: str
    source: Literal["scripted", "llm", "fallback"]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    #: True when the server reported the tokens; False when tiktoken estimated them.
    reported: bool = False


Event = Delta | Retract | Done


@dataclass
class SpeakRequest:
    """What the actor must say now, and the conversation so far."""

    move: Move
    mood: int
    give_facts: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    history: Sequence[tuple[str, str]] = ()  # ("customer" | "candidate", text)
    offer: str | None = None  # the resolution the move is about


class Actor(Protocol):
    name: str
    model: str | None

    def speak(self, request: SpeakRequest) -> Iterator[Event]: ...


# ---------------------------------------------------------------------------- scripted
@lru_cache(maxsize=8)
def default_lines(language: str) -> dict[str, list[str]]:
    """The language's lines for the reactions a persona may leave out (English when the
    language has none)."""
    folder = resources.files("roleplay.core.prompts")
    for lang in (language.split("-")[0], "en"):
        found = folder.joinpath(f"lines.{lang}.yaml")
        if found.is_file():
            data: dict[str, list[str]] = yaml.safe_load(found.read_text("utf-8"))
            return data
    return {}


#: A line is not said again while it is among the customer's last this many lines.
RECENT = 3


class ScriptedActor:
    """Speaks the persona's lines for each move: deterministic for a seed, never a line said
    in the last three customer turns while the bank has another."""

    name = "scripted"
    model: str | None = None

    def __init__(self, persona: Persona, seed: int = 0) -> None:
        self.persona = persona
        self._rng = random.Random(seed)
        self._recent: list[str] = []

    def bank(self, move: Move) -> list[str]:
        own = self.persona.lines.bank(move)
        if own or move not in OPTIONAL_MOVES:
            return own
        return list(default_lines(self.persona.language).get(move.value, [])) or (
            self.persona.lines.bank(Move.complain)
        )

    def line(self, move: Move, give_facts: Sequence[str] = (), offer: str | None = None) -> str:
        bank = self.bank(move)
        if not give_facts:
            bank = [t for t in bank if "{fact}" not in t] or bank
        said_as = self.persona.said_as(offer)
        if not said_as:
            bank = [t for t in bank if "{offer}" not in t] or bank
        choices = [t for t in bank if t not in self._recent] or bank
        template = self._rng.choice(choices)
        self._recent = [*self._recent, template][-RECENT:]
        return self.persona.render(template, give_facts, said_as)

    def speak(self, request: SpeakRequest) -> Iterator[Event]:
        text = self.line(request.move, request.give_facts, request.offer)
        yield Delta(text)
        yield Done(text, "scripted")


# ---------------------------------------------------------------------------- LLM
@lru_cache(maxsize=1)
def prompts() -> dict[str, Any]:
    text = resources.files("roleplay.core.prompts").joinpath("customer.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    data["guidelines"] = (
        resources.files("roleplay.core.prompts")
        .joinpath("customer_guidelines.md")
        .read_text("utf-8")
    )
    return data


def _sentence_end(text: str) -> int:
    """Index just after the last sentence boundary in ``text`` (0 if none)."""
    best = 0
    for i, ch in enumerate(text):
        if ch in ".!?\n" and (i + 1 == len(text) or text[i + 1].isspace()):
            best = i + 1
    return best


class LLMActor:
    """A chat model voices the customer; the director still decides everything."""

    name = "llm"

    def __init__(
        self,
        persona: Persona,
        backend: ChatBackend,
        *,
        settings: Settings,
        fallback: ScriptedActor,
    ) -> None:
        self.persona = persona
        self.backend = backend
        self.model: str | None = backend.model
        self.settings = settings
        self.fallback = fallback

    # -- prompt -------------------------------------------------------------------
    def system_prompt(self, request: SpeakRequest) -> str:
        p, sc = self.persona, self.persona.scenario
        visible = [f for f in sc.facts if f.reveal == "free" or f.id in request.released]
        facts = "\n".join(f"- {f.said}" for f in visible) or "- (none)"
        unknown = "\n".join(f"- {u}" for u in sc.does_not_know) or "- (nothing listed)"
        t = p.temperament
        temperament = t.notes or f"starting mood {t.starting_mood}"
        return str(prompts()["system"]).format(
            guidelines=prompts()["guidelines"],
            name=p.name,
            company=p.briefing.company,
            channel=p.briefing.channel,
            language=p.language,
            reason=sc.reason,
            wants=sc.wants,
            temperament=temperament,
            facts=facts,
            unknown=unknown,
        )

    def turn_note(self, request: SpeakRequest, opening: str = "") -> str:
        """This turn's instructions. ``opening`` is the scripted opening the LLM should
        paraphrase when the move is the opening."""
        moves = prompts()["moves"]
        instruction = str(moves[request.move.value])
        offer = self.persona.said_as(request.offer) or "what they offered"
        hint = (
            f" (did they offer to {self.persona.said_as(request.offer)}?)" if request.offer else ""
        )
        instruction = instruction.format(opening=opening, offer=offer, offer_hint=hint)
        say_now = ""
        if request.give_facts:
            said = self.persona.statements(request.give_facts)
            say_now = str(prompts()["say_now"]).format(facts=said)
        return str(prompts()["turn_note"]).format(
            name=self.persona.name,
            mood_label=mood_label(request.mood),
            mood=request.mood,
            move_instruction=instruction,
            say_now=say_now,
        )

    def messages(
        self, request: SpeakRequest, correction: str | None = None, opening: str = ""
    ) -> list[Message]:
        """System prompt, trimmed history (the opening always kept), then this turn's note."""
        system = self.system_prompt(request)
        note = self.turn_note(request, opening)
        notes = [note, correction] if correction else [note]
        budget = max(200, self.settings.history_token_budget)
        history = trim_history(
            [("assistant" if s == "customer" else "user", t) for s, t in request.history],
            budget,
            keep_first=1,
        )
        out = [Message("system", system)]
        out += [Message("assistant" if role == "assistant" else "user", t) for role, t in history]
        out += [Message("system", n) for n in notes]
        return out

    # -- speaking -----------------------------------------------------------------
    def speak(self, request: SpeakRequest) -> Iterator[Event]:
        correction: str | None = None
        prompt_total = completion_total = 0
        cost_total: float | None = 0.0
        all_reported = True
        # Chosen once per turn, so a regeneration paraphrases the same opening.
        opening = self.fallback.line(Move.opening) if request.move == Move.opening else ""
        for _attempt in range(2):
            msgs = self.messages(request, correction, opening)
            shown = ""
            buffer = ""
            problems: list[str] = []
            usage: Usage | None = None
            try:
                for item in self.backend.stream(msgs):
                    if isinstance(item, Usage):
                        usage = item
                        continue
                    buffer += item
                    cut = _sentence_end(buffer)
                    if cut > len(shown):
                        problems = check_reply(buffer[:cut], self.persona, request.released)
                        if problems:
                            break
                        yield Delta(buffer[len(shown) : cut])
                        shown = buffer[:cut]
            except BackendError:
                if shown:
                    yield Retract()
                raise
            if not problems:
                problems = check_reply(buffer, self.persona, request.released)
                if not buffer.strip():
                    problems = ["empty reply"]
            if usage is None:  # stopped early: the server never sent its count
                usage = Usage(
                    count_messages([(m.role, m.content) for m in msgs]),
                    count_text(buffer),
                    reported=False,
                )
            all_reported = all_reported and usage.reported
            prompt_total += usage.prompt_tokens
            completion_total += usage.completion_tokens
            cost = cost_usd(
                self.model, usage.prompt_tokens, usage.completion_tokens, self.settings.prices
            )
            cost_total = None if cost is None or cost_total is None else cost_total + cost
            if not problems:
                if len(buffer) > len(shown):
                    yield Delta(buffer[len(shown) :])
                yield Done(
                    buffer.strip(), "llm", prompt_total, completion_total, cost_total, all_reported
                )
                return
            if shown:
                yield Retract()
            correction = str(prompts()["correction"]).format(
                name=self.persona.name, problems="; ".join(problems)
            )
        text = self.fallback.line(request.move, request.give_facts, request.offer)
        yield Delta(text)
        yield Done(text, "fallback", prompt_total, completion_total, cost_total, all_reported)
