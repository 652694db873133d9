"""Against a real LLM endpoint: skipped unless ROLEPLAY_LIVE_TESTS=1 and the LLM settings in
.env.example are set (base URL and/or key, ROLEPLAY_PERSONA_MODEL, ROLEPLAY_GRADER_MODEL)."""

from __future__ import annotations

import pytest

from grading.grader import grade, make_judge
from grading.rubric import get_rubric
from roleplay.config import Settings
from roleplay.core.conversation import Conversation, make_actor
from roleplay.core.director import Outcome
from roleplay.core.persona import Persona
from tests import scripts
from tests.conftest import ORIGINAL_ENV

pytestmark = pytest.mark.live


@pytest.fixture
def live_settings() -> Settings:
    if ORIGINAL_ENV.get("ROLEPLAY_LIVE_TESTS") != "1":
        pytest.skip("set ROLEPLAY_LIVE_TESTS=1 and the LLM settings to run live tests")
    settings = Settings.from_env(ORIGINAL_ENV)
    if not (settings.persona_model and settings.grader_model):
        pytest.skip("set ROLEPLAY_PERSONA_MODEL and ROLEPLAY_GRADER_MODEL for live tests")
    return settings


def test_live_customer_stays_in_role_and_the_director_decides(
    live_settings: Settings, laptop: Persona
) -> None:
    convo = Conversation(laptop, make_actor(laptop, live_settings))
    convo.start()
    for message in [scripts.ATTACKS[1], *scripts.GOOD]:
        if convo.ended:
            break
        convo.say(message)
    assert convo.outcome == Outcome.resolved
    customer = [t for t in convo.transcript.turns if t.speaker == "customer"]
    assert all(t.source in ("llm", "fallback") for t in customer)
    assert convo.transcript.usage is not None and convo.transcript.usage.prompt_tokens > 0


def test_live_judge_grades_with_verbatim_evidence(live_settings: Settings, laptop: Persona) -> None:
    from grading import EXAMPLES_DIR
    from roleplay.core.transcript import read_transcript

    transcript = read_transcript(EXAMPLES_DIR / "warm_policy_breaker.json")
    report = grade(transcript, laptop, get_rubric("default"), judge=make_judge(live_settings))
    assert report.score("policy_adherence").score == 1 and not report.passed
    for c in report.criteria:
        for e in c.evidence:
            assert e.quote in transcript.turns[e.turn].text
