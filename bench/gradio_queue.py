"""A minimal client for Gradio's queue protocol, as the browser page speaks it: join an event
(with the page's query string), then read the session's event stream until it completes.

The load benchmark and the security tests both use it: it sends exactly the JSON a browser
(or an attacker imitating one) would send.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx


class GradioCaller:
    def __init__(
        self,
        base: str,
        query: dict[str, str] | None = None,
        timeout: float = 60.0,
        *,
        cookies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.base = base.rstrip("/")
        self.query = query or {}
        self.session = secrets.token_hex(8)
        self.http = httpx.Client(timeout=timeout, cookies=cookies, headers=headers)
        config = self.http.get(f"{self.base}/config").json()
        self.events: dict[str, tuple[int, int | None]] = {}
        for dep in config["dependencies"]:
            name = dep.get("api_name")
            if name:
                targets = dep.get("targets") or [[None]]
                self.events[name] = (dep["id"], targets[0][0] if targets else None)

    def join(self, api_name: str, data: list[Any]) -> httpx.Response:
        """Queue one event; the raw reply (its event id, or the error)."""
        fn_index, trigger = self.events[api_name]
        body = {
            "data": data,
            "event_data": None,
            "fn_index": fn_index,
            "trigger_id": trigger,
            "session_hash": self.session,
        }
        return self.http.post(f"{self.base}/gradio_api/queue/join", params=self.query, json=body)

    def messages(self, api_name: str, data: list[Any]) -> list[dict[str, Any]]:
        """Run one event; every message the event stream sent for it, up to completion."""
        joined = self.join(api_name, data)
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        deadline = time.monotonic() + self.http.timeout.read  # type: ignore[operator]
        seen: list[dict[str, Any]] = []
        with self.http.stream(
            "GET", f"{self.base}/gradio_api/queue/data", params={"session_hash": self.session}
        ) as stream:
            for line in stream.iter_lines():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{api_name} did not complete")
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") not in (None, event_id):
                    continue
                seen.append(msg)
                if msg.get("msg") == "process_completed":
                    return seen
        raise RuntimeError(f"{api_name}: stream ended before completion")

    def call(self, api_name: str, data: list[Any]) -> list[Any]:
        """Run one event to completion; returns its final output data."""
        msg = self.messages(api_name, data)[-1]
        output = msg.get("output") or {}
        if not msg.get("success", True) or "error" in output:
            raise RuntimeError(f"{api_name} failed: {output.get('error')}")
        return list(output.get("data") or [])

    def close(self) -> None:
        self.http.close()
