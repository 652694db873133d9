"""Persona schema, validation messages, the built-in library, listing and the tau2 importer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from roleplay.core.library import PersonaLibrary, builtin_dir, check_paths, load_persona_file
from roleplay.core.persona import Persona
from roleplay.faces.cli import main

LAPTOP_YAML = builtin_dir() / "damaged-laptop.yaml"


def laptop_data() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(LAPTOP_YAML.read_text(encoding="utf-8"))


def write(tmp_path: Path, name: str, data: object | str) -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def validate(*paths: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["personas", "validate", *map(str, paths)])
    # A clean exit (0 or 1), never an exception escaping as a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, [line for line in result.output.splitlines() if line]


# ---------------------------------------------------------------- the library


def test_every_builtin_persona_validates() -> None:
    result = CliRunner().invoke(main, ["personas", "validate", str(builtin_dir())])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("ok: ")


def test_validate_warns_where_the_reader_would_miss_candidates(tmp_path: Path) -> None:
    data = laptop_data()
    rule = data["policy_rules"][0]
    rule["examples"] = []
    photos = next(f for f in data["scenario"]["facts"] if f["id"] == "photos")
    photos["near_misses"] = ["Could you send me a photo of the damage?"]
    path = write(tmp_path, "p.yaml", data)
    result = CliRunner().invoke(main, ["personas", "validate", str(path)])
    assert result.exit_code == 0  # warnings do not fail validation
    warnings = result.stderr.splitlines()
    assert f"{path}:policy_rules[0].examples: warning: no examples" in "\n".join(warnings)
    index = data["scenario"]["facts"].index(photos)
    assert any(
        w.startswith(f"{path}:scenario.facts[{index}].near_misses[0]: warning: the reader takes")
        for w in warnings
    ), warnings
    quiet = CliRunner().invoke(main, ["personas", "validate", "--no-examples", str(path)])
    assert quiet.exit_code == 0 and "warning" not in quiet.output


def test_library_spans_industries_difficulties_and_languages(library: PersonaLibrary) -> None:
    personas = list(library)
    assert len(personas) >= 10
    assert {p.difficulty for p in personas} == {1, 2, 3, 4, 5}
    assert len({p.industry for p in personas}) >= 8
    assert any(p.language != "en" for p in personas)


def test_damaged_laptop_is_as_described(laptop: Persona) -> None:
    assert laptop.name == "Dana Whitfield"
    facts = {f.id: f for f in laptop.scenario.facts}
    assert "Lumen 14" in facts["product"].value
    assert facts["order_number"].value == "A1042"
    assert facts["photos"].reveal == "on_ask"
    assert all(f.reveal == "free" for k, f in facts.items() if k != "photos")
    assert "Monday" in facts["deadline"].value
    assert {r.id for r in laptop.scenario.acceptable_resolutions} == {
        "replacement",
        "refund_after_return",
    }
    rules = {r.id: r for r in laptop.policy_rules}
    assert len(rules) == 5
    assert rules["no-fast-shipping"].kind == "must_not"
    assert rules["verify-order"].kind == "must"
    assert "$25" in rules["credit-limit"].text


def test_list_prints_id_name_language_difficulty() -> None:
    result = CliRunner().invoke(main, ["personas", "list"])
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if line.startswith("damaged-laptop"))
    assert row.split()[:5] == ["damaged-laptop", "Dana", "Whitfield", "en", "3"]
    assert "forsinket-pakke" in result.output


def test_schema_is_json_schema_with_descriptions() -> None:
    result = CliRunner().invoke(main, ["personas", "schema"])
    schema = json.loads(result.output)
    assert schema["title"] == "Persona"
    assert {"id", "briefing", "scenario", "lines"} <= set(schema["required"])
    fact = schema["$defs"]["Fact"]["properties"]
    assert all("description" in prop for prop in fact.values())


def test_persona_dir_from_environment_is_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = laptop_data()
    data["id"] = "my-own"
    write(tmp_path, "mine.yaml", data)
    monkeypatch.setenv("ROLEPLAY_PERSONAS_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["personas", "list"])
    assert "my-own" in result.output and "damaged-laptop" in result.output


# ---------------------------------------------------------------- validation messages


def test_missing_field(tmp_path: Path) -> None:
    data = laptop_data()
    del data["briefing"]["policy_card"]
    code, lines = validate(write(tmp_path, "p.yaml", data))
    assert code == 1
    assert lines == [
        f"{tmp_path / 'p.yaml'}:briefing.policy_card: required field is missing; add it"
    ]


def test_wrong_type(tmp_path: Path) -> None:
    data = laptop_data()
    data["difficulty"] = "hard"
    data["scenario"]["facts"] = "photos"
    code, lines = validate(write(tmp_path, "p.yaml", data))
    assert code == 1
    assert any(
        line.endswith(":difficulty: expected a whole number, got 'hard'") for line in lines
    ), lines
    assert any(":scenario.facts: expected a list" in line for line in lines), lines


def test_out_of_range_and_unknown_field(tmp_path: Path) -> None:
    data = laptop_data()
    data["difficulty"] = 9
    data["temperment"] = {"starting_mood": 1}
    code, lines = validate(write(tmp_path, "p.yaml", data))
    assert code == 1
    assert any(":difficulty: must be at most 5, got 9" in line for line in lines), lines
    assert any(
        ":temperment: unknown field; check the spelling" in line and "temperament" in line
        for line in lines
    ), lines


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = LAPTOP_YAML.read_text(encoding="utf-8").replace(
        "name: Dana Whitfield", "name: Dana Whitfield\n  bad: [unclosed"
    )
    path = write(tmp_path, "p.yaml", text)
    code, lines = validate(path)
    assert code == 1 and len(lines) == 1
    file, where, message = lines[0].split(":", 2)
    assert file == str(path)
    assert where.startswith("line ")
    assert 3 <= int(where.split()[1]) <= 6  # at or just after the broken line
    assert "YAML syntax error" in message


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", laptop_data())
    write(tmp_path, "b.yaml", laptop_data())
    code, lines = validate(tmp_path)
    assert code == 1
    assert lines == [
        f"{tmp_path / 'b.yaml'}:id: duplicate persona id 'damaged-laptop', already used by "
        f"{tmp_path / 'a.yaml'}; give one of them another id"
    ]


def test_placeholder_naming_no_fact(tmp_path: Path) -> None:
    data = laptop_data()
    data["lines"]["complain"][1] = "Where is my {refund_amount}?"
    data["lines"]["demand"][0] = "Give me the {fact} now."
    code, lines = validate(write(tmp_path, "p.yaml", data))
    assert code == 1
    assert any(
        ":lines.complain[1]: placeholder {refund_amount} names no fact" in line
        and "order_number" in line
        for line in lines
    ), lines
    assert any(":lines.demand[0]: placeholder {fact} names no fact" in line for line in lines)


def test_invalid_pattern_in_rule(tmp_path: Path) -> None:
    data = laptop_data()
    data["policy_rules"][2]["detect"]["patterns"][0] = "same[- day"
    code, lines = validate(write(tmp_path, "p.yaml", data))
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith(f"{tmp_path / 'p.yaml'}:policy_rules[2].detect.patterns[0]: ")
    assert "invalid regular expression 'same[- day'" in lines[0]
    assert "escape special characters" in lines[0]


def test_on_ask_fact_without_questions_and_unknown_required_fact(tmp_path: Path) -> None:
    data = laptop_data()
    data["scenario"]["facts"][-1]["asked_by"] = []
    data["scenario"]["facts"][-1]["examples"] = []
    data["scenario"]["acceptable_resolutions"][0]["requires_facts"] = ["receipt"]
    code, lines = validate(write(tmp_path, "p.yaml", data))
    assert code == 1
    assert any(":scenario.facts[6].examples: an on_ask fact needs" in line for line in lines)
    assert any(
        ":scenario.acceptable_resolutions[0].requires_facts[0]: 'receipt' names no fact" in line
        for line in lines
    )


def test_an_entitlement_rule_names_acceptable_resolutions(tmp_path: Path) -> None:
    """``offers`` (the customer is entitled to one of these) must name acceptable resolutions,
    ``asks`` facts, and both belong to must rules only."""
    data = laptop_data()
    data["policy_rules"] += [
        {"id": "offer-repair", "text": "Offer a repair.", "kind": "must", "offers": ["repair"]},
        {"id": "never-x", "text": "Never.", "kind": "must_not", "offers": ["replacement"]},
        {"id": "ask-x", "text": "Ask.", "kind": "must", "asks": ["receipt"]},
    ]
    code, lines = validate(write(tmp_path, "p.yaml", data))
    assert code == 1
    n = len(data["policy_rules"]) - 1
    assert any(
        f":policy_rules[{n}].asks[0]: 'receipt' names no fact; use one of:" in ln for ln in lines
    )
    assert any(
        f":policy_rules[{n - 2}].offers[0]: 'repair' names no acceptable resolution; use one of: "
        "replacement" in line
        for line in lines
    )
    assert any(
        f":policy_rules[{n - 1}].offers: offers applies only to must rules" in line
        for line in lines
    )


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    data = laptop_data()
    del data["name"]
    data["policy_rules"][0]["detect"]["patterns"] = ["(photo"]
    data["lines"]["leave"] = ["Bye {nobody}"]
    code, lines = validate(write(tmp_path, "p.yaml", data))
    assert code == 1 and len(lines) == 3, lines


@pytest.mark.parametrize(
    "content",
    [
        "",
        "- just\n- a list\n",
        "plain text",
        "id: [1, 2\n",
        "\t\tid: x",
        "id: !!python/object/apply:os.system ['echo hi']\n",
        b"\xff\xfe\x00binary",
    ],
)
def test_garbage_never_gives_a_traceback(tmp_path: Path, content: str | bytes) -> None:
    path = tmp_path / "bad.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    code, lines = validate(path)
    assert code == 1
    assert lines and all(line.startswith(f"{path}:") for line in lines), lines


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[" * 50_000, "nested more than 32 levels deep"),
        ("id: " + "{a: " * 40 + "1" + "}" * 40 + "\n", "nested more than 32 levels deep"),
        # a "billion laughs": nine aliases that expand to 10^9 strings once walked
        (
            "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
            "aliases (&name, *name) are not supported",
        ),
        ("id: x\nnotes: '" + "y" * 600_000 + "'\n", "may be at most 512 KB"),
    ],
)
def test_hostile_yaml_is_refused_with_a_clear_problem(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(content, encoding="utf-8")
    code, lines = validate(path)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(f"{path}:") and expected in lines[0], lines


def test_a_catastrophically_slow_pattern_is_refused(tmp_path: Path) -> None:
    data = laptop_data()
    data["scenario"]["facts"][0]["asked_by"] = ["(a|aa)+$"]
    code, lines = validate(write(tmp_path, "p.yaml", data))
    assert code == 1 and len(lines) == 1, lines
    assert ":scenario.facts[0].asked_by[0]: " in lines[0]
    assert "backtracks catastrophically" in lines[0]


def test_a_slow_pattern_that_slipped_through_cannot_stall_a_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from roleplay.core import patterns

    slow = "(a|aa)+$"
    with caplog.at_level("WARNING", logger="roleplay.core.patterns"):
        assert patterns.search(slow, "a" * 31 + "!") is None
        assert list(patterns.finditer(slow, "a" * 31 + "!")) == []
        assert patterns.search(slow, "a" * 31 + "!") is None
    # named once; after that it is not run again, so it cannot stall the next message either
    assert caplog.text.count("timed out twice") == 1
    assert slow in patterns._slow
    assert patterns.search("photo", "here is a photo") is not None  # the others still run


def test_a_search_that_runs_out_of_time_on_a_busy_server_is_tried_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The budget is wall-clock time: an innocent pattern that lost the CPU to other threads
    is tried once more instead of silently missing."""
    from roleplay.core import patterns

    calls: list[float] = []
    real = patterns.compile_pattern("photo")

    class Busy:
        def search(self, text: str, timeout: float) -> object:
            calls.append(timeout)
            if len(calls) == 1:
                raise TimeoutError("regex timed out")
            return real.search(text, timeout=timeout)

    monkeypatch.setattr(patterns, "compile_pattern", lambda pattern: Busy())
    with caplog.at_level("WARNING", logger="roleplay.core.patterns"):
        assert patterns.search("photo", "I can send a photo") is not None
    assert calls == [patterns.SEARCH_TIMEOUT, patterns.RETRY_TIMEOUT]
    assert "timed out" not in caplog.text


