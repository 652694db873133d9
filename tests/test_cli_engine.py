"""`roleplay chat` and `roleplay simulate` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from roleplay.config import Settings
from roleplay.core.transcript import Transcript
from roleplay.faces.cli import main
from roleplay.services.container import Services
from roleplay.testing import FakeChatServer, FakeReply
from tests import scripts


def stored(home: Path) -> list[tuple[str, str, Transcript]]:
    """Every stored session as the reviewer dashboard sees it: (candidate, source, transcript)."""
    services = Services(Settings.from_env({"ROLEPLAY_HOME": str(home)}))
    try:
        rows = services.review.rows(sort="date", descending=False)
        return [(r.candidate, r.source, services.store.transcript(r.id)) for r in rows]
    finally:
        services.close()


def script_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "script.txt"
    path.write_text("# a comment\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_simulate_prints_the_transcript_and_outcome(tmp_path: Path) -> None:
    path = script_file(tmp_path, scripts.GOOD)
    result = CliRunner().invoke(
        main, ["simulate", "--persona", "damaged-laptop", "--script", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("You: ") == len(scripts.GOOD)
    assert "released photos" in result.output
    assert result.output.rstrip().endswith("Outcome: resolved")


def test_simulate_json_is_the_interchange_format(tmp_path: Path) -> None:
    path = script_file(tmp_path, scripts.RUDE)
    result = CliRunner().invoke(
        main,
        ["simulate", "--persona", "damaged-laptop", "--script", str(path), "--json", "--seed", "4"],
    )
    data = json.loads(result.output)
    assert data["version"] == 1 and data["persona"] == "damaged-laptop"
    assert data["outcome"] in ("escalated", "abandoned")
    assert {t["speaker"] for t in data["turns"]} == {"customer", "candidate"}
    assert "mood" in data["turns"][1] and "acts" in data["turns"][1]


def test_simulate_when_the_script_runs_out(tmp_path: Path) -> None:
    path = script_file(tmp_path, scripts.GOOD[:1])
    result = CliRunner().invoke(
        main, ["simulate", "--persona", "damaged-laptop", "--script", str(path)]
    )
    assert "Outcome: unfinished (script ran out)" in result.output


def test_simulate_errors_are_clear(tmp_path: Path) -> None:
    missing = CliRunner().invoke(
        main, ["simulate", "--persona", "damaged-laptop", "--script", str(tmp_path / "nope.txt")]
    )
    assert missing.exit_code == 2
    assert "nope.txt:(file): no such file" in missing.output
    unknown = CliRunner().invoke(
        main,
        ["simulate", "--persona", "damaged-laptp", "--script", str(script_file(tmp_path, ["hi"]))],
    )
    assert unknown.exit_code == 2
    assert "unknown persona 'damaged-laptp'" in unknown.output
    assert "did you mean damaged-laptop" in unknown.output
    assert "Traceback" not in missing.output + unknown.output


def test_chat_in_the_terminal_is_stored_for_the_reviewers(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["chat", "--persona", "damaged-laptop", "--candidate", "Ann"],
        input="\n".join(scripts.GOOD) + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Policy card:" in result.output
    assert "Conversation ended: resolved. Stored as session 1." in result.output
    [(candidate, source, transcript)] = stored(tmp_path / "home")
    assert (candidate, source) == ("Ann", "cli-chat")
    assert transcript.outcome == "resolved"
    assert len(transcript.candidate_turns()) == len(scripts.GOOD)


def test_simulated_sessions_are_stored_and_graded(tmp_path: Path) -> None:
    path = script_file(tmp_path, scripts.GOOD)
    result = CliRunner().invoke(
        main, ["simulate", "--persona", "damaged-laptop", "--script", str(path)]
    )
    assert result.exit_code == 0, result.output
    [(candidate, source, transcript)] = stored(tmp_path / "home")
    assert source == "cli-simulate" and candidate == "simulate script.txt"
    assert transcript.outcome == "resolved"
    services = Services(Settings.from_env({"ROLEPLAY_HOME": str(tmp_path / "home")}))
    try:
        report = services.review.report(1)
        assert report is not None and report.passed
    finally:
        services.close()


def test_chat_ends_cleanly_on_end_of_input() -> None:
    result = CliRunner().invoke(main, ["chat", "--persona", "damaged-laptop"], input="")
    assert result.exit_code == 0
    assert "Conversation ended: candidate_closed" in result.output


def test_chat_after_a_backend_failure_retries_then_sends_the_new_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeChatServer() as server:
        monkeypatch.setenv("ROLEPLAY_LLM_BASE_URL", server.url)
        monkeypatch.setenv("ROLEPLAY_PERSONA_MODEL", "fake")
        monkeypatch.setenv("ROLEPLAY_LLM_MAX_RETRIES", "0")
        server.enqueue(
            "My laptop arrived broken. Order A1042.",
            FakeReply(status=503),
            "Fine, I'm listening.",
            "Okay, what now?",
        )
        result = CliRunner().invoke(
            main,
            ["chat", "--persona", "damaged-laptop"],
            input="Hello Dana, I'm sorry.\nI'm checking order A1042 now.\n/end\n",
        )
        server.assert_complete()
    assert result.exit_code == 0, result.output
    assert "HTTP 503" in result.output and "type /retry" in result.output
    assert "Fine, I'm listening." in result.output and "Okay, what now?" in result.output
    [(_, _, transcript)] = stored(tmp_path / "home")
    assert [t.text for _, t in transcript.candidate_turns()] == [
        "Hello Dana, I'm sorry.",
        "I'm checking order A1042 now.",
    ]
    assert transcript.engine == "llm" and transcript.model == "fake"
