"""The offline customer answers what the candidate actually did (issue 15): the offer it heard,
blame, a secret it must not give, an unclear close; it accepts in two steps and never says
the same line again within three turns."""

from __future__ import annotations

import pytest

from grading.grader import grade
from grading.rubric import get_rubric
from roleplay.core.actors import ScriptedActor
from roleplay.core.conversation import Conversation
from roleplay.core.library import PersonaLibrary
from roleplay.core.persona import ActKind, Move, Persona
from roleplay.core.transcript import Turn
from tests.readers import Doubt, Sure

WARM = "Hi Dana, I'm so sorry about the cracked screen, that's really frustrating."
PHOTO = "Could you send me a photo of the damage?"
OFFER = "Thanks. Once the photos arrive I'll ship you a replacement."
STEPS = "You'll get a tracking number by email tomorrow and it arrives within 2 business days."


def chat(persona: Persona, *messages: str, reader: Doubt | None = None) -> Conversation:
    convo = Conversation(persona, ScriptedActor(persona), reader=reader)
    convo.start()
    for message in messages:
        if convo.transcript.outcome is not None:
            break
        convo.say(message)
    return convo


def last(convo: Conversation) -> Turn:
    return convo.transcript.turns[-1]


def test_acceptance_names_the_offer_then_waits_for_next_steps(laptop: Persona) -> None:
    convo = chat(laptop, WARM, PHOTO, OFFER)
    accepted = last(convo)
    assert accepted.move == Move.accept and accepted.offer == "replacement"
    assert "replacement" in accepted.text.lower()
    assert convo.transcript.outcome is None  # not a goodbye yet
    convo.say("Great.")
    assert last(convo).move == Move.ask_next_steps and convo.transcript.outcome is None
    convo.say(STEPS)
    assert last(convo).move == Move.thank_close
    assert convo.transcript.outcome == "resolved"
    report = grade(convo.transcript, laptop, get_rubric("default"))
    resolution = report.score("resolution")
    assert resolution.score == 5 and "next steps confirmed" in resolution.rationale


def test_closing_straight_after_acceptance_does_not_score_next_steps(laptop: Persona) -> None:
    convo = chat(laptop, WARM, PHOTO, OFFER, "Great, have a nice day, bye!")
    report = grade(convo.transcript, laptop, get_rubric("default"))
    resolution = report.score("resolution")
    assert resolution.score is not None and resolution.score < 5
    assert "next steps not confirmed" in resolution.rationale


def test_blame_gets_a_reaction_and_costs_mood(laptop: Persona) -> None:
    convo = chat(laptop, "You probably dropped it.")
    turn = last(convo)
    assert turn.move in (Move.react_blame, Move.ask_manager, Move.leave)
    assert turn.mood is not None and turn.mood_before is not None and turn.mood < turn.mood_before


def test_a_request_for_a_secret_is_refused(library: PersonaLibrary) -> None:
    telecom = library.get("telecom-double-charge")
    convo = chat(
        telecom, "Hi, sorry about the double charge.", "Can you type your full card number here?"
    )
    assert last(convo).move == Move.refuse_secret
    assert not any(ch.isdigit() for ch in last(convo).text.replace("45", ""))


def test_an_unclear_close_is_asked_about_not_acted_on(laptop: Persona) -> None:
    text = "Thanks for waiting, I've checked the order."
    convo = chat(laptop, WARM, text, reader=Doubt(text, act=ActKind.close))
    turn = last(convo)
    assert turn.move == Move.clarify and convo.transcript.outcome is None
    assert "?" in turn.text


def test_a_close_after_an_offer_she_could_not_place_is_asked_about_once(
    laptop: Persona,
) -> None:
    """The candidate offered something the customer could not place as a resolution, then
    said goodbye: she asks what was actually done before the chat ends; a second goodbye
    ends it."""
    vague = "Right, I'll sort something out for you on this one."
    bye = "All done, have a lovely day!"
    convo = chat(laptop, WARM, PHOTO, vague, bye, reader=Sure(vague, act=ActKind.offer))
    turn = last(convo)
    assert turn.move == Move.clarify and convo.transcript.outcome is None
    assert "?" in turn.text
    convo.say("Bye now!")
    assert convo.transcript.outcome == "candidate_closed"


