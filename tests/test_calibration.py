"""Calibration: the reader's per-message judgements, the published figures (measured on the
half of the real corpora the reader never saw), the labelled transcripts, the fit's
reproducibility, and the LLM path."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from grading.calibration import part_of, reader_empathy, reader_tone
from roleplay.faces.cli import main
from roleplay.testing import FakeChatServer, FakeReply
from roleplay.understanding import local_reader
from roleplay.understanding.classifiers import Heads, model_dir
from roleplay.understanding.fit import half


def test_split_is_the_readers_own_and_about_half() -> None:
    texts = [f"message number {i}" for i in range(2000)]
    parts = [part_of(t) for t in texts]
    assert parts == ["test" if half(t) == 1 else "train" for t in texts]
    assert 0.45 < parts.count("test") / len(texts) < 0.55


def test_per_message_judgements_point_the_right_way() -> None:
    assert reader_tone("Could you please take a look? Thanks so much!") > 0.8
    assert reader_tone("Stop whining, it's not my problem.") < 0.2
    strong = reader_empathy("I'm so sorry you're going through this, that sounds exhausting.")
    none = reader_empathy("Your order ships on Tuesday.")
    assert strong > 0.5 > 0.2 > none


def test_shipped_reader_records_where_its_weights_came_from() -> None:
    report = Heads.report()
    fitted = report["acts"]["fitted_on"]
    assert fitted["written"] > 1000 and fitted["sgd_train"] > 0
    assert fitted["politeness_top_quarter"] > 0
    assert "held out" in report["split"]
    provenance = (model_dir() / "PROVENANCE.md").read_text()
    for licence in ("Apache-2.0", "CC BY-SA 4.0"):
        assert licence in provenance
    encoder = hashlib.sha256((model_dir() / "encoder" / "model.safetensors").read_bytes())
    assert encoder.hexdigest() in provenance


def test_fit_reproduces_the_shipped_reader(shared_data: Path, tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "roleplay.understanding.fit",
            "--data",
            str(shared_data),
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    shipped = np.load(model_dir() / "classifiers.npz")
    refit = np.load(tmp_path / "classifiers.npz")
    assert sorted(shipped.files) == sorted(refit.files)
    for name in shipped.files:
        if shipped[name].dtype.kind in "fc":
            np.testing.assert_allclose(refit[name], shipped[name], rtol=1e-4, atol=1e-5)
        else:
            assert (refit[name] == shipped[name]).all(), name


def test_published_figures_on_rows_the_reader_never_saw(shared_data: Path) -> None:
    result = CliRunner().invoke(main, ["calibrate", "--data", str(shared_data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    pol, emp = report["politeness"], report["empathy"]
    assert report["engine"] == "evidence" and report["reader"] == local_reader().name
    assert pol["train"]["n"] + pol["n"] == 4353 and emp["train"]["n"] + emp["n"] == 3084
    # out of domain (Wikipedia requests, Reddit replies): above chance, as the README says
    assert pol["spearman"] > 0.15 and emp["auc_0_vs_2"] > 0.65
    held = report["reader_held_out"]
    assert held["courteous_false_positive_rate"]["neutral_written"]["texts"] > 300


def test_labelled_transcripts_verdicts(shared_data: Path) -> None:
    """The QA lead's 24 transcripts: the verdict targets of issue 11."""
    folder = shared_data / "labelled_transcripts"
    result = CliRunner().invoke(main, ["calibrate", "--transcripts", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    fig = json.loads(result.stdout)
    assert fig["transcripts"] == 24
    assert fig["wrong"] <= 2 and fig["needs_review"] <= 4 and fig["good_failed"] == 0, fig


def test_markdown_table(shared_data: Path) -> None:
    result = CliRunner().invoke(main, ["calibrate", "--data", str(shared_data), "--sample", "300"])
    assert result.exit_code == 0
    assert "| tone (politeness, n=300) | quartile accuracy |" in result.stdout
    assert f"reader `{local_reader().name}`" in result.stdout


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
