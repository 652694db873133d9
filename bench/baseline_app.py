"""The load benchmark's baseline: a bare ``gr.ChatInterface`` over the same conversation engine
(same persona, same actor, LLM or scripted by the same settings), served the same way, but
with no storage, no invites, no page layout. Run: python bench/baseline_app.py --port N."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradio as gr
import uvicorn
from fastapi import FastAPI

from roleplay.config import Settings
from roleplay.core.actors import Delta, Retract
from roleplay.core.conversation import Conversation, make_actor
from roleplay.core.library import PersonaLibrary


def build() -> FastAPI:
    settings = Settings.from_env()
    persona = PersonaLibrary.default(settings).get("damaged-laptop")
    conversations: dict[str, Conversation] = {}

    def respond(message: str, history: list[dict[str, str]], request: gr.Request) -> Iterator[str]:
        key = request.session_hash or "anonymous"
        convo = conversations.get(key)
        if convo is None or convo.ended:
            convo = Conversation(persona, make_actor(persona, settings))
            convo.start()
            conversations[key] = convo
        reply = ""
        for event in convo.send(message):
            if isinstance(event, Delta):
                reply += event.text
                yield reply
            elif isinstance(event, Retract):
                reply = ""

    chat = gr.ChatInterface(respond, api_name="chat")
    chat.queue(default_concurrency_limit=64)
    api = FastAPI()

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return gr.mount_gradio_app(api, chat, path="/chat", footer_links=[], ssr_mode=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=7870)
    args = parser.parse_args()
    uvicorn.run(build(), host="127.0.0.1", port=args.port, log_level="warning")
