"""Written communication: the chat-and-email rubric scores spelling, mechanics and clarity in
the persona's language, cites the words, never counts names, products, order numbers or the
customer's own words, and the LLM judge can add to it but not excuse a misspelling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from grading import EXAMPLES_DIR, writing
from grading.grader import grade
from grading.report import GradeReport, to_feedback_html
from grading.rubric import get_rubric
from roleplay.config import Settings
from roleplay.core.library import PersonaLibrary
from roleplay.core.transcript import Transcript, read_transcript
from roleplay.faces.cli import main
from roleplay.faces.web.reviewer_page import session_view
from roleplay.services.container import Services
from roleplay.testing import FakeChatServer
from tests.scripts import talk
from tests.test_judge import env

SLOPPY = {
    1: "hi dana, im realy sorry ur laptop came broken, thats so anoying when u need it for work",
    3: "i will take care of this personaly. can u send me a foto of the damage? then i can "
    "start teh replacement",
    5: "perfect thx!! as soon as the photos come in i ship a replacement, it goes out within "
    "2 buisness days. i cant promise express shipping but i will email u the tracking number",
    7: "thx Dana. u will recieve a confirmation email in a few minutes. anything else?",
}


def model_answer() -> Transcript:
    return read_transcript(EXAMPLES_DIR / "model_answer.json")


def sloppy_answer() -> Transcript:
    transcript = model_answer()
    for turn, text in SLOPPY.items():
        assert transcript.turns[turn].speaker == "candidate"
        transcript.turns[turn].text = text
    return transcript


def grade_with(transcript: Transcript, library: PersonaLibrary, rubric: str) -> GradeReport:
    return grade(transcript, library.get(transcript.persona), get_rubric(rubric))


def test_the_chat_rubric_scores_clean_writing_high_and_text_speak_low(
    library: PersonaLibrary,
) -> None:
    clean = grade_with(model_answer(), library, "chat-email")
    sloppy = grade_with(sloppy_answer(), library, "chat-email")
    written = clean.score("written_communication")
    assert written.score == 5 and written.source == "evidence"
    assert "no spelling or mechanical slips" in written.rationale
    bad = sloppy.score("written_communication")
    assert bad.score == 1
    flagged = {(e.turn, e.quote) for e in bad.evidence}
    assert {(3, "teh"), (1, "ur")} <= flagged
    realy = next(e for e in bad.evidence if e.quote == "realy")
    assert realy.note == "spelling: did you mean “really”?"
    assert "misspellings" in bad.rationale and "fix “" in bad.rationale
    # every cited word is in the turn it names
    for e in bad.evidence:
        assert e.quote in sloppy_answer().turns[e.turn].text
    assert sloppy.overall < clean.overall


def test_the_default_rubric_keeps_its_five_criteria(library: PersonaLibrary) -> None:
    report = grade_with(sloppy_answer(), library, "default")
    assert [c.criterion for c in report.criteria] == [
        "calmness",
        "active_listening",
        "empathy",
        "policy_adherence",
        "resolution",
    ]
    chat = get_rubric("chat-email")
    assert [c.id for c in chat.criteria][-1] == "written_communication"


def test_names_products_numbers_links_and_the_customers_words_are_not_errors() -> None:
    turns = {
        1: "Hello Ms Okafor, I have found order A-48213 for your Zyntrobook Pro and the "
        "refund of $45.99 is on its way.",
        3: "You can reach our team at help@nordbank-support.example or "
        "https://shop.example/returns, and your username kari.n stays the same.",
        5: "Sharma, I understand the frothenizer stopped working after two days.",
    }
    found = writing.check(turns, "en", known={"frothenizer"})
    assert found is not None
    assert [i.quote for i in found.issues] == []
    # the same made-up word is an error when neither customer nor persona used it
    found = writing.check({5: turns[5]}, "en", known=set())
    assert found is not None and [i.quote for i in found.issues] == ["frothenizer"]


def test_mechanics_a_spell_checker_cannot_see() -> None:
    found = writing.check(
        {1: "Thank you for waiting. we have sent the the parcel today!!! i hope it helps."},
        "en",
        set(),
    )
    assert found is not None
    assert [(i.kind, i.quote, i.fix) for i in found.issues] == [
        ("capital", "we", "We"),
        ("repeat", "the the", "the"),
        ("capital", "i", "I"),
        ("punctuation", "!!!", "!"),
    ]


def test_norwegian_is_checked_with_a_norwegian_dictionary(library: PersonaLibrary) -> None:
    persona = library.get("forsinket-pakke")
    clean = {
        1: "Hei, og takk for at du tok kontakt. Jeg beklager at pakken er forsinket, og jeg "
        "forstår at det er stressende når gaven skal fram før lørdag.",
        3: "Jeg har sjekket sporingsnummeret, og pakken står på terminalen i Oslo. Jeg sender "
        "den videre med ekspress i dag, og du får en bekreftelse på e-post.",
    }
    sloppy = {
        1: "hei, beklgaer at pakken e forsinka. vi sjekkke d med terminalen",
        3: "den kommer sikkert imorra elns, bare vent litt",
    }
    assert writing.assess(clean, persona.language, set())[0] == 5
    score, _, evidence = writing.assess(sloppy, persona.language, set())
    assert score is not None and score <= 2
    fixes = {e.quote: e.note for e in evidence}
    assert fixes["beklgaer"] == "spelling: did you mean “beklager”?"
    assert "hei" in fixes  # a sentence without its capital


def test_a_language_without_a_dictionary_is_not_assessed_not_guessed(
    library: PersonaLibrary,
) -> None:
    transcript = model_answer()
    persona = library.get(transcript.persona).model_copy(update={"language": "de"})
    report = grade(transcript, persona, get_rubric("chat-email"))
    written = report.score("written_communication")
    assert written.score is None and "no dictionary for the language 'de'" in written.rationale
    assert any(f.kind == "not_assessed" for f in report.flags)
    default = grade(transcript, persona, get_rubric("default"))
    assert report.overall == default.overall  # the other criteria carry the grade


def test_too_little_writing_is_not_assessed() -> None:
    score, why, _ = writing.assess({1: "Sorry about that, sending a new one."}, "en", set())
    assert score is None and why == "not assessed: only 7 words written"


def test_the_practice_report_says_what_to_fix(library: PersonaLibrary) -> None:
    page = to_feedback_html(grade_with(sloppy_answer(), library, "chat-email"))
    assert "Written communication" in page
    assert "What to fix in your writing" in page
    assert "<li>“realy”: spelling: did you mean “really”?</li>" in page


def test_an_invite_for_a_chat_desk_grades_writing_and_the_reviewer_sees_the_words() -> None:
    """A hiring team picks the chat-and-email rubric for an invite; the session is graded
    with it and the reviewer's transcript marks each flagged word with what is wrong."""
    result = CliRunner().invoke(
        main,
        [
            "invite",
            "--persona",
            "damaged-laptop",
            "--mode",
            "assessment",
            "--rubric",
            "chat-email",
            "--candidate",
            "Sam",
        ],
    )
    assert result.exit_code == 0, result.output
    token = parse_qs(urlparse(result.output.strip()).query)["token"][0]
    services = Services(Settings.from_env())
    try:
        plain = services.invites.create("damaged-laptop", "assessment").link
        svc = services.candidates
        sessions = {}
        for name, tok in (("chat", token), ("phone", parse_qs(urlparse(plain).query)["token"][0])):
            info, _ = svc.start(tok)
            talk(svc, tok, info.id, list(SLOPPY.values()))
            if services.store.session(info.id).status == "active":
                svc.end(tok, info.id)
            sessions[name] = info.id
        svc.wait_for_grading()
        chat = services.review.report(sessions["chat"])
        phone = services.review.report(sessions["phone"])
        assert chat is not None and phone is not None
        assert chat.provenance.rubric_id == "chat-email"
        assert phone.provenance.rubric_id == "default"
        assert "written_communication" not in [c.criterion for c in phone.criteria]
        assert (chat.score("written_communication").score or 5) <= 2
        page = session_view(services.review, sessions["chat"])
        assert '<mark class="writing" title="spelling: did you mean “really”?">realy</mark>' in page
        printable = services.review.session_html(sessions["chat"])
        assert '<mark class="writing"' in printable
    finally:
        services.close()
    result = CliRunner().invoke(
        main, ["invite", "--persona", "damaged-laptop", "--mode", "practice", "--rubric", "nope"]
    )
    assert result.exit_code != 0 and "unknown rubric 'nope'" in result.output
    assert "chat-email" in result.output


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer() as srv:
        yield srv