def test_missing_path_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    code, lines = validate(tmp_path / "nope.yaml")
    assert code == 1 and "no such file" in lines[0]


def test_console_script_reports_problems_on_stderr(tmp_path: Path) -> None:
    data = laptop_data()
    data["difficulty"] = 0
    path = write(tmp_path, "p.yaml", data)
    exe = Path(sys.executable).parent / "roleplay"
    proc = subprocess.run(
        [str(exe), "personas", "validate", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"{path}:difficulty: must be at least 1, got 0"
    assert proc.stdout == ""


def test_loading_an_invalid_library_raises_with_all_problems(tmp_path: Path) -> None:
    data = laptop_data()
    data["difficulty"] = 7
    write(tmp_path, "p.yaml", data)
    with pytest.raises(Exception) as info:
        PersonaLibrary.load([tmp_path])
    assert "difficulty: must be at most 5" in str(info.value)


def test_unknown_persona_suggests_close_ids(library: PersonaLibrary) -> None:
    with pytest.raises(Exception, match="did you mean damaged-laptop"):
        library.get("damaged-laptp")


# ---------------------------------------------------------------- tau2 importer


def test_import_tau2_real_tasks_all_validate(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "imported"
    tau2 = shared_data / "tau2_retail"
    result = CliRunner().invoke(
        main,
        [
            "personas",
            "import-tau2",
            str(tau2 / "tasks.json"),
            "--policy",
            str(tau2 / "policy.md"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.yaml"))
    assert len(files) == 114
    check = check_paths([out])
    assert check.problems == []
    assert len(check.personas) == 114
    # one warning per file, naming the file
    warnings = [line for line in result.output.splitlines() if ": warning: " in line]
    assert len(warnings) == 114
    assert {w.split(":")[0] for w in warnings} == {str(f) for f in files}
    first = load_persona_file(out / "tau2-retail-0.yaml")
    assert first.name == "Yusuf Rossi"
    assert first.briefing.policy_card.startswith("# Retail agent policy")
    assert "I received my order #W2378156" in first.fact("request").value
    assert first.scenario.does_not_know == ["I do not remember my email address."]
    assert {r.id for r in first.scenario.acceptable_resolutions} == {"exchange"}


def test_import_selected_ids_and_unknown_id(tmp_path: Path, shared_data: Path) -> None:
    tau2 = shared_data / "tau2_retail"
    args = [
        "personas",
        "import-tau2",
        str(tau2 / "tasks.json"),
        "--policy",
        str(tau2 / "policy.md"),
        "--out",
        str(tmp_path),
    ]
    ok = CliRunner().invoke(main, [*args, "--ids", "3,7"])
    assert ok.exit_code == 0
    assert sorted(p.name for p in tmp_path.glob("*.yaml")) == [
        "tau2-retail-3.yaml",
        "tau2-retail-7.yaml",
    ]
    bad = CliRunner().invoke(main, [*args, "--ids", "9999"])
    assert bad.exit_code == 2
    assert "--ids: no task with id 9999" in bad.output


def test_import_rejects_malformed_tasks_file(tmp_path: Path) -> None:
    tasks = write(tmp_path, "tasks.json", '[{"id": "1", "user_scenario": {}}]')
    policy = write(tmp_path, "policy.md", "# Policy\n")
    result = CliRunner().invoke(
        main,
        [
            "personas",
            "import-tau2",
            str(tasks),
            "--policy",
            str(policy),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert "[0].user_scenario.instructions.reason_for_call: missing" in result.output
    assert "Traceback" not in result.output


def test_the_candidate_page_has_words_for_every_built_in_persona_language(
    library: PersonaLibrary,
) -> None:
    """A persona's language picks the candidate page's own words; no built-in persona falls
    back to English chrome, and every set names every outcome and channel."""
    from roleplay.faces.web.chrome import chrome, languages

    english = chrome("en")
    for persona in library:
        assert persona.language.split("-")[0] in languages(), persona.id
    for lang in languages():
        words = chrome(lang)
        assert set(words.outcomes) == set(english.outcomes), lang
        assert set(words.channel) == set(english.channel), lang
    assert chrome("nb").start == "Start samtalen" and chrome("en-GB") == english
