"""Import tau2-bench customer scenarios as persona files.

tau2-bench (sierra-research) describes each simulated user by ``reason_for_call``,
``known_info``, ``unknown_info`` and ``task_instructions``. Those map onto the hidden
scenario; what cannot be derived (policy rules beyond the generic retail ones, scripted lines)
gets sensible defaults that the trainer is told to review.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from roleplay.core.library import check_persona_data
from roleplay.core.validation import display_path
from roleplay.errors import InputError

_PERSON_SWAPS = [
    (r"\byou are\b", "I am"),
    (r"\byou were\b", "I was"),
    (r"\byou'd\b", "I'd"),
    (r"\byou'll\b", "I'll"),
    (r"\byou've\b", "I've"),
    (r"\byou're\b", "I'm"),
    (r"\byourself\b", "myself"),
    (r"\byours\b", "mine"),
    (r"\byour\b", "my"),
    (r"\byou\b", "I"),
]

_ACTIONS: dict[str, tuple[str, str, list[str]]] = {
    "exchange_delivered_order_items": (
        "exchange",
        "Exchange the delivered items as requested.",
        [r"exchang\w*"],
    ),
    "return_delivered_order_items": (
        "return",
        "Return the delivered items for a refund to the original payment method.",
        [r"\breturn\w*", r"refund"],
    ),
    "cancel_pending_order": ("cancel", "Cancel the pending order.", [r"cancel\w*"]),
    "modify_pending_order_items": (
        "modify-items",
        "Change the items of the pending order.",
        [r"modif\w*", r"chang\w* (the|your) (item|order)", r"swap"],
    ),
    "modify_pending_order_address": (
        "modify-address",
        "Change the shipping address of the pending order.",
        [r"(update|chang\w*|modif\w*) [^.?!]*address"],
    ),
    "modify_user_address": (
        "update-profile-address",
        "Update the default address on the profile.",
        [r"(update|chang\w*|modif\w*) [^.?!]*address"],
    ),
    "modify_pending_order_payment": (
        "modify-payment",
        "Change the payment method of the pending order.",
        [r"(chang\w*|switch\w*|updat\w*) [^.?!]*payment"],
    ),
    "transfer_to_human_agents": (
        "transfer",
        "Transfer to a human agent.",
        [r"transfer\w* you", r"human agent"],
    ),
}

_DEFAULT_LINES: dict[str, list[str]] = {
    "opening": ["Hi, I need some help. {request}"],
    "complain": [
        "I just want this sorted out. {request}",
        "This is taking longer than it should.",
    ],
    "demand": ["Can you please just do what I asked? {request}"],
    "give_fact": ["{fact}", "Sure. {fact}"],
    "repeat_fact": ["I already said that. {fact}"],
    "reject_offer": ["No, that's not what I asked for."],
    "accept": ["Yes, please go ahead.", "Okay, that works."],
    "ask_manager": ["I'd like to talk to a human supervisor, please."],
    "leave": ["Never mind, I'll deal with it another way."],
    "thank_close": ["Great, thank you. That's all."],
}

WARNING = (
    "policy rules and scripted lines are generic defaults derived from the tau2 task; "
    "review them before candidates see this persona"
)


def first_person(text: str) -> str:
    """Rewrite tau2's second-person instructions as the customer's own words."""
    out = text.strip()
    for pattern, repl in _PERSON_SWAPS:
        out = re.sub(pattern, repl, out, flags=re.IGNORECASE)
    return out[:1].upper() + out[1:] if out else out


def _name(known: str, task_id: str) -> str:
    m = re.search(r"\b[Yy]ou are ([A-Z][a-z]+(?: [A-Z][a-z]+)+)", known)
    if m:
        return m.group(1)
    m = re.search(r"\b[Yy]ou are ([a-z]+)_([a-z]+)_\d+", known)
    if m:
        return f"{m.group(1).title()} {m.group(2).title()}"
    return f"Retail customer {task_id}"


def _difficulty(temper: str, reason: str) -> int:
    t = temper.lower()
    score = 2
    if re.search(r"impatient|rude|angry|frustrat|annoy|upset|aggressive|demanding", t):
        score += 2
    if re.search(r"reluctant|skeptic|suspicious|persistent|insist", t):
        score += 1
    if len(reason) > 400:
        score += 1
    return max(1, min(5, score))


def _mood(temper: str) -> int:
    t = temper.lower()
    if re.search(r"angry|rude|aggressive|upset", t):
        return -3
    if re.search(r"impatient|frustrat|annoy|demanding", t):
        return -2
    if re.search(r"polite|calm|friendly|patient", t):
        return 0
    return -1


def _policy_rules(policy: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    actions = ["cancel", "return", "exchang", "modif", "refund"]
    if re.search(r"authenticat", policy, re.IGNORECASE):
        rules.append(
            {
                "id": "authenticate-first",
                "text": "Authenticate the user (email, or name and zip code) before acting.",
                "kind": "must",
                "detect": {
                    "patterns": [r"e-?mail", r"zip", r"(full )?name", r"verif", r"authenticat"],
                    "when": actions,
                },
            }
        )
    if re.search(r"explicit user confirmation", policy, re.IGNORECASE):
        rules.append(
            {
                "id": "confirm-before-acting",
                "text": "List the action details and get an explicit yes before acting.",
                "kind": "must",
                "detect": {
                    "patterns": [r"confirm", r"shall i proceed", r"would you like me to proceed"],
                    "when": actions,
                },
            }
        )
    return rules


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line text as ``|`` blocks so trainers can edit the files by hand."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_presenter)


def _dump_yaml(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)


@dataclass
class ImportResult:
    written: list[Path]
    warnings: list[str]


def import_tau2(
    tasks_path: Path, policy_path: Path, out_dir: Path, ids: list[str] | None = None
) -> ImportResult:
    """Convert tau2 tasks to persona YAML files in ``out_dir``; every file written validates."""
    tasks_file = display_path(tasks_path)
    try:
        tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(tasks_file, "(file)", "no such file") from None
    except json.JSONDecodeError as exc:
        raise InputError(tasks_file, f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    try:
        policy = policy_path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        raise InputError(
            display_path(policy_path), "(file)", "no such file, or not UTF-8 text"
        ) from None
    if not isinstance(tasks, list):
        raise InputError(tasks_file, "(root)", "expected a JSON list of tau2 tasks")
    wanted = set(ids or [])
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ImportResult([], [])
    found: set[str] = set()
    for index, task in enumerate(tasks):
        task_id = str(task.get("id", index)) if isinstance(task, dict) else str(index)
        if wanted and task_id not in wanted:
            continue
        found.add(task_id)
        data = _persona_from_task(task, task_id, policy, tasks_file, index)
        target = out_dir / f"tau2-retail-{_slug(task_id)}.yaml"
        persona, problems = check_persona_data(display_path(target), data)
        if persona is None:
            # The importer's own output must validate; if a task is too odd to convert,
            # say which one and why rather than writing a broken file.
            raise InputError(tasks_file, f"[{index}]", "; ".join(p.message for p in problems[:3]))
        header = f"# Imported from tau2-bench task {task_id}. {WARNING}.\n"
        target.write_text(
            header
            + yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100),
            encoding="utf-8",
        )
        result.written.append(target)
        result.warnings.append(f"{display_path(target)}: warning: {WARNING}")
    missing = wanted - found
    if missing:
        raise InputError(tasks_file, "--ids", f"no task with id {', '.join(sorted(missing))}")
    return result


def _slug(task_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", task_id.lower()).strip("-") or "task"


def _persona_from_task(
    task: Any, task_id: str, policy: str, tasks_file: str, index: int
) -> dict[str, Any]:
    instr = (
        (task.get("user_scenario") or {}).get("instructions") if isinstance(task, dict) else None
    )
    if not isinstance(instr, dict) or not isinstance(instr.get("reason_for_call"), str):
        raise InputError(
            tasks_file,
            f"[{index}].user_scenario.instructions.reason_for_call",
            "missing; each task needs user_scenario.instructions with reason_for_call",
        )
    reason = instr["reason_for_call"].strip()
    known = str(instr.get("known_info") or "").strip()
    unknown = str(instr.get("unknown_info") or "").strip()
    temper = str(instr.get("task_instructions") or "").strip().strip(".")
    domain = str(instr.get("domain") or "retail")

    facts: list[dict[str, Any]] = [
        {"id": "request", "value": first_person(reason), "reveal": "free"},
    ]
    if known:
        facts.append(
            {
                "id": "identity",
                "value": first_person(known),
                "reveal": "free",
                "asked_by": [r"e-?mail", r"zip", r"(your|full) name", r"user ?id", r"verif"],
            }
        )
    for n, order in enumerate(dict.fromkeys(re.findall(r"#W\d+", reason))):
        facts.append(
            {
                "id": f"order_{n + 1}",
                "value": order,
                "reveal": "free",
                "asked_by": [r"order (number|id|#)"],
            }
        )

    resolutions: list[dict[str, Any]] = []
    actions = (task.get("evaluation_criteria") or {}).get("actions") or []
    for action in actions:
        name = action.get("name") if isinstance(action, dict) else None
        if name in _ACTIONS and not any(r["id"] == _ACTIONS[name][0] for r in resolutions):
            rid, desc, patterns = _ACTIONS[name]
            resolutions.append({"id": rid, "description": desc, "patterns": patterns})
    if not resolutions:
        resolutions.append(
            {
                "id": "handled",
                "description": "The agent handles the request as asked.",
                "patterns": [r"(i|we)('ve| have| will|'ll) (process|complet|submitt|updat)\w*"],
            }
        )

    return {
        "id": f"tau2-{_slug(domain)}-{_slug(task_id)}",
        "name": _name(known, task_id),
        "language": "en",
        "difficulty": _difficulty(temper, reason),
        "industry": domain,
        "tags": ["tau2", "imported"],
        "briefing": {
            "channel": "chat",
            "company": f"tau2 {domain.title()} Store",
            "candidate_brief": "A customer is contacting the online store's support chat. "
            "Help them within the policy.",
            "policy_card": policy,
        },
        "scenario": {
            "reason": reason,
            "facts": facts,
            "wants": reason,
            "acceptable_resolutions": resolutions,
            "unacceptable_resolutions": [],
            "does_not_know": [first_person(unknown)] if unknown else [],
        },
        "temperament": {
            "starting_mood": _mood(temper),
            "patience": 3,
            "breaking_point": "manager",
            "notes": temper,
        },
        "policy_rules": _policy_rules(policy),
        "lines": _DEFAULT_LINES,
        "limits": {"max_turns": 20},
    }
