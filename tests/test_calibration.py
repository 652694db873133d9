"""Calibration: the statistics, the per-message judgements, the published figures (measured on
the held-out part of the real corpora), the fit script's reproducibility, and the LLM path."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from grading.calibration import part_of, ranks, roc_auc, spearman
from grading.tone import empathy, politeness, politeness_model
from roleplay.faces.cli import main
from roleplay.testing import FakeChatServer, FakeReply


def test_statistics_on_known_values() -> None:
    assert ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert roc_auc([3, 4], [1, 2]) == 1.0
    assert roc_auc([1, 2], [3, 4]) == 0.0
    assert roc_auc([1, 1], [1, 1]) == 0.5


def test_split_is_fixed_and_about_thirty_percent() -> None:
    ids = [str(i) for i in range(2000)]
    parts = [part_of(i) for i in ids]
    assert parts == [part_of(i) for i in ids]
    assert 0.26 < parts.count("test") / len(ids) < 0.34


def test_per_message_judgements_point_the_right_way() -> None:
    assert politeness("Could you please take a look? Thanks so much!") > 0.8
    assert politeness("Why the hell would you delete that? This is stupid.") < 0.2
    strong = empathy("I'm so sorry you're going through this. Sending hugs.")
    weak = empathy("I understand how that goes. Hang in there.")
    none = empathy("Your order ships on Tuesday.")
    assert strong > weak > none == 0


def test_shipped_weights_record_where_they_came_from() -> None:
    model = politeness_model()
    assert "Apache-2.0" in model["source"] and "held out" in model["split"]
    assert model["figures"]["test"]["quartile_accuracy"] >= 0.83
    assert model["fitted_by"] == "python -m grading.fit_politeness"


def test_fit_script_reproduces_the_shipped_weights(shared_data: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "model.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grading.fit_politeness",
            "--data",
            str(shared_data),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    assert json.loads(out.read_text())["weights"] == politeness_model()["weights"]


def test_published_figures_meet_the_targets_on_held_out_rows(shared_data: Path) -> None:
    result = CliRunner().invoke(main, ["calibrate", "--data", str(shared_data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    pol, emp = report["politeness"], report["empathy"]
    assert report["engine"] == "evidence" and report["split"]["held_out_percent"] == 30
    assert pol["n"] == 1294 and emp["n"] == 941  # the held-out parts
    assert pol["quartile_accuracy"] >= 0.83
    assert emp["spearman"] >= 0.45 and emp["auc_0_vs_2"] >= 0.88
    assert pol["train"]["n"] + pol["n"] == 4353 and emp["train"]["n"] + emp["n"] == 3084


def test_markdown_table(shared_data: Path) -> None:
    result = CliRunner().invoke(main, ["calibrate", "--data", str(shared_data), "--sample", "300"])
    assert result.exit_code == 0
    assert "| tone (politeness, n=300) | quartile accuracy |" in result.stdout
    assert "engine `evidence`" in result.stdout


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["calibrate", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "politeness_wikipedia.csv:(file): no such file; pass --data" in result.output
    assert "Traceback" not in result.output


def _fake_llm(body: dict[str, Any]) -> FakeReply:
    """Rates messages (a crude but real signal) and judges transcripts, as a model would."""
    prompt = body["messages"][-1]["content"]
    if "<messages>" in prompt:
        items = re.findall(r"^\[(\d+)\] (.*)$", prompt, flags=re.M)
        ratings = [
            {
                "id": int(i),
                "politeness": 5 if re.search(r"please|thank", t, re.I) else 2,
                "empathy": 2 if re.search(r"sorry", t, re.I) else 0,
            }
            for i, t in items
        ]
        return FakeReply(content=json.dumps({"ratings": ratings}))
    ids = re.findall(r"Grade these criteria: ([^.\n]+)\.", prompt)[-1].split(", ")
    turn, quote = re.search(r"\[turn (\d+)\] AGENT: (.{1,12})", prompt).groups()  # type: ignore[union-attr]
    return FakeReply(
        content=json.dumps(
            {
                "criteria": [
                    {
                        "criterion": c,
                        "reasoning": "ok",
                        "score": 4,
                        "evidence": [{"turn": int(turn), "quote": quote}],
                    }
                    for c in ids
                ]
            }
        )
    )


def test_llm_judge_is_measured_with_the_same_figures(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeChatServer(default=_fake_llm) as server:
        monkeypatch.setenv("ROLEPLAY_LLM_BASE_URL", server.url)
        monkeypatch.setenv("ROLEPLAY_GRADER_MODEL", "fake-judge")
        result = CliRunner().invoke(
            main, ["calibrate", "--data", str(shared_data), "--json", "--sample", "60"]
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["engine"] == "evidence+llm"
    llm = report["llm"]
    assert llm["model"] == "fake-judge" and llm["failed_ratings"] == 0
    assert llm["politeness"]["n"] == 60 and llm["empathy"]["n"] == 60
    assert llm["empathy"]["auc_0_vs_2"] > 0.5  # "sorry" does carry signal
    stability = report["judge_stability"]
    assert stability["transcripts"] == 6 and stability["gradings_each"] == 3
    assert stability["max_spread"] == 0  # this fake judge is perfectly stable
