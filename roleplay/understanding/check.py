"""Does the reader understand a persona's own examples? The check behind the warnings of
``roleplay personas validate`` and the studio.

Each example of a fact, a resolution or a policy rule is read with that example left out of
the persona (so it is recognised from the others, not from itself): a question for a fact
must be read as asking for it, an offer as offering it, a rule's example as breaking it (or
doing its step). Near misses must not be. Items with no examples are named too: the reader
can then only use their patterns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from roleplay.core.persona import ActKind, Persona
from roleplay.understanding import Context, Reader, local_reader

Finding = Literal["no_examples", "not_recognised", "near_miss_taken"]
#: An item whose examples the reader recognises less often than this (left out in turn) is
#: named: the reader will miss candidates who phrase it in other words.
RECALL_WARN = 0.5


@dataclass(frozen=True)
class ExampleWarning:
    field: str  # where in the persona, e.g. scenario.facts[6].examples
    finding: Finding
    text: str = ""
    recognised: int = 0
    total: int = 0

    def message(self) -> str:
        if self.finding == "no_examples":
            return (
                "warning: no examples; the reader can only use the patterns. Add 5 or more "
                "natural phrasings"
            )
        if self.finding == "not_recognised":
            return (
                f"warning: the reader recognises only {self.recognised} of {self.total} "
                f"examples when each is left out (e.g. {self.text[:60]!r}); add more varied "
                "phrasings"
            )
        return (
            f"warning: the reader takes this near miss for the item ({self.text[:60]!r}); "
            "add examples that show the difference"
        )


def _without(persona: Persona, path: tuple[str, int, str, int]) -> Persona:
    """The persona with one example removed."""
    data = persona.model_dump(mode="python")
    group, index, key, j = path
    container = data["scenario"][group] if group != "policy_rules" else data["policy_rules"]
    del container[index][key][j]
    return Persona.model_validate(data)


def check_examples(persona: Persona, reader: Reader | None = None) -> list[ExampleWarning]:
    """Warnings for the items a candidate must be understood on: hidden facts (asked for to
    be released), resolutions and policy rules. Free facts are said by the customer anyway."""
    reader = reader or local_reader()
    out: list[ExampleWarning] = []
    sc = persona.scenario
    stated = {f.id for f in sc.facts if f.reveal == "free"}

    def found(text: str, who: Persona, kind: str, item_id: str) -> bool:
        reading = reader.read_candidate(text, who, Context(stated - {item_id}))
        if kind == "rule":
            return any(r.rule == item_id for r in reading.rules)
        wanted = (
            {ActKind.ask_fact, ActKind.reask_fact}
            if kind == "fact"
            else {ActKind.offer, ActKind.bad_offer}
        )
        return any(a.kind in wanted and a.detail == item_id for a in reading.acts)

    hidden = [(i, f) for i, f in enumerate(sc.facts) if f.reveal == "on_ask"]
    groups: list[tuple[str, str, list[tuple[int, str, list[str], list[str]]]]] = [
        ("facts", "fact", [(i, f.id, f.examples, f.near_misses) for i, f in hidden]),
        (
            "acceptable_resolutions",
            "resolution",
            [(i, r.id, r.examples, r.near_misses) for i, r in enumerate(sc.acceptable_resolutions)],
        ),
        (
            "unacceptable_resolutions",
            "resolution",
            [
                (i, r.id, r.examples, r.near_misses)
                for i, r in enumerate(sc.unacceptable_resolutions)
            ],
        ),
        (
            "policy_rules",
            "rule",
            [
                (i, r.id, r.examples, r.near_misses)
                for i, r in enumerate(persona.policy_rules)
                # a rule without examples of its own may be read through what it names
                if r.examples or not (r.offers or r.asks)
            ],
        ),
    ]
    for group, kind, items in groups:
        base = f"scenario.{group}" if group != "policy_rules" else group
        for i, item_id, examples, near_misses in items:
            if not examples:
                out.append(ExampleWarning(f"{base}[{i}].examples", "no_examples"))
                continue
            missed = [
                text
                for j, text in enumerate(examples)
                if not found(
                    text,
                    _without(persona, (group, i, "examples", j)) if len(examples) > 1 else persona,
                    kind,
                    item_id,
                )
            ]
            hits = len(examples) - len(missed)
            if missed and hits / len(examples) < RECALL_WARN:
                out.append(
                    ExampleWarning(
                        f"{base}[{i}].examples", "not_recognised", missed[0], hits, len(examples)
                    )
                )
            for j, text in enumerate(near_misses):
                if found(text, persona, kind, item_id):
                    out.append(
                        ExampleWarning(f"{base}[{i}].near_misses[{j}]", "near_miss_taken", text)
                    )
    return out


def example_warnings(persona: Persona, file: str | None = None) -> list[str]:
    """The warnings as ``FILE:FIELD: warning: ...`` lines (FILE left out when not given)."""
    where = f"{file}:" if file else ""
    return [f"{where}{w.field}: {w.message()}" for w in check_examples(persona)]
