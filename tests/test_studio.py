"""The trainer's studio as a service: validation, versions, duplication, test drives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from roleplay.config import Settings
from roleplay.core.library import PersonaLibrary, builtin_dir
from roleplay.core.persona import ActKind
from roleplay.errors import InvalidValue, ValidationFailed
from roleplay.faces.cli import main
from roleplay.services.candidates import CandidateService
from roleplay.services.catalog import Catalog
from roleplay.services.studio import StudioService
from roleplay.storage.store import Store
from tests import scripts

LAPTOP = (builtin_dir() / "damaged-laptop.yaml").read_text(encoding="utf-8")
SETTINGS = Settings.from_env({"ROLEPLAY_HOME": "/tmp/x"})


@pytest.fixture
def studio(db_url: str, library: PersonaLibrary) -> Iterator[StudioService]:
    store = Store.open(db_url)
    yield StudioService(store, SETTINGS, Catalog(store, library))
    store.close()


def test_editor_messages_are_the_validators_messages(studio: StudioService, tmp_path: Path) -> None:
    broken = LAPTOP.replace("difficulty: 3", "difficulty: 9").replace(
        "Order {order_number}. I need", "Order {order_no}. I need"
    )
    path = tmp_path / "persona.yaml"
    path.write_text(broken, encoding="utf-8")
    cli = CliRunner().invoke(main, ["personas", "validate", str(path)])
    _, checked = studio.check_persona(broken, file=str(path))
    assert not checked.ok
    assert checked.problems == [line for line in cli.output.splitlines() if line]
    assert any("difficulty: must be at most 5, got 9" in p for p in checked.problems)
    _, syntax = studio.check_persona("id: [unclosed\n")
    assert syntax.problems[0].startswith("persona.yaml:line ")


def test_the_editor_shows_the_same_example_warnings_as_the_validator(
    studio: StudioService, tmp_path: Path
) -> None:
    data = yaml.safe_load(LAPTOP)
    data["policy_rules"][0]["examples"] = []
    text = yaml.safe_dump(data, sort_keys=False)
    path = tmp_path / "persona.yaml"
    path.write_text(text, encoding="utf-8")
    cli = CliRunner().invoke(main, ["personas", "validate", str(path)])
    _, checked = studio.check_persona(text, file=str(path), examples=True)
    assert checked.ok and checked.warnings
    assert checked.warnings == [ln for ln in cli.stderr.splitlines() if ": warning: " in ln]
    assert any("policy_rules[0].examples: warning: no examples" in w for w in checked.warnings)
    _, quick = studio.check_persona(text)  # per keystroke: validation only
    assert quick.ok and quick.warnings == []


def test_saving_makes_versions_and_older_ones_stay_readable(studio: StudioService) -> None:
    with pytest.raises(ValidationFailed):
        studio.save_persona(LAPTOP.replace("difficulty: 3", "difficulty: 0"), "tess")
    _, v1 = studio.save_persona(LAPTOP, "tess")
    edited = LAPTOP.replace("name: Dana Whitfield", "name: Dana W. Whitfield")
    _, v2 = studio.save_persona(edited, "tess")
    assert (v1, v2) == (1, 2)
    assert studio.persona_yaml("damaged-laptop", 1) == LAPTOP
    assert studio.persona_yaml("damaged-laptop") == edited
    assert [v.created_by for v in studio.persona_versions("damaged-laptop")] == ["tess", "tess"]
    with pytest.raises(InvalidValue, match="no version 7"):
        studio.persona_yaml("damaged-laptop", 7)


def test_sessions_keep_the_version_they_ran_with(
    studio: StudioService, library: PersonaLibrary
) -> None:
    store = studio.store
    candidates = CandidateService(store, SETTINGS, library)
    token = store.create_invite("damaged-laptop", "practice", attempts=2)
    first, opening = candidates.start(token)
    assert "Lumen 14" in opening.text
    data = yaml.safe_load(LAPTOP)
    data["lines"]["opening"] = ["NEW VERSION opening about my {product}."]
    persona, _ = studio.save_persona(yaml.safe_dump(data, sort_keys=False), "tess")
    # the running session carries on with its own version...
    list(candidates.send(token, first.id, scripts.GOOD[0]))
    view = candidates.view(token)
    assert view.persona.content_hash == first.persona_version != persona.content_hash
    candidates.end(token, first.id)
    # ...and a new session gets the new version
    second, opening = candidates.start(token)
    assert opening.text.startswith("NEW VERSION opening")
    assert second.persona_version == persona.content_hash
    candidates.close()


def test_duplicate_creates_a_new_persona_candidates_can_face(
    studio: StudioService, library: PersonaLibrary
) -> None:
    text = studio.duplicate("damaged-laptop", "damaged-tablet")
    assert text.startswith(
        "# damaged-tablet: a copy of damaged-laptop, made in the trainer studio."
    )
    assert "\nid: damaged-tablet\n" in text and "The reference persona" not in text
    with pytest.raises(InvalidValue, match="already exists"):
        studio.duplicate("damaged-laptop", "cancelled-flight")
    studio.save_persona(text, "tess")
    assert "damaged-tablet" in studio.catalog.persona_ids()
    candidates = CandidateService(studio.store, SETTINGS, library)
    token = studio.store.create_invite("damaged-tablet", "practice")
    info, _ = candidates.start(token)
    assert info.persona_id == "damaged-tablet"
    candidates.close()


def test_a_saved_rubric_grades_new_sessions(studio: StudioService, library: PersonaLibrary) -> None:
    text = studio.rubric_yaml("default").replace("pass_mark: 70", "pass_mark: 99")
    _, bad = studio.check_rubric(text.replace("weight: 1.0", "weight: heavy", 1))
    assert any("weight: expected a number" in p for p in bad.problems)
    rubric, version = studio.save_rubric(text, "tess")
    assert version == 1
    candidates = CandidateService(studio.store, SETTINGS, library)
    token = studio.store.create_invite("damaged-laptop", "practice")
    info, _ = candidates.start(token)
    for message in scripts.GOOD:
        list(candidates.send(token, info.id, message))
    candidates.wait_for_grading()
    _, report = candidates.result(token, info.id)
    assert report is not None and report["pass_mark"] == 99
    assert report["provenance"]["rubric_hash"] == rubric.content_hash
    candidates.close()


def test_test_drive_shows_mood_and_acts(studio: StudioService) -> None:
    persona, _ = studio.check_persona(LAPTOP)
    assert persona is not None
    convo = studio.test_drive(persona)
    turn = convo.say(scripts.GOOD[1])
    assert turn.mood is not None and turn.released == ["photos"]
    assert ActKind.ask_fact in {a.kind for a in convo.turns[-2].acts or []}
    assert studio.store.versions("persona") == []  # nothing is stored by a test drive
