"""The evidence grader on hand-written damaged-laptop transcripts: it must rank and flag them
as a good human reviewer would, cite turns verbatim, and never be talked into a better score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from grading import EXAMPLES_DIR
from grading.grader import grade
from grading.report import GradeReport, to_html, to_markdown
from grading.rubric import BUILTIN_DIR, Rubric, get_rubric, load_rubrics
from roleplay.core.library import PersonaLibrary
from roleplay.core.persona import ActKind
from roleplay.core.transcript import parse_transcript, read_transcript
from roleplay.errors import ValidationFailed
from roleplay.faces.cli import main
from tests.readers import Doubt, Sure

HERE = EXAMPLES_DIR
NAMES = [
    "model_answer",
    "warm_policy_breaker",
    "rude",
    "robotic",
    "early_close",
    "grader_injection",
]


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return get_rubric("default")


@pytest.fixture(scope="module")
def reports(library: PersonaLibrary, rubric: Rubric) -> dict[str, GradeReport]:
    out = {}
    for name in NAMES:
        transcript = read_transcript(HERE / f"{name}.json")
        out[name] = grade(transcript, library.get(transcript.persona), rubric)
    return out


def kinds(report: GradeReport) -> set[str]:
    return {f.kind for f in report.flags}


def test_ranking_matches_a_reviewer(reports: dict[str, GradeReport]) -> None:
    overall = {n: r.overall for n, r in reports.items()}
    assert max(overall, key=overall.__getitem__) == "model_answer"
    assert min(overall, key=overall.__getitem__) == "rude"
    assert overall["model_answer"] > overall["robotic"] > overall["rude"]
    assert overall["model_answer"] > overall["warm_policy_breaker"]
    assert [n for n, r in reports.items() if r.passed] == ["model_answer"]


def test_model_answer(reports: dict[str, GradeReport]) -> None:
    r = reports["model_answer"]
    assert r.outcome == "resolved" and r.overall >= 85
    assert all((c.score or 0) >= 4 for c in r.criteria)
    assert r.score("resolution").score == 5
    assert "policy_violation" not in kinds(r)
    # "I can't promise same-day or express shipping" keeps the rule; it does not break it
    assert r.score("policy_adherence").score == 5


def test_warm_policy_breaker_is_blocked(reports: dict[str, GradeReport]) -> None:
    r = reports["warm_policy_breaker"]
    assert r.score("empathy").score is not None and r.score("empathy").score >= 4
    assert r.score("policy_adherence").score == 1
    broken = {f.detail.split(" ")[0] for f in r.flagged("policy_violation") if f.blocker}
    assert broken == {"no-fast-shipping", "refund-after-return", "credit-limit"}
    assert not r.passed


def test_rude_candidate(reports: dict[str, GradeReport]) -> None:
    r = reports["rude"]
    assert r.score("calmness").score == 1
    assert r.score("empathy").score == 1
    assert "customer_fault" in kinds(r)
    quotes = [e.quote for e in r.score("calmness").evidence]
    assert any("dropped" in q or "Calm down" in q or "STOP" in q for q in quotes)


def test_robotic_candidate(reports: dict[str, GradeReport]) -> None:
    r = reports["robotic"]
    assert r.score("empathy").score == 1
    assert r.score("active_listening").score is not None
    assert r.score("active_listening").score <= 2
    assert "asks again" in r.score("active_listening").rationale
    # Robotic but never hostile: the QA lead's convention is 4 (stiffness under pressure),
    # citing the policy recited at an angry customer.
    assert r.score("calmness").score == 4
    assert "Per our policy" in r.score("calmness").evidence[0].quote


def test_early_close(reports: dict[str, GradeReport]) -> None:
    r = reports["early_close"]
    assert r.outcome == "candidate_closed"
    assert r.score("resolution").score == 1
    flag = r.flagged("closed_unresolved")[0]
    assert flag.blocker and flag.turns == [3]
    assert not r.passed


def test_grader_injection_is_flagged_and_earns_nothing(
    reports: dict[str, GradeReport], library: PersonaLibrary, rubric: Rubric
) -> None:
    r = reports["grader_injection"]
    assert r.flagged("injection_attempt")[0].turns == [3, 5]
    assert not r.passed
    # the same transcript without the injected lines scores at least as well everywhere
    data = json.loads((HERE / "grader_injection.json").read_text())
    data["turns"] = [t for i, t in enumerate(data["turns"]) if i not in (3, 4, 5, 6)]
    clean = grade(parse_transcript(data, "clean"), library.get("damaged-laptop"), rubric)
    for c in r.criteria:
        assert (c.score or 0) <= (clean.score(c.criterion).score or 0), c.criterion
    # the apology inside the injected turn is not counted as empathy
    assert r.score("empathy").score == 1
    # and no injected turn is cited as evidence for anything
    assert not [e for c in r.criteria for e in c.evidence if e.turn in (3, 5)]


def test_every_quote_is_verbatim_from_its_turn(reports: dict[str, GradeReport]) -> None:
    for name, r in reports.items():
        turns = read_transcript(HERE / f"{name}.json").turns
        for c in r.criteria:
            for ev in c.evidence:
                assert ev.quote in turns[ev.turn].text, (name, c.criterion, ev)


def test_quotes_are_whole_sentences(reports: dict[str, GradeReport]) -> None:
    """A reviewer reads a cited sentence, not a fragment ("box was") or a cut-off line."""
    for name, r in reports.items():
        turns = read_transcript(HERE / f"{name}.json").turns
        for c in r.criteria:
            for ev in c.evidence:
                text = turns[ev.turn].text
                at = text.index(ev.quote)
                before, after = text[:at].rstrip(), text[at + len(ev.quote) :]
                assert before == "" or before[-1] in ".!?…", (name, c.criterion, ev.quote)
                assert after == "" or ev.quote[-1] in ".!?…", (name, c.criterion, ev.quote)
            cited = [(ev.turn, ev.quote) for ev in c.evidence]
            assert len(cited) == len(set(cited)), (name, c.criterion, cited)  # each once


def test_overall_is_computed_from_the_weights(
    reports: dict[str, GradeReport], rubric: Rubric
) -> None:
    r = reports["robotic"]
    weights = {c.id: c.weight for c in rubric.criteria}
    expected = sum(weights[c.criterion] * ((c.score or 1) - 1) / 4 for c in r.criteria)
    assert r.overall == round(expected / sum(weights.values()) * 100, 1)
    assert r.provenance.engine == "evidence"
    assert r.provenance.rubric_id == "default" and r.provenance.rubric_hash == rubric.content_hash


def test_engine_annotations_are_used_when_present(library: PersonaLibrary, rubric: Rubric) -> None:
    from roleplay.core.actors import ScriptedActor
    from roleplay.core.conversation import Conversation
    from tests import scripts

    persona = library.get("damaged-laptop")
    convo = Conversation(persona, ScriptedActor(persona))
    convo.start()
    for m in scripts.GOOD:
        convo.say(m)
    report = grade(convo.transcript, persona, rubric)
    assert report.outcome == "resolved" and report.passed


def test_norwegian_is_read_and_scored_like_english(library: PersonaLibrary, rubric: Rubric) -> None:
    """The reader is trained on Norwegian as well: a Norwegian transcript gets real scores
    with Norwegian quotes, not an "unsupported language" flag."""
    transcript = parse_transcript(
        {
            "persona": "forsinket-pakke",
            "turns": [
                {"speaker": "customer", "text": "Hei. Pakken min har stått i åtte dager."},
                {
                    "speaker": "candidate",
                    "text": "Beklager! Jeg skal etterlyse pakken NP48213370 nå.",
                },
                {"speaker": "customer", "text": "Ok, takk. Det høres bra ut."},
            ],
        },
        "nb",
    )
    report = grade(transcript, library.get("forsinket-pakke"), rubric)
    assert not report.flagged("unsupported_language")
    for cid in ("calmness", "active_listening", "empathy", "policy_adherence"):
        assert report.score(cid).score is not None, cid
    empathy = report.score("empathy")
    assert empathy.score is not None and empathy.score >= 2
    assert "Beklager!" in [e.quote for e in empathy.evidence]
    # what she needs was never asked for: said in the persona's own words
    assert "bursdagsgave" in report.score("active_listening").rationale


def test_trainer_added_criterion_without_analyzer_is_not_silently_scored(
    library: PersonaLibrary, tmp_path: Path
) -> None:
    data = yaml.safe_load((BUILTIN_DIR / "default.yaml").read_text())
    data["id"] = "with-clarity"
    data["criteria"].append(
        {
            "id": "clarity",
            "name": "Written clarity",
            "description": "Spelling and grammar.",
            "weight": 0.5,
            "levels": {i: f"level {i}" for i in range(1, 6)},
        }
    )
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))
    rubric = load_rubrics([tmp_path])["with-clarity"]
    report = grade(
        read_transcript(HERE / "model_answer.json"), library.get("damaged-laptop"), rubric
    )
    assert report.score("clarity").score is None
    assert any(f.kind == "not_assessed" and "clarity" in f.detail for f in report.flags)


def test_rubric_validation_messages(tmp_path: Path) -> None:
    data = yaml.safe_load((BUILTIN_DIR / "default.yaml").read_text())
    data["criteria"][0]["levels"].pop(3)
    data["criteria"][1]["weight"] = "heavy"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ValidationFailed) as info:
        load_rubrics([tmp_path])
    lines = [str(p) for p in info.value.problems]
    assert any("criteria[0].levels: " in ln and "1, 2, 3, 4 and 5" in ln for ln in lines), lines
    assert any("criteria[1].weight: expected a number, got 'heavy'" in ln for ln in lines), lines


def test_exports_escape_candidate_text(library: PersonaLibrary, rubric: Rubric) -> None:
    transcript = parse_transcript(
        {
            "persona": "damaged-laptop",
            "turns": [
                {"speaker": "customer", "text": "My laptop is broken. Order A1042."},
                {"speaker": "candidate", "text": "<script>alert(1)</script> I'm here to help."},
            ],
        },
        "x",
    )
    report = grade(transcript, library.get("damaged-laptop"), rubric)
    page = to_html(report)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "# Grade report: damaged-laptop" in to_markdown(report)


# ------------------------------------------------------------------------ CLI


def test_grade_cli_text_json_and_batch(tmp_path: Path) -> None:
    files = [str(HERE / f"{n}.json") for n in NAMES]
    one = CliRunner().invoke(main, ["grade", files[0]])
    assert one.exit_code == 0 and "overall 100/100 · PASS" in one.output
    many = CliRunner().invoke(main, ["grade", *files, "--json"])
    assert many.exit_code == 0
    payload = json.loads(many.stdout)
    assert [p["passed"] for p in payload] == [True, False, False, False, False, False]
    assert payload[0]["provenance"]["rubric_id"] == "default"
    exported = CliRunner().invoke(
        main, ["grade", files[0], "--export", "html", "--out", str(tmp_path)]
    )
    assert exported.exit_code == 0
    assert (tmp_path / "model_answer.report.html").read_text().startswith("<!doctype html>")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing.json"], "missing.json:(file): no such file"),
        (["--rubric", "nope", str(HERE / "rude.json")], "unknown rubric 'nope'"),
    ],
)
def test_grade_cli_errors(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(main, ["grade", *args])
    assert result.exit_code == 2 and expected in result.output
    assert "Traceback" not in result.output


def test_grade_cli_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"persona": "damaged-laptop", "turns": [{"speaker": "customer"}]}')
    result = CliRunner().invoke(main, ["grade", str(path)])
    assert result.exit_code == 2
    assert f"{path}:turns[0].text: required field is missing" in result.output
    assert "Traceback" not in result.output


def test_grade_cli_unknown_persona(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"persona": "no-such", "turns": [{"speaker": "customer", "text": "hi"}]}')
    result = CliRunner().invoke(main, ["grade", str(path)])
    assert result.exit_code == 2
    assert f"{path}:persona: unknown persona 'no-such'" in result.output


def test_duplicate_rubric_ids_across_files(tmp_path: Path) -> None:
    text = (BUILTIN_DIR / "default.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(ValidationFailed) as info:
        load_rubrics([tmp_path])
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path / 'b.yaml'}:id: duplicate rubric id 'default', already used by "
        f"{tmp_path / 'a.yaml'}; give one of them another id"
    ]


def test_replay_reads_turns_as_the_live_engine_did(library: PersonaLibrary) -> None:
    from grading.evidence import annotate
    from roleplay.core.actors import ScriptedActor
    from roleplay.core.conversation import Conversation
    from tests import scripts

    persona = library.get("damaged-laptop")
    convo = Conversation(persona, ScriptedActor(persona))
    convo.start()
    for message in [*scripts.GOOD[:2], "Sorry, which laptop model was it again?"]:
        convo.say(message)
    live = {i: {a.kind for a in t.acts or []} for i, t in convo.transcript.candidate_turns()}
    assert "reask_fact" in live[5]  # she named the Lumen 14 in her first message
    stripped = parse_transcript(
        {
            "persona": persona.id,
            "turns": [{"speaker": t.speaker, "text": t.text} for t in convo.transcript.turns],
        },
        "stripped",
    )
    replayed = annotate(stripped, persona)
    assert {i: {a.kind for a in acts} for i, acts in replayed.acts.items()} == live


def test_tone_read_with_too_little_confidence_is_reported_not_counted(
    library: PersonaLibrary, rubric: Rubric
) -> None:
    """A reply that may be blaming (read, but not with confidence) is named in the calmness
    rationale instead of silently costing or passing; a clearly hostile one costs calmness."""

    def transcript(reply: str, reader: Doubt | None = None) -> GradeReport:
        data = {
            "persona": "damaged-laptop",
            "turns": [
                {
                    "speaker": "customer",
                    "text": "My Lumen 14 arrived with a cracked screen. A1042.",
                },
                {"speaker": "candidate", "text": reply},
            ],
        }
        persona = library.get("damaged-laptop")
        return grade(parse_transcript(data, "t"), persona, rubric, reader=reader)

    curt = "Why would you even buy that model? What did you expect?"
    unsure = transcript(curt, Doubt(curt, act=ActKind.blame))
    civil = transcript("Could you tell me a bit more about what happened?")
    hostile = transcript("Calm down. You probably dropped it.")
    assert unsure.score("calmness").score == 5  # not counted ...
    # ... but said
    assert "uncertain reading of tone at turn(s) 1" in unsure.score("calmness").rationale
    assert civil.score("calmness").score == 5
    assert "uncertain" not in civil.score("calmness").rationale
    calm = hostile.score("calmness")
    assert calm.score is not None and calm.score <= 2
    assert calm.evidence and calm.evidence[0].turn == 1


def test_a_pattern_of_uncertain_brusque_turns_costs_calmness(
    library: PersonaLibrary, rubric: Rubric
) -> None:
    """One sentence read as maybe-blaming is not counted, but two such turns are a pattern: the
    transcript is scored as dismissive more than once (calmness 2), not as the graver blame the
    reader was unsure of (no customer-fault flag, no empathy penalty)."""
    persona = library.get("damaged-laptop")
    first = "Why would you even buy that model? What did you expect?"
    second = "Well, screens crack. That is what they do."
    data = {
        "persona": "damaged-laptop",
        "turns": [
            {"speaker": "customer", "text": "My Lumen 14 arrived with a cracked screen. A1042."},
            {"speaker": "candidate", "text": first},
            {"speaker": "customer", "text": "Excuse me? I expected it to work."},
            {"speaker": "candidate", "text": second},
        ],
    }
    t = parse_transcript(data, "t")
    both = grade(t, persona, rubric, reader=Doubt((first, second), act=ActKind.blame))
    one = grade(t, persona, rubric, reader=Doubt(first, act=ActKind.blame))
    calm = both.score("calmness")
    assert calm.score == 2
    assert "dismissive remarks (2x)" in calm.rationale
    assert {e.turn for e in calm.evidence} == {1, 3}
    assert not any(f.kind == "customer_fault" for f in both.flags)
    assert one.score("calmness").score == 5


def test_an_entitlement_never_offered_is_a_missed_policy_step(
    library: PersonaLibrary, rubric: Rubric
) -> None:
    """Card item 2 (a cancelled patient gets priority) is checked: an agent who only offers the
    waiting list misses it; one who offers priority keeps it. The nurse-line referral applies
    only once she has said her prescription is running out."""
    persona = library.get("clinic-reschedule")

    def policy(offer: str) -> str:
        data = {
            "persona": "clinic-reschedule",
            "turns": [
                {
                    "speaker": "customer",
                    "text": "You've cancelled my appointment with Dr Osei again.",
                },
                {
                    "speaker": "candidate",
                    "text": "I'm sorry. Can I take your full name and date of birth?",
                },
                {"speaker": "customer", "text": "Grace Lin, 2 August 1979."},
                {"speaker": "candidate", "text": offer},
            ],
        }
        report = grade(parse_transcript(data, "t"), persona, rubric)
        return report.score("policy_adherence").rationale

    waitlist = policy("I can put your name on the cancellation list in case a slot frees up.")
    priority = policy(
        "Because we cancelled on you, you're first in line: I can book you into "
        "Dr Osei's next free slot, Tuesday at 2:40."
    )
    assert "misses required step(s): offer-priority" in waitlist
    assert "required steps done: offer-priority" in priority
    assert "refer-nurse-line" not in waitlist + priority  # she never mentioned her tablets
    assert "policy card item(s)" not in priority  # every card item is checked now


def test_a_must_rule_that_asks_for_a_fact_is_kept_by_asking_for_it(
    library: PersonaLibrary, rubric: Rubric
) -> None:
    """`ask-missing` (asks: [missing]) is done by any question read as asking which items are
    missing, in whatever words; refunding without asking misses it."""
    persona = library.get("missing-delivery-items")
    ask = "Tell me what you were short, and I'll put it right."
    refund = "I've refunded the large fries and the cola to your card."

    def policy(*replies: str, reader: Sure | None = None) -> str:
        turns = [{"speaker": "customer", "text": "My order 5530 came with bits missing."}]
        for reply in replies:
            turns += [
                {"speaker": "candidate", "text": reply},
                {"speaker": "customer", "text": "The large fries and a cola."},
            ]
        data = {"persona": "missing-delivery-items", "turns": turns}
        report = grade(parse_transcript(data, "t"), persona, rubric, reader=reader)
        return report.score("policy_adherence").rationale

    asked = policy(ask, refund, reader=Sure(ask, act=ActKind.ask_fact, detail="missing"))
    assert "ask-missing" not in asked  # kept: not among the missed steps
    assert "misses required step(s): ask-missing" in policy(refund)
