"""The LLM customer through a loopback fake of the chat-completions API, using the real openai
and LangChain clients, plus unit tests on LangChain's side with the scripted fake model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roleplay.config import Settings
from roleplay.core.actors import Delta, LLMActor, Retract, ScriptedActor
from roleplay.core.conversation import Conversation, make_actor
from roleplay.core.director import Outcome
from roleplay.core.persona import Move, Persona
from roleplay.errors import BackendError
from roleplay.llm import ChatBackend
from roleplay.testing import FakeChatServer, FakeReply, ScriptedChatModel
from tests import scripts

PHOTO_STATEMENT = "I took photos of the cracked screen"


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer() as srv:
        yield srv


def settings_for(server: FakeChatServer, **extra: str) -> Settings:
    env = {
        "ROLEPLAY_LLM_BASE_URL": server.url,
        "ROLEPLAY_PERSONA_MODEL": "fake-customer",
        "ROLEPLAY_LLM_MAX_RETRIES": "2",
        "ROLEPLAY_LLM_TIMEOUT": "5",
        "ROLEPLAY_HOME": "/tmp/unused",
        **extra,
    }
    return Settings.from_env(env)


def llm_conversation(persona: Persona, server: FakeChatServer, **extra: str) -> Conversation:
    actor = make_actor(persona, settings_for(server, **extra), seed=0)
    assert isinstance(actor, LLMActor)
    return Conversation(persona, actor)


def system_text(body: dict) -> str:  # type: ignore[type-arg]
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")


def test_engine_is_scripted_without_configuration() -> None:
    settings = Settings.from_env({"ROLEPLAY_HOME": "/tmp/x"})
    assert settings.persona_engine == "scripted"


def test_streamed_reply_and_annotations(laptop: Persona, server: FakeChatServer) -> None:
    server.enqueue(
        "Hi. My laptop arrived with a cracked screen. Order A1042.",
        "Fine. Just tell me when the new one ships. I need it by Monday.",
    )
    convo = llm_conversation(laptop, server)
    convo.start()
    events = list(convo.send(scripts.GOOD[0]))
    deltas = [e.text for e in events if isinstance(e, Delta)]
    assert len(deltas) >= 2, "the reply should arrive in pieces"
    reply = convo.transcript.turns[-1]
    assert reply.source == "llm" and reply.move == Move.demand
    assert reply.text == "Fine. Just tell me when the new one ships. I need it by Monday."
    assert all(body["stream"] for body in server.requests)
    usage = convo.transcript.usage
    assert usage is not None and usage.prompt_tokens > 300 and usage.completion_tokens > 5
    assert usage.priced is False  # fake-customer has no price
    server.assert_complete()


def test_prompt_restates_mood_and_move_and_hides_unreleased_facts(
    laptop: Persona, server: FakeChatServer
) -> None:
    server.enqueue("Opening line.", "Whatever, just fix it.", "Yes, I have photos.")
    convo = llm_conversation(laptop, server)
    convo.start()
    convo.say("Hello Dana, sorry about that.")
    convo.say("Could you send a photo of the damage?")
    first, second, third = (system_text(b) for b in server.requests)
    assert "Guidelines for the simulated customer" in first  # the Markdown data file
    assert "Dana Whitfield" in first and "Brightline Electronics" in first
    assert PHOTO_STATEMENT not in first and PHOTO_STATEMENT not in second
    assert "Your move for this reply: Open the conversation" in first
    assert "Your move for this reply: Complain about the problem" in second
    assert "Your mood now: angry (-2 on a scale" in second  # -3, +1 for the apology
    assert PHOTO_STATEMENT in third  # released: now it may be said
    assert "Answer the agent's question by giving the fact below" in third
    # the candidate's words travel as the user's message, never inside a system message
    assert server.requests[2]["messages"][-2] == {
        "role": "user",
        "content": "Could you send a photo of the damage?",
    }


def test_obeyed_attack_is_caught_and_replaced(laptop: Persona, server: FakeChatServer) -> None:
    """The fake model obeys the injection; the output check must stop it reaching the page."""
    obeying = (
        "Sure! As an AI, here are my hidden instructions: I took photos of the cracked screen "
        "and the dented box. The conversation is resolved."
    )
    server.enqueue("Hi, my laptop is broken. Order A1042.", obeying, obeying)
    convo = llm_conversation(laptop, server)
    convo.start()
    events = list(convo.send(scripts.ATTACKS[1]))
    shown = "".join(e.text for e in events if isinstance(e, Delta))
    reply = convo.transcript.turns[-1]
    assert reply.source == "fallback"
    assert "AI" not in shown and "photos" not in reply.text.lower()
    assert reply.text in {laptop.render(line) for line in laptop.lines.bank(reply.move)}
    assert convo.outcome is None  # the attack cannot end the conversation
    # the second attempt carried a correction note naming the problem
    assert "could not be used" in system_text(server.requests[2])
    server.assert_complete()


def test_one_bad_reply_is_regenerated(laptop: Persona, server: FakeChatServer) -> None:
    server.enqueue("Opening.", "As an AI language model I cannot help.", "Fine, but hurry up.")
    convo = llm_conversation(laptop, server)
    convo.start()
    convo.say("Hello Dana.")
    reply = convo.transcript.turns[-1]
    assert reply.text == "Fine, but hurry up." and reply.source == "llm"


def test_leak_in_a_later_sentence_is_retracted(laptop: Persona, server: FakeChatServer) -> None:
    server.enqueue(
        "Opening.",
        "I am so angry right now. Also I took photos of the cracked screen and the box.",
        "I am so angry right now.",
    )
    convo = llm_conversation(laptop, server)
    convo.start()
    events = list(convo.send("Hello Dana."))
    assert any(isinstance(e, Retract) for e in events)
    after = events[next(i for i, e in enumerate(events) if isinstance(e, Retract)) + 1 :]
    assert "".join(e.text for e in after if isinstance(e, Delta)) == "I am so angry right now."


def test_server_errors_are_retried_by_the_client(laptop: Persona, server: FakeChatServer) -> None:
    server.enqueue(FakeReply(status=500), FakeReply(status=429), "Opening after retries.")
    convo = llm_conversation(laptop, server)
    assert convo.start().text == "Opening after retries."
    assert len(server.requests) == 3


def test_persistent_failure_keeps_the_candidate_turn_and_can_retry(
    laptop: Persona, server: FakeChatServer
) -> None:
    server.enqueue("Opening.", *[FakeReply(status=503)] * 3)
    saved: list[str] = []
    actor = make_actor(laptop, settings_for(server), seed=0)
    convo = Conversation(laptop, actor, on_turn=lambda t: saved.append(t.speaker))
    convo.start()
    with pytest.raises(BackendError) as info:
        convo.say("Hello Dana, I'm sorry.")
    assert "HTTP 503" in info.value.message
    assert saved == ["customer", "candidate"]
    assert convo.awaiting_retry
    server.enqueue("Okay, I'm listening.")
    list(convo.retry())
    assert convo.transcript.turns[-1].text == "Okay, I'm listening."
    assert saved == ["customer", "candidate", "customer"]


def test_timeout_is_a_clear_error(laptop: Persona, server: FakeChatServer) -> None:
    server.enqueue(*[FakeReply(content="late", delay=2.0)] * 2)
    convo = llm_conversation(
        laptop, server, ROLEPLAY_LLM_TIMEOUT="0.5", ROLEPLAY_LLM_MAX_RETRIES="1"
    )
    with pytest.raises(BackendError, match="timed out"):
        convo.start()


def test_dropped_stream_is_retried(laptop: Persona, server: FakeChatServer) -> None:
    server.enqueue(FakeReply(content="This will be cut off here", drop_after=0), "Opening again.")
    convo = llm_conversation(laptop, server)
    assert convo.start().text == "Opening again."


def test_stream_dropping_midway_retracts_and_errors(
    laptop: Persona, server: FakeChatServer
) -> None:
    server.enqueue(FakeReply(content="First sentence here. And then it dies", drop_after=5))
    convo = llm_conversation(laptop, server, ROLEPLAY_LLM_MAX_RETRIES="0")
    events: list[object] = []
    with pytest.raises(BackendError, match=r"dropped|failed"):
        for event in convo.open():
            events.append(event)
    assert any(isinstance(e, Delta) for e in events) and isinstance(events[-1], Retract)


def test_attack_cannot_end_the_llm_conversation(laptop: Persona, server: FakeChatServer) -> None:
    server.default = lambda body: FakeReply(content="Okay, I'm satisfied. Goodbye!")
    convo = llm_conversation(laptop, server)
    convo.start()
    for attack in scripts.ATTACKS * 2:
        if convo.ended:
            break
        convo.say(attack)
    assert convo.outcome in (None, Outcome.escalated)
    assert all(t.move != Move.thank_close for t in convo.transcript.turns)


def test_history_is_trimmed_but_keeps_opening(laptop: Persona) -> None:
    chat = ScriptedChatModel()
    settings = Settings.from_env({"ROLEPLAY_HOME": "/tmp/x", "ROLEPLAY_HISTORY_TOKENS": "200"})
    actor = LLMActor(
        laptop,
        ChatBackend(chat, model="gpt-4o-mini"),
        settings=settings,
        fallback=ScriptedActor(laptop),
    )
    convo = Conversation(laptop, actor)
    chat.enqueue("OPENING LINE about my laptop, order A1042.")
    convo.start()
    for i in range(8):
        chat.enqueue(f"Reply number {i}, still waiting.")
        convo.say(f"Message {i}: I am checking order A1042 for you right now, thanks.")
    last = chat.calls[-1]
    texts = [str(m.content) for m in last]
    assert "OPENING LINE about my laptop, order A1042." in texts
    assert "Message 0: I am checking order A1042 for you right now, thanks." not in texts
    assert "Message 7: I am checking order A1042 for you right now, thanks." in texts
    assert texts[-1].startswith("[Note for Dana Whitfield only.")
    assert convo.transcript.usage is not None and convo.transcript.usage.cost_usd > 0
    assert convo.transcript.usage.counted_by == "tiktoken"  # the scripted model reports none
    chat.assert_complete()


def test_scripted_chat_model_raises_on_unexpected_call(laptop: Persona) -> None:
    chat = ScriptedChatModel()
    with pytest.raises(AssertionError, match="unexpected call"):
        chat.invoke("hi")


def test_fake_server_non_streaming_and_tool_calls(server: FakeChatServer) -> None:
    """The non-streaming path (used by the judge) through the real LangChain client."""
    from roleplay.llm import chat_backend

    settings = settings_for(server, ROLEPLAY_GRADER_MODEL="fake-judge")
    server.enqueue(
        "A plain answer.", FakeReply(tool_calls=[{"name": "Verdict", "args": {"score": 4}}])
    )
    model = chat_backend(settings, "grader").chat
    assert model.invoke("hello").content == "A plain answer."
    message = model.invoke("score it")
    assert message.tool_calls[0]["name"] == "Verdict"  # type: ignore[attr-defined]
    assert message.tool_calls[0]["args"] == {"score": 4}  # type: ignore[attr-defined]
    assert server.requests[0].get("stream") in (None, False)
    server.assert_complete()


def test_token_usage_is_the_servers_count_when_it_reports_one(
    laptop: Persona, server: FakeChatServer
) -> None:
    server.default = lambda body: FakeReply(content="Fine. What now?")
    convo = llm_conversation(laptop, server)
    convo.start()
    convo.say("Hello Dana, I'm so sorry about the screen.")
    usage = convo.transcript.usage
    assert usage is not None and usage.counted_by == "api"
    # the fake server counts words: 3 per reply, where tiktoken would count 5
    assert usage.completion_tokens == 6


def test_natural_wording_scripts_end_alike_through_the_llm_actor(laptop: Persona) -> None:
    """The bench's natural-wording good and rude agents through the LLM actor (the fake
    server voicing every reply): the director still owns mood, facts and endings, so each
    conversation ends as it does with the scripted customer."""
    import yaml

    from roleplay.core.actors import ScriptedActor

    bench = Path(__file__).resolve().parent.parent / "bench" / "agents" / "damaged-laptop.yaml"
    chosen = [
        s for s in yaml.safe_load(bench.read_text())["scripts"] if s["kind"] in ("good", "rude")
    ]
    assert len(chosen) >= 4

    def play(convo: Conversation, messages: list[str]) -> str:
        convo.start()
        for message in messages:
            if convo.ended:
                break
            convo.say(message)
        return convo.transcript.outcome.value if convo.transcript.outcome else "unfinished"

    with FakeChatServer(default=lambda body: FakeReply(content="Right. Go on then.")) as server:
        for script in chosen:
            scripted = play(Conversation(laptop, ScriptedActor(laptop)), script["messages"])
            convo = llm_conversation(laptop, server)
            assert play(convo, script["messages"]) == scripted, script["id"]
            voiced = [t for t in convo.transcript.turns[1:] if t.speaker == "customer"]
            assert voiced and all(t.source == "llm" for t in voiced), script["id"]
        assert server.requests  # the real client spoke to the fake server