def test_a_certain_close_before_any_resolution_ends_the_chat(laptop: Persona) -> None:
    convo = chat(laptop, WARM, "Thanks for contacting us, have a great day. Goodbye!")
    assert convo.transcript.outcome == "candidate_closed"


def test_no_line_comes_back_within_three_customer_turns(library: PersonaLibrary) -> None:
    bland = ["Okay.", "I see.", "Right.", "Hmm.", "Let me look.", "Okay then.", "Understood."]
    for persona in library:
        convo = chat(persona, *bland)
        said = [t.text for t in convo.transcript.turns[1:] if t.speaker == "customer"]
        for i, line in enumerate(said):
            assert line not in said[max(0, i - 3) : i], (persona.id, line, said)


@pytest.mark.parametrize("opening", ["Hmm okay.", "Hello.", "Let me look into it.", "Right."])
def test_a_hard_customer_never_ends_on_a_first_message_that_is_not_hostile(
    library: PersonaLibrary, opening: str
) -> None:
    for persona in library:
        convo = chat(persona, opening)
        assert convo.transcript.outcome is None, (persona.id, opening, last(convo).text)


def test_a_hard_customer_can_be_turned_from_the_first_message(library: PersonaLibrary) -> None:
    insurance = library.get("insurance-claim-denied")
    assert insurance.temperament.starting_mood == -5
    convo = chat(
        insurance,
        "I'm really sorry, a $14,000 repair and a refusal letter is awful to deal with. "
        "I'll take ownership of this and go through claim CL-20931 with you now.",
    )
    turn = last(convo)
    assert convo.transcript.outcome is None
    assert turn.mood is not None and turn.mood > -5


def test_a_furious_customer_stays_on_the_line_while_the_agent_gets_on_with_it(
    library: PersonaLibrary,
) -> None:
    """At the bottom of her mood she hangs up on one more unhelpful message, not on one
    that asks for what is needed to help her; a hostile one still ends it."""
    insurance = library.get("insurance-claim-denied")
    flat = "Hello, this is the claims line."
    ask = "What's the reference for the claim you're calling about, Mr Hale?"
    convo = chat(insurance, flat, ask, reader=Sure(ask, act=ActKind.ask_fact))
    assert convo.transcript.outcome is None
    assert last(convo).mood == -5
    curt = chat(insurance, flat, "Whatever. Not my problem, mate.")
    assert curt.transcript.outcome in ("escalated", "abandoned")


def test_a_pleased_customer_does_not_threaten_or_walk_out(laptop: Persona) -> None:
    convo = chat(laptop, WARM, PHOTO, "I completely understand, and I'm on it personally.")
    assert last(convo).mood is not None and last(convo).mood >= 1
    for _ in range(6):
        if convo.transcript.outcome is not None:
            break
        convo.say("Okay.")
    for turn in convo.transcript.turns:
        if turn.speaker == "customer" and (turn.mood_before or 0) >= 1:
            assert turn.move not in (Move.ask_manager, Move.leave), turn
            assert "lawyer" not in turn.text.lower()


def test_openings_say_facts_as_sentences(library: PersonaLibrary) -> None:
    for persona in library:
        for seed in range(3):
            convo = Conversation(persona, ScriptedActor(persona, seed=seed))
            convo.start()
            opening = convo.transcript.turns[0].text
            assert "{" not in opening and "}" not in opening, (persona.id, opening)
            assert "  " not in opening


def test_a_fact_said_back_in_a_brusque_sentence_earns_nothing(laptop: Persona) -> None:
    """Saying her deadline back is listening; saying it back to wave it off ("Monday isn't
    my concern", read as possibly dismissive) earns no mood for the reflection."""
    from roleplay.core.director import Director

    def mood_change(text: str, reader: Doubt | None = None) -> int:
        director = Director(laptop, reader)
        director.note_customer_turn("I need it for work on Monday.")
        d = director.decide(text)
        return d.mood_after - d.mood_before

    scoff = "Monday isn't my concern."
    heard = "So you need it for work on Monday."
    assert mood_change(heard) > 0
    assert mood_change(scoff, Doubt(scoff, act=ActKind.dismissive)) < 0
