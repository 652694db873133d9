"""What every request passes through before it reaches a route: the HTTP hardening layer.

One pure ASGI middleware (so streaming replies pass through untouched) that

* closes every Gradio route a page does not need: each mounted app answers only the
  routes on :data:`GRADIO_ROUTES` (its page, its assets, the queue it talks through); file
  serving, uploads, the API docs, monitoring, run history and the direct ``call``/``run``
  entry points answer 404 for everyone;
* refuses state-changing requests (POST, PUT, PATCH, DELETE) whose ``Origin`` (or
  ``Referer``) names another site, and drops CORS headers that would let another site read
  a reply with the user's cookies;
* refuses request bodies larger than :data:`MAX_BODY_BYTES`;
* adds security headers to every reply (CSP, frame, referrer, content type sniffing, and
  HSTS when served over TLS).

The login form and sign-out also carry a CSRF token (double-submit cookie); see
:func:`csrf_ok`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Where the Gradio pages are mounted.
GRADIO_MOUNTS = ("/candidate", "/reviewer", "/studio", "/admin")

#: The only routes under a Gradio mount that answer: the page, its assets and config, the
#: queue the page talks through, and the product's own routes registered under a mount.
GRADIO_ROUTES = re.compile(
    r"^(/?|/config/?|/theme\.css|/favicon\.ico|/robots\.txt|/manifest\.json"
    r"|/(assets|static|svelte)/.+"
    r"|/gradio_api/(queue/join|queue/data|cancel|reset/?|startup-events|heartbeat/[\w-]+)"
    r"|/export/sessions\.(csv|json)|/report/\d+)$"
)

#: Requests larger than this are refused (a chat message is capped far below it).
MAX_BODY_BYTES = 256 * 1024

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

#: Gradio's pages need inline scripts (their config) and inline styles; everything else
#: comes from this server only, so no remote script, image or font is ever fetched.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self' data: blob:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

CSRF_COOKIE = "roleplay_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    """The double-submit check: the token sent with the form equals the cookie's."""
    return bool(cookie and submitted) and secrets.compare_digest(str(cookie), str(submitted))


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _mount_of(path: str) -> str | None:
    for mount in GRADIO_MOUNTS:
        if path == mount or path.startswith(mount + "/"):
            return mount
    return None


class Hardening:
    """The ASGI middleware; see the module docstring."""

    def __init__(
        self, app: ASGIApp, *, public_origins: Iterable[str] = (), tls: bool = False
    ) -> None:
        self.app = app
        self.public_origins = {o.lower() for o in public_origins if o}
        self.tls = tls

    # -------------------------------------------------------------- checks
    def _same_site(self, scope: Scope, headers: dict[str, str]) -> bool:
        """Whether a state-changing request comes from this server's own pages."""
        if "origin" in headers:
            claimed: str | None = headers["origin"]  # "null" (sandboxed frames) is foreign
        elif "referer" in headers:
            claimed = origin_of(headers["referer"]) or "null"
        else:
            # No Origin and no Referer: not a browser acting for a signed-in user on
            # another site (browsers send Origin on every cross-site POST).
            return True
        host = headers.get("host", "")
        scheme = "https" if self.tls else scope.get("scheme", "http")
        own = {f"{scheme}://{host}".lower(), *self.public_origins}
        return str(claimed).lower() in own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET").upper()
        headers = _headers(scope)

        mount = _mount_of(path)
        if mount is not None and not GRADIO_ROUTES.match(path[len(mount) :]):
            await _plain(send, 404, "Not found.", self.tls)
            return
        if method == "OPTIONS" or (
            method in UNSAFE_METHODS and not self._same_site(scope, headers)
        ):
            await _plain(send, 403, "Cross-site requests are not accepted.", self.tls)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            await _plain(send, 413, "The request is too large.", self.tls)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise _TooLarge
            return message

        own = {*self.public_origins}
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
                message["headers"] = _secure_headers(message.get("headers", []), own, self.tls)
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not started:
                await _plain(send, 413, "The request is too large.", self.tls)


class _TooLarge(Exception):
    pass


def _secure_headers(
    raw: Iterable[tuple[bytes, bytes]], own: set[str], tls: bool
) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for key, value in raw:
        name = key.lower()
        # Gradio echoes any Origin with credentials allowed: another site must never read
        # a reply with the user's cookies, so CORS headers go unless they name this server.
        if name == b"access-control-allow-origin" and value.decode("latin-1").lower() not in own:
            continue
        if name == b"access-control-allow-credentials":
            continue
        if name in _SET_BY_US:
            continue
        out.append((key, value))
    out.extend(_security_header_list(tls))
    return out


def _security_header_list(tls: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CSP.encode()),
        (b"x-frame-options", b"DENY"),
        # Invite links carry the candidate's token: never send the address to another site.
        # ("no-referrer" would also blank the Origin of our own forms, which the check needs.)
        (b"referrer-policy", b"same-origin"),
        (b"x-content-type-options", b"nosniff"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if tls:
        headers.append((b"strict-transport-security", b"max-age=31536000"))
    return headers


_SET_BY_US = {name for name, _ in _security_header_list(True)}


async def _plain(send: Send, status: int, text: str, tls: bool) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *_security_header_list(tls),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
