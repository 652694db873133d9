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


@dataclass(frozen=True)
class ExampleWarning:
    field: str  # where in the persona, e.g. scenario.facts[6].examples[2]
    finding: Finding
    text: str

    def message(self) -> str:
        if self.finding == "no_examples":
            return (
                "warning: no examples; the reader can only use the patterns. Add 5 or more "
                "natural phrasings"
            )
        if self.finding == "not_recognised":
            return (
                f"warning: the reader does not recognise this example ({self.text[:60]!r}); "
                "add more varied examples like it"
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
            else {
                ActKind.offer,
                ActKind.bad_offer,
            }
        )
        return any(a.kind in wanted and a.detail == item_id for a in reading.acts)

    groups: list[tuple[str, str, list[tuple[str, list[str], list[str]]]]] = [
        ("facts", "fact", [(f.id, f.examples, f.near_misses) for f in sc.facts]),
        (
            "acceptable_resolutions",
            "resolution",
            [(r.id, r.examples, r.near_misses) for r in sc.acceptable_resolutions],
        ),
        (
            "unacceptable_resolutions",
            "resolution",
            [(r.id, r.examples, r.near_misses) for r in sc.unacceptable_resolutions],
        ),
        ("policy_rules", "rule", [(r.id, r.examples, r.near_misses) for r in persona.policy_rules]),
    ]
    for group, kind, items in groups:
        base = f"scenario.{group}" if group != "policy_rules" else group
        for i, (item_id, examples, near_misses) in enumerate(items):
            if not examples:
                out.append(ExampleWarning(f"{base}[{i}].examples", "no_examples", ""))
                continue
            for j, text in enumerate(examples):
                who = _without(persona, (group, i, "examples", j)) if len(examples) > 1 else persona
                if not found(text, who, kind, item_id):
                    out.append(ExampleWarning(f"{base}[{i}].examples[{j}]", "not_recognised", text))
            for j, text in enumerate(near_misses):
                if found(text, persona, kind, item_id):
                    out.append(
                        ExampleWarning(f"{base}[{i}].near_misses[{j}]", "near_miss_taken", text)
                    )
    return out
