"""The server as an attacker sees it: raw HTTP against a real `roleplay serve` process, no
browser and no page code, only the requests anyone on the network could send."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.gradio_queue import GradioCaller
from roleplay.core.library import builtin_dir
from roleplay.storage.store import Store
from tests.web_helpers import ROLEPLAY, Server

RITA = ("rita", "Rita reviews forty calls a day")
TESS = ("tess", "Tess trains the new starters")
FILE_HISTORY = [
    {
        "role": "user",
        "content": [
            {"type": "file", "file": {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}}
        ],
    }
]
PASSWD_LINE = "root:x:0:0"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("security") / "home").start()
    for name, password in (RITA,):
        srv.cli("users", "add", name, "--role", "reviewer", "--password-stdin", stdin=password)
    srv.cli("users", "add", TESS[0], "--role", "trainer", "--password-stdin", stdin=TESS[1])
    yield srv
    srv.stop()


def sign_in(server: Server, name: str, password: str, **headers: str) -> httpx.Client:
    """A client holding a signed-in session, as a browser would after the login form."""
    client = httpx.Client(base_url=server.url, headers=headers, follow_redirects=False)
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    reply = client.post(
        "/login", data={"name": name, "password": password, "csrf": csrf.group(1), "next": ""}
    )
    assert reply.status_code == 303, reply.text
    return client


def invite_token(server: Server, mode: str = "practice", **options: Any) -> str:
    link = server.invite(mode, **options)
    return link.split("token=", 1)[1]


def leaked(messages: list[dict[str, Any]]) -> bool:
    text = json.dumps(messages)
    return "passwd" in text or "gradio.FileData" in text or "/file=" in text


# ----------------------------------------------------------------- 1. arbitrary file read
def test_the_file_history_exploit_returns_nothing(server: Server) -> None:
    token = invite_token(server)
    caller = GradioCaller(f"{server.url}/candidate", {"token": token})
    try:
        # exactly the published exploit: the old send signature, with a file in the history
        assert not leaked(caller.messages("send", ["", FILE_HISTORY, None, None]))
        caller.call("open", [])
        caller.call("start", [None])
        for api, data in [
            ("send", ["Hello", FILE_HISTORY, None, None]),
            ("send", [FILE_HISTORY, None, None]),
            ("retry", [FILE_HISTORY, None, None]),
        ]:
            assert not leaked(caller.messages(api, data)), api
    finally:
        caller.close()
    # the direct entry points and file routes answer nothing, for any path
    db = server.home / "roleplay.db"
    persona = builtin_dir() / "damaged-laptop.yaml"
    with httpx.Client(base_url=server.url) as http:
        for route in ("call/send", "run/send", "api/send", "call/v2/send"):
            reply = http.post(f"/candidate/gradio_api/{route}", json={"data": ["", FILE_HISTORY]})
            assert reply.status_code == 404, route
        for path in ("/etc/passwd", str(db), str(persona), "/proc/self/environ"):
            for app in ("candidate", "reviewer", "studio", "admin"):
                for form in (f"file={path}", f"file{path}", f"proxy={path}"):
                    reply = http.get(f"/{app}/gradio_api/{form}")
                    assert reply.status_code == 404, (app, form)
                    assert PASSWD_LINE not in reply.text
    # and nothing was copied into Gradio's cache
    cache = server.home / "cache" / "gradio"
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_uploads_and_oversized_requests_are_refused(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        for app in ("candidate", "reviewer", "studio", "admin"):
            reply = http.post(
                f"/{app}/gradio_api/upload", files={"files": ("x.txt", b"hello", "text/plain")}
            )
            assert reply.status_code in (401, 404), app
        big = http.post(
            "/candidate/gradio_api/queue/join",
            content=b'{"data": ["' + b"a" * 1_000_000 + b'"]}',
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 413
    token = invite_token(server)
    caller = GradioCaller(f"{server.url}/candidate", {"token": token})
    try:
        caller.call("open", [])
        caller.call("start", [None])
        last = caller.messages("send", ["x" * 3000, None, None])[-1]
        assert "the limit is 2,000" in json.dumps(last)
    finally:
        caller.close()
    store = Store.open(f"sqlite:///{server.home / 'roleplay.db'}")
    try:
        invite = store.invite_for_token(token)
        assert invite is not None
        session = store.sessions_for_invite(invite.id)[0]
        assert [t.speaker for t in store.turns(session.id)] == ["customer"]  # nothing stored
    finally:
        store.close()


# ----------------------------------------------------------------- 2. downloads
def test_downloads_need_a_signed_in_reviewer_on_every_request(server: Server) -> None:
    urls = ["/reviewer/export/sessions.csv", "/reviewer/export/sessions.json", "/reviewer/report/1"]
    with httpx.Client(base_url=server.url, follow_redirects=False) as anonymous:
        for url in urls:
            reply = anonymous.get(url)
            assert reply.status_code == 303 and reply.headers["location"].startswith("/login")
    trainer = sign_in(server, *TESS)
    assert trainer.get(urls[0]).status_code == 403
    server.cli("users", "add", "rob", "--role", "reviewer", "--password-stdin", stdin=RITA[1])
    rob = sign_in(server, "rob", RITA[1])
    reply = rob.get(urls[0], params={"candidate": "Ann"})
    assert reply.status_code == 200 and reply.text.startswith("id,candidate,persona")
    assert "attachment" in reply.headers["content-disposition"]
    assert reply.headers["cache-control"] == "no-store"
    server.cli("users", "remove", "rob", "--yes")
    assert rob.get(urls[0]).status_code == 303  # removed: the same cookie opens nothing
    rita = sign_in(server, *RITA)
    assert rita.get(urls[1]).status_code == 200
    csrf = rita.cookies["roleplay_csrf"]
    rita.post("/logout", headers={"x-csrf-token": csrf})
    assert rita.get(urls[1]).status_code == 303


# ----------------------------------------------------------------- 3. browser storage, logout
def test_logout_is_a_post_with_a_token_and_clears_site_storage(server: Server) -> None:
    rita = sign_in(server, *RITA)
    assert rita.get("/logout").status_code == 200  # a confirmation form, nothing more
    assert rita.get("/reviewer/").status_code == 200  # still signed in
    assert rita.post("/logout").status_code == 403  # no token
    assert rita.post("/logout", headers={"x-csrf-token": "guess"}).status_code == 403
    assert rita.get("/reviewer/").status_code == 200
    reply = rita.post("/logout", headers={"x-csrf-token": rita.cookies["roleplay_csrf"]})
    assert reply.status_code == 303
    assert "storage" in reply.headers["clear-site-data"]
    assert rita.get("/reviewer/").status_code == 303


def test_no_app_records_run_history_or_shows_raw_errors(server: Server) -> None:
    rita = sign_in(server, *RITA)
    with httpx.Client(base_url=server.url) as anonymous:
        configs = [anonymous.get("/candidate/config").json(), rita.get("/reviewer/config").json()]
    configs.append(sign_in(server, *TESS).get("/studio/config").json())
    for config in configs:
        assert config["run_history"] is False and config["show_error"] is False


# ----------------------------------------------------------------- 4. attempts
def test_simultaneous_starts_cannot_beat_the_attempts_limit(server: Server) -> None:
    token = invite_token(server, "assessment", attempts=1)

    def start(_: int) -> None:
        caller = GradioCaller(f"{server.url}/candidate", {"token": token})
        try:
            caller.call("open", [])
            caller.messages("start", [None])
        finally:
            caller.close()

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(start, range(10)))
    store = Store.open(f"sqlite:///{server.home / 'roleplay.db'}")
    try:
        invite = store.invite_for_token(token)
        assert invite is not None
        assert len(store.sessions_for_invite(invite.id)) == 1
    finally:
        store.close()


# ----------------------------------------------------------------- 6. sign-in
def test_sign_in_needs_the_form_token_and_is_throttled(server: Server) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=False) as http:
        no_token = http.post("/login", data={"name": RITA[0], "password": RITA[1]})
        assert no_token.status_code == 403
        assert "roleplay_login" not in no_token.headers.get("set-cookie", "")
    server.cli("users", "add", "vic", "--role", "reviewer", "--password-stdin", stdin=TESS[1])
    with httpx.Client(base_url=server.url, follow_redirects=False) as http:
        csrf = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text)
        assert csrf is not None
        for _ in range(5):
            wrong = http.post("/login", data={"name": "vic", "password": "x", "csrf": csrf[1]})
            assert wrong.status_code == 401
        right = http.post("/login", data={"name": "vic", "password": TESS[1], "csrf": csrf[1]})
        assert right.status_code == 429 and "Too many sign-in attempts" in right.text
        assert int(right.headers["retry-after"]) > 0


def test_weak_passwords_are_refused(server: Server) -> None:
    for weak in ("12345678", " " * 10, "password123"):
        out = subprocess.run(
            [str(ROLEPLAY), "users", "add", "weak", "--role", "reviewer", "--password-stdin"],
            env=server.env,
            input=weak + "\n",
            capture_output=True,
            text=True,
        )
        assert out.returncode != 0 and "password:" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr


def test_cross_site_requests_are_refused_and_cors_never_allows_another_site(
    server: Server,
) -> None:
    evil = {"origin": "https://evil.example"}
    with httpx.Client(base_url=server.url, follow_redirects=False) as http:
        token = invite_token(server)
        body = {"data": [], "fn_index": 0, "session_hash": "abc", "event_data": None}
        reply = http.post(
            "/candidate/gradio_api/queue/join", params={"token": token}, json=body, headers=evil
        )
        assert reply.status_code == 403
        assert http.post("/login", data={"name": "x"}, headers=evil).status_code == 403
        assert http.post("/logout", headers={**evil, "x-csrf-token": "a"}).status_code == 403
        assert http.options("/candidate/gradio_api/queue/join", headers=evil).status_code == 403
        # Gradio echoes any Origin when the Host is not localhost; we never let it through
        spoofed = http.get("/candidate/config", headers={**evil, "host": "roleplay.example.com"})
        assert spoofed.headers.get("access-control-allow-origin") != evil["origin"]
        assert "access-control-allow-credentials" not in spoofed.headers


def test_secure_cookies_and_hsts_behind_tls(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from roleplay.config import Settings
    from roleplay.faces.web.server import build_app

    settings = Settings.from_env(
        {"ROLEPLAY_HOME": str(tmp_path), "ROLEPLAY_PUBLIC_URL": "https://roleplay.example.com"}
    )
    app = build_app(settings)
    with TestClient(app.asgi, base_url="https://roleplay.example.com") as client:
        reply = client.get("/login")
        assert "secure" in reply.headers["set-cookie"].lower()
        assert reply.headers["strict-transport-security"].startswith("max-age=")


# ----------------------------------------------------------------- 7, 8. text, links, leaks
def test_invite_links_come_from_the_public_address_not_the_host_header(server: Server) -> None:
    rita = sign_in(server, *RITA)
    caller = GradioCaller(
        f"{server.url}/reviewer",
        cookies=dict(rita.cookies),
        headers={"host": "evil.example"},
    )
    try:
        link = caller.call("on_invite", ["damaged-laptop", "practice", "Zoe", 1, None, "default"])[
            0
        ]
    finally:
        caller.close()
    assert link.startswith(server.url + "/candidate/?token=")


def test_roleplay_invite_links_to_the_port_the_server_runs_on(server: Server) -> None:
    """`roleplay invite` beside a server started with --port links to that port, not 7860;
    once the server stops it falls back to the default (the record names a dead process)."""
    link = server.cli("invite", "--persona", "damaged-laptop", "--mode", "practice")
    assert link.startswith(f"{server.url}/candidate/?token=")
    assert server.port != 7860


def test_unexpected_errors_reach_the_browser_as_a_reference_only(server: Server) -> None:
    rita = sign_in(server, *RITA)
    caller = GradioCaller(f"{server.url}/reviewer", cookies=dict(rita.cookies))
    try:
        last = caller.messages("on_open", ["not a number"])[-1]
    finally:
        caller.close()
    shown = json.dumps(last)
    assert last.get("success") is False
    for internal in ("Traceback", "ValueError", "could not convert", 'File \\"'):
        assert internal not in shown


def test_security_headers_and_closed_endpoints(server: Server) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=False) as http:
        for url in ("/login", "/candidate/", "/healthz"):
            headers = http.get(url).headers
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["x-frame-options"] == "DENY"
            assert headers["referrer-policy"] == "same-origin"
            assert headers["x-content-type-options"] == "nosniff"
        for url in (
            "/candidate/monitoring",
            "/candidate/monitoring/summary",
            "/candidate/gradio_api/info",
            "/candidate/gradio_api/openapi.json",
            "/candidate/gradio_api/runs",
            "/openapi.json",
            "/docs",
        ):
            assert http.get(url).status_code == 404, url
        assert http.get("/favicon.ico").status_code == 204
