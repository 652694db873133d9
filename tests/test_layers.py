"""The layer rule, read from the code's imports (ast, not grep): a module that imports across
a layer it may not touch fails here, with the file, the line and the import."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: What each layer may import from the product. Faces see services, plus the data types they
#: show (a transcript's turns, a persona's briefing, a reply's stream events, a report).
ALLOWED: dict[str, tuple[str, ...]] = {
    "roleplay.config": ("roleplay.errors",),
    "roleplay.errors": (),
    "roleplay.llm": ("roleplay.llm", "roleplay.config", "roleplay.errors"),
    # The director reads turns through the understanding layer, which reads the persona.
    "roleplay.core": (
        "roleplay.core",
        "roleplay.understanding",
        "roleplay.llm",
        "roleplay.config",
        "roleplay.errors",
    ),
    "roleplay.understanding": (
        "roleplay.understanding",
        "roleplay.core",
        "roleplay.llm",
        "roleplay.config",
        "roleplay.errors",
    ),
    "grading": (
        "grading",
        "roleplay.understanding",
        "roleplay.core",
        "roleplay.llm",
        "roleplay.config",
        "roleplay.errors",
        "roleplay.__version__",
    ),
    "roleplay.storage": ("roleplay.storage", "roleplay.core", "roleplay.config", "roleplay.errors"),
    "roleplay.services": (
        "roleplay.services",
        "roleplay.storage",
        "roleplay.understanding",
        "roleplay.core",
        "roleplay.llm",
        "grading",
        "roleplay.config",
        "roleplay.errors",
    ),
    "roleplay.faces": (
        "roleplay.faces",
        "roleplay.services",
        "roleplay.config",
        "roleplay.errors",
        "roleplay.core.transcript",
        "roleplay.core.persona",
        "roleplay.core.actors.Delta",
        "roleplay.core.actors.Retract",
        "roleplay.core.actors.Event",
        "roleplay.core.actors.Done",
        "roleplay.core.conversation.TimeUp",
        "grading.report",
        "grading.calibration.render_markdown",
        "grading.calibration.render_transcripts",
        "roleplay.__version__",
    ),
}
#: Provider client libraries: only the seam (and the test double that imitates it) use them.
PROVIDERS = ("openai", "langchain_openai", "langchain_core", "langchain")
SEAM = ("roleplay.llm", "roleplay.testing")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str | None:
    return max((layer for layer in ALLOWED if _within(module, layer)), key=len, default=None)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _imports(tree: ast.Module) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def violations() -> list[str]:
    problems: list[str] = []
    for package in ("roleplay", "grading"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = _module_name(path)
            layer = _layer(module)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for line, name in _imports(tree):
                where = f"{path.relative_to(ROOT)}:{line}: {module} imports {name}"
                top = name.split(".")[0]
                if top in PROVIDERS and not any(_within(module, s) for s in SEAM):
                    problems.append(f"{where} (only the LLM seam may import {top})")
                if top not in ("roleplay", "grading") or layer is None:
                    continue
                if not any(_within(name, allowed) for allowed in ALLOWED[layer]):
                    problems.append(f"{where} ({layer} may not import it)")
    return problems


def test_every_module_keeps_to_its_layer() -> None:
    assert violations() == []


def test_the_check_catches_a_face_reaching_into_storage(tmp_path: Path) -> None:
    tree = ast.parse("from roleplay.storage.store import Store\nimport openai\n")
    names = [name for _, name in _imports(tree)]
    layer = _layer("roleplay.faces.cli")
    assert layer == "roleplay.faces"
    assert not any(_within(names[0], allowed) for allowed in ALLOWED[layer])
    assert names[1].split(".")[0] in PROVIDERS