def _judged(transcript: Transcript, score: int, reasoning: str) -> str:
    turn = 3
    quote = transcript.turns[turn].text.split(".")[0]
    scores = {c.id: 4 for c in get_rubric("chat-email").criteria}
    scores["written_communication"] = score
    return json.dumps(
        {
            "criteria": [
                {
                    "criterion": cid,
                    "reasoning": reasoning if cid == "written_communication" else "Fine.",
                    "score": s,
                    "evidence": [{"turn": turn, "quote": quote}],
                }
                for cid, s in scores.items()
            ]
        }
    )


def test_the_judge_adds_grammar_but_cannot_excuse_misspellings(
    server: FakeChatServer, library: PersonaLibrary
) -> None:
    from grading.grader import make_judge

    judge = make_judge(Settings.from_env(env(server)))
    assert judge is not None
    rubric = get_rubric("chat-email")
    sloppy = sloppy_answer()
    server.enqueue(_judged(sloppy, 5, "Reads well."))
    report = grade(sloppy, library.get(sloppy.persona), rubric, judge=judge)
    written = report.score("written_communication")
    assert (written.score, written.source) == (1, "evidence")
    assert "(judge: Reads well.)" in written.rationale
    assert any(e.quote == "teh" for e in written.evidence)

    clean = model_answer()
    server.enqueue(_judged(clean, 3, "Stiff, with a run-on third message."))
    report = grade(clean, library.get(clean.persona), rubric, judge=judge)
    written = report.score("written_communication")
    assert (written.score, written.source) == (3, "llm")
    assert written.rationale.startswith("Stiff, with a run-on third message.")
    assert "spelling check: no spelling or mechanical slips" in written.rationale
    prompt = "\n".join(m["content"] for m in server.requests[0]["messages"])
    assert "written_communication (Written communication" in prompt
    server.assert_complete()
