"""Test doubles that ship with the package, for tests, demos and benchmarks.

* :class:`FakeChatServer`: a real HTTP server on loopback speaking the OpenAI
  chat-completions API (streaming and not), scripted reply by reply: text, tool calls, HTTP
  errors, delays, invalid bodies and streams that drop midway. The real openai and LangChain
  clients talk to it exactly as they would to vLLM or OpenAI.
* :class:`ScriptedChatModel`: a LangChain chat model with queued replies, for unit tests.

Both raise (or answer 500) on a call nobody queued, and ``assert_complete()`` checks that
every queued reply was used.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr


@dataclass
class FakeReply:
    """One scripted answer of the fake server."""

    content: str | None = ""
    status: int = 200
    delay: float = 0.0
    drop_after: int | None = None
    tool_calls: list[dict[str, Any]] | None = None
    raw_body: str | None = None
    chunk_delay: float = 0.0


Responder = Callable[[dict[str, Any]], FakeReply]


@dataclass
class FakeChatServer:
    """A loopback OpenAI-compatible chat-completions server. Use as a context manager."""

    default: Responder | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: deque[FakeReply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- scripting --------------------------------------------------------------
    def enqueue(self, *replies: FakeReply | str) -> None:
        with self._lock:
            for r in replies:
                self._queue.append(FakeReply(content=r) if isinstance(r, str) else r)

    def assert_complete(self) -> None:
        assert not self.unexpected, f"unexpected calls: {len(self.unexpected)}"
        assert not self._queue, f"{len(self._queue)} queued replies were never requested"

    def _next(self, body: dict[str, Any]) -> FakeReply | None:
        with self._lock:
            self.requests.append(body)
            if self._queue:
                return self._queue.popleft()
        if self.default is not None:
            return self.default(body)
        self.unexpected.append(body)
        return None

    # -- lifecycle --------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    def start(self) -> FakeChatServer:
        server = _QuietServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up (a timeout test giving up, a dropped stream) are expected here;
    anything else is still reported."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _words(text: str) -> list[str]:
    out, word = [], ""
    for ch in text:
        word += ch
        if ch == " ":
            out.append(word)
            word = ""
    if word:
        out.append(word)
    return out


def _handler(fake: FakeChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _json(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._json(400, {"error": {"message": "bad json"}})
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            reply = fake._next(body)
            if reply is None:
                self._json(500, {"error": {"message": "FakeChatServer: unexpected call"}})
                return
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                self._json(
                    reply.status,
                    {"error": {"message": f"scripted {reply.status}", "type": "server_error"}},
                )
                return
            if reply.raw_body is not None:
                raw = reply.raw_body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                return
            if body.get("stream"):
                self._stream(body, reply)
            else:
                self._complete(body, reply)

        def _usage(self, body: dict[str, Any], content: str) -> dict[str, int]:
            prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
            completion = len(content.split())
            return {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }

        def _complete(self, body: dict[str, Any], reply: FakeReply) -> None:
            message: dict[str, Any] = {"role": "assistant", "content": reply.content}
            finish = "stop"
            if reply.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": f"call_{uuid.uuid4().hex[:8]}",
                        "type": "function",
                        "function": {"name": tc["name"], "arguments": json.dumps(tc["args"])},
                    }
                    for tc in reply.tool_calls
                ]
                message["content"] = None
                finish = "tool_calls"
            self._json(
                200,
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": self._usage(body, reply.content or ""),
                },
            )

        def _stream(self, body: dict[str, Any], reply: FakeReply) -> None:
            # Chunked encoding, as real servers stream: a drop is then a protocol error
            # (no terminating chunk), not a clean end of body.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"

            def write(data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def event(payload: dict[str, Any]) -> None:
                write(f"data: {json.dumps(payload)}\n\n".encode())

            def send(delta: dict[str, Any], finish: str | None = None) -> None:
                event(
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": body.get("model", "fake"),
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                )

            send({"role": "assistant", "content": ""})
            for n, word in enumerate(_words(reply.content or "")):
                if reply.drop_after is not None and n >= reply.drop_after:
                    self.close_connection = True
                    self.connection.shutdown(2)  # dropped: no finish, no [DONE], no last chunk
                    return
                if reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
                send({"content": word})
            send({}, "stop")
            if (body.get("stream_options") or {}).get("include_usage"):
                event(
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": body.get("model", "fake"),
                        "choices": [],
                        "usage": self._usage(body, reply.content or ""),
                    }
                )
            write(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler


class ScriptedChatModel(BaseChatModel):
    """A chat model that answers with queued replies (strings, AIMessages or exceptions).

    ``calls`` records the messages of every call; an unqueued call raises AssertionError.
    """

    _queue: deque[str | AIMessage | BaseException] = PrivateAttr(default_factory=deque)
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        return self._calls

    def enqueue(self, *replies: str | AIMessage | BaseException) -> ScriptedChatModel:
        self._queue.extend(replies)
        return self

    def assert_complete(self) -> None:
        assert not self._queue, f"{len(self._queue)} queued replies were never requested"

    def _take(self, messages: list[BaseMessage]) -> AIMessage:
        self._calls.append(list(messages))
        if not self._queue:
            raise AssertionError("ScriptedChatModel: unexpected call, nothing queued")
        reply = self._queue.popleft()
        if isinstance(reply, BaseException):
            raise reply
        return reply if isinstance(reply, AIMessage) else AIMessage(reply)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._take(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._take(messages)
        for word in _words(str(reply.content)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))
