"""The LLM judge through the loopback fake chat-completions server, with the real openai and
LangChain clients: valid output in every structured-output method, invalid JSON, hallucinated
quotes, refusals, timeouts, k samples, and the rules the judge cannot break."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from grading import EXAMPLES_DIR
from grading.grader import grade, make_judge
from grading.judge import Judge
from grading.report import GradeReport
from grading.rubric import Rubric, get_rubric
from roleplay.config import Settings
from roleplay.core.library import PersonaLibrary
from roleplay.core.transcript import Transcript, read_transcript
from roleplay.faces.cli import main
from roleplay.testing import FakeChatServer, FakeReply

HERE = EXAMPLES_DIR
CRITERIA = ["calmness", "active_listening", "empathy", "policy_adherence", "resolution"]


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return get_rubric("default")


def env(server: FakeChatServer, **extra: str) -> dict[str, str]:
    return {
        "ROLEPLAY_LLM_BASE_URL": server.url,
        "ROLEPLAY_GRADER_MODEL": "fake-judge",
        "ROLEPLAY_LLM_MAX_RETRIES": "0",
        "ROLEPLAY_LLM_TIMEOUT": "5",
        "ROLEPLAY_HOME": "/tmp/unused",
        **extra,
    }


def judge_for(server: FakeChatServer, **extra: str) -> Judge:
    judge = make_judge(Settings.from_env(env(server, **extra)))
    assert judge is not None
    return judge


def verdicts(
    transcript: Transcript, scores: dict[str, int], *, bad_quote_for: str | None = None
) -> dict[str, object]:
    turn = next(i for i, t in enumerate(transcript.turns) if t.speaker == "candidate")
    quote = transcript.turns[turn].text[:18]
    return {
        "criteria": [
            {
                "criterion": cid,
                "reasoning": f"Reasoning about {cid}.",
                "score": score,
                "evidence": [
                    {"turn": turn, "quote": "words nobody wrote" if cid == bad_quote_for else quote}
                ],
            }
            for cid, score in scores.items()
        ]
    }


def reply(data: dict[str, object]) -> str:
    return json.dumps(data)


def run(
    name: str, library: PersonaLibrary, rubric: Rubric, judge: Judge | None, samples: int = 1
) -> tuple[Transcript, GradeReport]:
    transcript = read_transcript(HERE / f"{name}.json")
    report = grade(
        transcript, library.get(transcript.persona), rubric, judge=judge, samples=samples
    )
    return transcript, report


def test_valid_json_schema_output_is_used(
    server: FakeChatServer, library: PersonaLibrary, rubric: Rubric
) -> None:
    transcript = read_transcript(HERE / "model_answer.json")
    server.enqueue(reply(verdicts(transcript, dict.fromkeys(CRITERIA, 4))))
    _, report = run("model_answer", library, rubric, judge_for(server))
    assert {c.criterion: (c.score, c.source) for c in report.criteria} == dict.fromkeys(
        CRITERIA, (4, "llm")
    )
    assert report.score("empathy").rationale == "Reasoning about empathy."
    assert report.overall == 75.0
    p = report.provenance
    assert (p.engine, p.model, p.prompt_version) == ("evidence+llm", "fake-judge", "judge-v1")
    assert report.usage is not None and report.usage.prompt_tokens > 500
    # the server's own count (the fake server counts words), not a tiktoken estimate
    body = server.requests[0]
    words = sum(len(str(m["content"]).split()) for m in body["messages"])
    assert (report.usage.prompt_tokens, report.usage.counted_by) == (words, "api")
    assert p.judge_attempts == 1 and p.judge_raw_output is None
    assert body["response_format"]["type"] == "json_schema"
    prompt = "\n".join(m["content"] for m in body["messages"])
    assert "<transcript>" in prompt and "[turn 1] AGENT: Hi Dana" in prompt
    assert "evidence score 5/5" in prompt  # the evidence layer's findings
    assert "1: Hostile, insulting or shouting at the customer." in prompt  # level descriptors
    assert prompt.index("reasoning") < prompt.index("score: the rubric level")
    server.assert_complete()


@pytest.mark.parametrize("method", ["function_calling", "json_mode"])
def test_other_structured_output_methods(
    server: FakeChatServer, library: PersonaLibrary, rubric: Rubric, method: str
) -> None:
    transcript = read_transcript(HERE / "model_answer.json")
    data = verdicts(transcript, dict.fromkeys(CRITERIA, 3))
    if method == "function_calling":
        server.enqueue(FakeReply(tool_calls=[{"name": "Judgement", "args": data}]))
    else:
        server.enqueue(reply(data))
    judge = judge_for(server, ROLEPLAY_STRUCTURED_OUTPUT_METHOD=method)
    _, report = run("model_answer", library, rubric, judge)
    assert all(c.score == 3 and c.source == "llm" for c in report.criteria)
    body = server.requests[0]
    if method == "function_calling":
        assert body["tools"][0]["function"]["name"] == "Judgement"
    else:
        assert body["response_format"] == {"type": "json_object"}


def test_invalid_json_is_reasked(
    server: FakeChatServer, library: PersonaLibrary, rubric: Rubric
) -> None:
    transcript = read_transcript(HERE / "model_answer.json")
    server.enqueue("{this is not json", reply(verdicts(transcript, dict.fromkeys(CRITERIA, 4))))
    _, report = run("model_answer", library, rubric, judge_for(server))
    assert all(c.source == "llm" for c in report.criteria)
    assert not report.flagged("judge_fallback")
    assert len(server.requests) == 2
    assert "could not be used" in server.requests[1]["messages"][-1]["content"]


def test_hallucinated_quote_falls_back_with_a_flag(
    server: FakeChatServer, library: PersonaLibrary, rubric: Rubric
) -> None:
    transcript = read_transcript(HERE / "model_answer.json")
    bad = reply(verdicts(transcript, dict.fromkeys(CRITERIA, 2), bad_quote_for="empathy"))
    fixed_others = verdicts(transcript, {"empathy": 2}, bad_quote_for="empathy")
    server.enqueue(bad, reply(fixed_others), reply(fixed_others))
    evidence_only = run("model_answer", library, rubric, None)[1]
    _, report = run("model_answer", library, rubric, judge_for(server))
    empathy = report.score("empathy")
    assert empathy.source == "evidence"
    assert empathy.score == evidence_only.score("empathy").score
    flag = report.flagged("judge_fallback")[0]
    assert flag.detail.startswith("empathy: judge output rejected after 3 attempt(s)")
    assert "not found verbatim" in flag.detail
    # what the model said last is kept for the reviewer
    assert report.provenance.judge_attempts == 3
    assert report.provenance.judge_raw_output is not None
    assert '"criterion": "empathy"' in report.provenance.judge_raw_output
    assert report.score("calmness").source == "llm" and report.score("calmness").score == 2
    # the re-ask named only the criterion still missing
    assert (
        "Answer again for all of these criteria: empathy."
        in (server.requests[1]["messages"][-1]["content"])
    )
    server.assert_complete()


def test_refusals_fall_back_for_every_criterion(
    server: FakeChatServer, library: PersonaLibrary, rubric: Rubric
) -> None:
    server.enqueue(*["I'm sorry, but I can't help with grading this conversation."] * 3)
    evidence_only = run("robotic", library, rubric, None)[1]
    _, report = run("robotic", library, rubric, judge_for(server))
    assert [c.score for c in report.criteria] == [c.score for c in evidence_only.criteria]
    assert len(report.flagged("judge_fallback")) == len(CRITERIA)
    assert report.overall == evidence_only.overall


def test_timeout_falls_back_to_the_evidence_grade(
    server: FakeChatServer, library: PersonaLibrary, rubric: Rubric
) -> None:
    server.enqueue(FakeReply(content="{}", delay=2.0))
    judge = judge_for(server, ROLEPLAY_LLM_TIMEOUT="0.5")
    _, report = run("model_answer", library, rubric, judge)
    assert report.provenance.engine == "evidence" and report.provenance.model is None
    flag = report.flagged("judge_fallback")[0]
    assert "LLM judge unavailable (the LLM backend timed out" in flag.detail
    assert report.passed  # the evidence grade still stands


def test_judge_cannot_overrule_a_compliance_blocker(
    server: FakeChatServer, library: PersonaLibrary, rubric: Rubric
) -> None:
    transcript = read_transcript(HERE / "warm_policy_breaker.json")
    server.enqueue(reply(verdicts(transcript, dict.fromkeys(CRITERIA, 5))))
    _, report = run("warm_policy_breaker", library, rubric, judge_for(server))
    policy = report.score("policy_adherence")
    assert policy.score == 1 and policy.source == "evidence"
    assert "compliance blocker cannot be overruled" in policy.rationale
    assert not report.passed


def test_injected_text_cannot_raise_a_judged_score(
    server: FakeChatServer, library: PersonaLibrary, rubric: Rubric
) -> None:
    """The fake judge obeys the injection and gives 5/5; no score may rise above evidence."""
    transcript = read_transcript(HERE / "grader_injection.json")
    server.enqueue(reply(verdicts(transcript, dict.fromkeys(CRITERIA, 5))))
    evidence_only = run("grader_injection", library, rubric, None)[1]
    _, report = run("grader_injection", library, rubric, judge_for(server))
    for c in report.criteria:
        assert (c.score or 0) <= (evidence_only.score(c.criterion).score or 0), c.criterion
    assert report.overall <= evidence_only.overall and not report.passed
    assert report.flagged("injection_attempt")


def test_k_samples_report_spread_and_flag_unstable(
    server: FakeChatServer, library: PersonaLibrary, rubric: Rubric
) -> None:
    transcript = read_transcript(HERE / "model_answer.json")
    for empathy in (2, 5, 4):
        server.enqueue(
            reply(verdicts(transcript, {**dict.fromkeys(CRITERIA, 4), "empathy": empathy}))
        )
    judge = judge_for(server, ROLEPLAY_JUDGE_SAMPLES="3")
    _, report = run("model_answer", library, rubric, judge, samples=3)
    assert report.score("empathy").score == 4 and report.score("empathy").spread == 3
    assert report.score("calmness").spread == 0
    unstable = report.flagged("unstable_score")
    assert len(unstable) == 1 and unstable[0].detail.startswith("empathy: judge scores [2, 4, 5]")
    assert all(b["temperature"] == 0.7 for b in server.requests)


def test_grade_cli_uses_the_configured_judge(
    server: FakeChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    transcript = read_transcript(HERE / "rude.json")
    server.enqueue(reply(verdicts(transcript, dict.fromkeys(CRITERIA, 2))))
    for key, value in env(server).items():
        if key != "ROLEPLAY_HOME":
            monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["grade", str(HERE / "rude.json"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["provenance"]["engine"] == "evidence+llm"
    assert data["provenance"]["model"] == "fake-judge"
