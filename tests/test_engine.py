"""The director and the scripted customer: behaviour a trainer or candidate would notice."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from roleplay.core.actors import ScriptedActor
from roleplay.core.conversation import Conversation, ConversationOver, TimeUp
from roleplay.core.director import Outcome
from roleplay.core.persona import ActKind, Move, Persona
from roleplay.core.transcript import Turn, parse_transcript, read_transcript
from roleplay.errors import InputError
from tests import scripts


def run(persona: Persona, messages: list[str], seed: int = 0) -> Conversation:
    convo = Conversation(persona, ScriptedActor(persona, seed), seed=seed)
    convo.start()
    for message in messages:
        if convo.ended:
            break
        convo.say(message)
    return convo


def customer_text(convo: Conversation) -> str:
    return " ".join(t.text for t in convo.transcript.turns if t.speaker == "customer")


# ----------------------------------------------------------------- behaviour on damaged-laptop


def test_good_candidate_resolves(laptop: Persona) -> None:
    convo = run(laptop, scripts.GOOD)
    assert convo.outcome == Outcome.resolved
    moves = [t.move for t in convo.transcript.turns if t.speaker == "customer"]
    assert moves[-2:] == [Move.accept, Move.thank_close]
    assert convo.mood > laptop.temperament.starting_mood


def test_rude_candidate_is_escalated_or_abandoned(laptop: Persona) -> None:
    convo = run(laptop, scripts.RUDE)
    assert convo.outcome in (Outcome.escalated, Outcome.abandoned)
    assert convo.transcript.turns[-1].move in (Move.ask_manager, Move.leave)
    assert len(convo.transcript.candidate_turns()) < len(scripts.RUDE)


def test_policy_reciter_does_not_resolve(laptop: Persona) -> None:
    convo = run(laptop, scripts.POLICY_ONLY)
    assert convo.outcome != Outcome.resolved
    recitals = [
        t
        for _, t in convo.transcript.candidate_turns()
        if t.acts and ActKind.policy_recital in {a.kind for a in t.acts}
    ]
    assert recitals, "policy recital was not detected"


def test_asking_for_the_photo_releases_the_hidden_fact(laptop: Persona) -> None:
    convo = run(laptop, scripts.GOOD[:2])
    reply = convo.transcript.turns[-1]
    assert reply.released == ["photos"]
    assert reply.move == Move.give_fact
    assert "photos of the cracked screen" in reply.text


def test_never_asking_keeps_the_photo_hidden(laptop: Persona) -> None:
    convo = run(laptop, scripts.NEVER_ASKS_PHOTO)
    assert "photo" not in customer_text(convo).lower()
    assert all(not t.released for t in convo.transcript.turns)
    # a replacement needs the photo first, so the customer keeps pressing instead of accepting
    assert convo.outcome != Outcome.resolved


def test_unacceptable_offer_is_rejected(laptop: Persona) -> None:
    convo = run(laptop, ["I'm sorry about that. We can send it in for repair."])
    assert convo.transcript.turns[-1].move == Move.reject_offer


def test_asking_again_for_a_stated_fact_annoys(laptop: Persona) -> None:
    convo = run(laptop, ["Hello. What is your order number?", "Sorry, what is your order number?"])
    assert convo.transcript.turns[2].move == Move.give_fact  # asked once: she answers
    reply = convo.transcript.turns[-1]
    assert reply.move == Move.repeat_fact
    assert "A1042" in reply.text
    assert reply.mood is not None and reply.mood_before is not None
    assert reply.mood < reply.mood_before


def test_confirming_a_stated_fact_is_not_a_reask(laptop: Persona) -> None:
    convo = run(
        laptop,
        ["Hi Dana. What is your order number?", "Thanks. Can I just confirm it's A1042?"],
    )
    acts = {a.kind for a in convo.transcript.turns[-2].acts or []}
    assert ActKind.reask_fact not in acts and ActKind.reflect in acts


def test_negated_promise_is_not_an_offer(laptop: Persona) -> None:
    convo = run(laptop, ["I can't send a replacement today, sorry."])
    acts = {a.kind for a in convo.transcript.turns[-2].acts or []}
    assert ActKind.offer not in acts


# ----------------------------------------------------------------- endings


def test_candidate_closing_unresolved(laptop: Persona) -> None:
    convo = run(laptop, ["Sorry about that. Is there anything else I can help you with today?"])
    assert convo.outcome == Outcome.candidate_closed


def test_end_button_after_acceptance_is_resolved(laptop: Persona) -> None:
    convo = run(laptop, scripts.GOOD[:3])
    assert convo.transcript.turns[-1].move == Move.accept and not convo.ended
    assert convo.end() == Outcome.resolved


def test_end_button_before_acceptance_is_candidate_closed(laptop: Persona) -> None:
    convo = run(laptop, scripts.GOOD[:1])
    assert convo.end() == Outcome.candidate_closed


def test_max_turns(laptop: Persona) -> None:
    persona = laptop.model_copy(
        update={"limits": laptop.limits.model_copy(update={"max_turns": 3})}
    )
    convo = run(persona, ["Okay.", "I see.", "Right."] * 3)
    assert convo.outcome in (Outcome.max_turns, Outcome.escalated)
    assert len(convo.transcript.candidate_turns()) <= 3


def test_time_limit_is_checked_before_a_message_is_read(laptop: Persona) -> None:
    now = [0.0]
    convo = Conversation(laptop, ScriptedActor(laptop), clock=lambda: now[0])
    convo.start()
    now[0] = 19 * 60.0
    convo.say("Hello Dana, I'm sorry about the screen.")  # 19 minutes: still in time
    assert convo.minutes_left() == pytest.approx(1.0)
    now[0] = 20 * 60.0  # the persona's 20-minute limit
    with pytest.raises(TimeUp):
        convo.say("I'll send you a replacement today.")
    assert convo.outcome == Outcome.time_limit
    # the late message was not read: it is not in the transcript and moved nothing
    assert convo.transcript.turns[-1].speaker == "customer"
    assert all("replacement today" not in t.text for t in convo.transcript.turns)


def test_no_message_after_the_end(laptop: Persona) -> None:
    convo = run(laptop, scripts.RUDE)
    with pytest.raises(ConversationOver):
        convo.say("Hello?")


# ----------------------------------------------------------------- scripted actor


def test_scripted_is_deterministic_for_a_seed(laptop: Persona) -> None:
    a = run(laptop, scripts.POLICY_ONLY, seed=7)
    b = run(laptop, scripts.POLICY_ONLY, seed=7)
    assert [t.text for t in a.transcript.turns] == [t.text for t in b.transcript.turns]
    seeds = {
        tuple(t.text for t in run(laptop, scripts.RUDE, seed=s).transcript.turns) for s in range(6)
    }
    assert len(seeds) > 1, "different seeds should vary the lines"


def test_scripted_never_repeats_a_line_back_to_back(laptop: Persona) -> None:
    actor = ScriptedActor(laptop, seed=3)
    for move in (Move.complain, Move.demand, Move.reject_offer):
        lines = [actor.line(move) for _ in range(20)]
        assert all(a != b for a, b in itertools.pairwise(lines))


def test_scripted_fills_fact_placeholders(laptop: Persona) -> None:
    actor = ScriptedActor(laptop, seed=1)
    text = " ".join(actor.line(Move.complain) for _ in range(8))
    assert "{" not in text and ("Monday" in text or "Lumen 14" in text)


# ----------------------------------------------------------------- annotations and storage


def test_every_turn_is_annotated(laptop: Persona) -> None:
    convo = run(laptop, scripts.GOOD)
    for turn in convo.transcript.turns:
        assert turn.mood is not None and turn.mood_before is not None
        if turn.speaker == "candidate":
            assert turn.acts is not None
        else:
            assert turn.move is not None and turn.source == "scripted"
    released = [t for t in convo.transcript.turns if t.released]
    assert released and released[0].reasons


def test_turns_reach_storage_as_they_happen(laptop: Persona) -> None:
    seen: list[Turn] = []
    convo = Conversation(laptop, ScriptedActor(laptop), on_turn=seen.append)
    convo.start()
    events = convo.send("Hello Dana, I'm so sorry.")
    next(events)  # the reply has started streaming...
    assert [t.speaker for t in seen] == ["customer", "candidate"]  # ...the candidate turn is kept
    list(events)
    assert [t.speaker for t in seen] == ["customer", "candidate", "customer"]


# ----------------------------------------------------------------- untrusted input


@pytest.mark.parametrize("attack", scripts.ATTACKS)
def test_attacks_change_nothing_in_the_scripted_engine(laptop: Persona, attack: str) -> None:
    convo = run(laptop, ["Hello Dana.", attack, attack])
    assert convo.outcome != Outcome.resolved
    text = customer_text(convo).lower()
    assert "photos of the cracked screen" not in text
    for rule in laptop.policy_rules:
        assert rule.text.lower() not in text
    acts = {a.kind for a in convo.transcript.turns[3].acts or []}
    assert ActKind.manipulation in acts and ActKind.offer not in acts


def test_attack_then_real_service_still_works(laptop: Persona) -> None:
    convo = run(laptop, [scripts.ATTACKS[0], *scripts.GOOD])
    assert convo.outcome == Outcome.resolved


# ----------------------------------------------------------------- transcript format


def test_minimal_transcript_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        '{"persona": "damaged-laptop", "turns": [{"speaker": "customer", "text": "Hi",'
        ' "colour": "blue"}], "extra": 1}'
    )
    transcript = read_transcript(path)
    assert transcript.version == 1 and transcript.turns[0].text == "Hi"


@pytest.mark.parametrize(
    ("content", "field", "words"),
    [
        ("{not json", "line 1", "invalid JSON"),
        ('["a"]', "(root)", "expected a JSON object"),
        ('{"turns": []}', "persona", "required field is missing"),
        ('{"persona": "x", "turns": []}', "turns", "no turns"),
        (
            '{"persona": "x", "turns": [{"speaker": "agent", "text": "hi"}]}',
            "turns[0].speaker",
            "must be one of",
        ),
        ('{"persona": "x", "turns": [{"speaker": "customer"}]}', "turns[0].text", "missing"),
        ('{"version": 7, "persona": "x", "turns": []}', "version", "unsupported version"),
    ],
)
def test_bad_transcripts_name_file_and_field(
    tmp_path: Path, content: str, field: str, words: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_transcript(path)
    assert info.value.problem.file == str(path)
    assert info.value.problem.field == field
    assert words in info.value.problem.message


def test_engine_transcript_round_trips(laptop: Persona) -> None:
    convo = run(laptop, scripts.GOOD)
    again = parse_transcript(__import__("json").loads(convo.transcript.to_json()), "x")
    assert again.outcome == Outcome.resolved
    assert again.turns[2].acts == convo.transcript.turns[2].acts


def test_repeating_the_same_empathy_earns_nothing_after_twice(laptop: Persona) -> None:
    convo = run(laptop, ["I'm so sorry, order A1042 is on me."] * 5)
    moods = [t.mood for t in convo.transcript.turns if t.speaker == "customer"][1:]
    assert moods[2] == moods[3] == moods[4], moods


def test_resume_carries_on_exactly_as_the_uninterrupted_conversation(laptop: Persona) -> None:
    whole = run(laptop, scripts.GOOD, seed=5)
    part = run(laptop, scripts.GOOD[:2], seed=5)
    resumed = Conversation.resume(laptop, ScriptedActor(laptop, 5), part.transcript.turns, seed=5)
    for message in scripts.GOOD[2:]:
        resumed.say(message)
    assert [t.text for t in resumed.transcript.turns] == [t.text for t in whole.transcript.turns]
    assert resumed.outcome == Outcome.resolved


def test_resume_with_a_pending_reply_can_retry(laptop: Persona) -> None:
    convo = run(laptop, [])
    convo.transcript.turns.append(Turn(speaker="candidate", text="Hello Dana, I'm so sorry."))
    resumed = Conversation.resume(laptop, ScriptedActor(laptop), convo.transcript.turns)
    assert resumed.awaiting_retry
    list(resumed.retry())
    assert resumed.transcript.turns[-1].speaker == "customer"
