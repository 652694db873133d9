"""The server: FastAPI routes (health, sign-in, sign-out, the reviewer's downloads), role
checks on every protected path, the hardening layer around everything
(:mod:`roleplay.faces.web.security`), and the Gradio pages mounted under it. Works fully offline:
no analytics, no web fonts."""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from roleplay.config import Settings
from roleplay.faces.web import admin_page, candidate_page, reviewer_page, studio_page
from roleplay.faces.web.auth import COOKIE
from roleplay.faces.web.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    Hardening,
    csrf_ok,
    new_csrf_token,
    origin_of,
)
from roleplay.services.accounts import SignInThrottled, UserInfo
from roleplay.services.container import Services

log = logging.getLogger("roleplay.faces.web")

#: Which roles may open which path prefixes. Everything else is public (candidate, health).
PROTECTED: dict[str, tuple[str, ...]] = {
    "/reviewer": ("reviewer", "admin"),
    "/studio": ("trainer", "admin"),
    "/admin": ("admin",),
}
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
)
LOGIN_DAYS = 7

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:24em;margin:4em auto;padding:0 1em}}
input,button{{display:block;width:100%;margin:.4em 0;padding:.5em;box-sizing:border-box}}
.error{{color:#b00}}</style></head><body><h1>Roleplay Evaluator</h1>{body}</body></html>"""

_LOGIN_FORM = """<p>Reviewers, trainers and admins sign in here. Candidates use the link they
were sent.</p><p class="error" role="alert">{error}</p>
<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<input type="hidden" name="csrf" value="{csrf}">
<label>Name <input name="name" id="name" autocomplete="username"></label>
<label>Password <input name="password" id="password" type="password"
autocomplete="current-password"></label><button type="submit" id="signin">Sign in</button>
</form>"""

_LOGOUT_FORM = """<p>Sign out of Roleplay Evaluator on this browser?</p>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{csrf}">
<button type="submit" id="signout">Sign out</button></form>"""


@dataclass
class App:
    """The assembled server and the services behind it."""

    fastapi: FastAPI
    asgi: Hardening
    services: Services


def _home_for(user: UserInfo) -> str:
    return {"reviewer": "/reviewer/", "trainer": "/studio/", "admin": "/admin/"}[user.role]


def _private_cache(settings: Settings) -> None:
    """Gradio's cache in the data folder, readable by this user only, not in /tmp."""
    cache = settings.home / "cache" / "gradio"
    cache.mkdir(parents=True, exist_ok=True)
    cache.chmod(0o700)
    os.environ["GRADIO_TEMP_DIR"] = str(cache)


def build_app(settings: Settings | None = None) -> App:
    settings = settings or Settings.from_env()
    _private_cache(settings)
    services = Services(settings)
    accounts = services.accounts
    # Grading workers run inside the server unless ROLEPLAY_GRADING_WORKERS=0 (then
    # `roleplay worker` runs them); grades left pending by a killed process are enqueued again.
    services.candidates.queue.start_workers()
    resumed = services.candidates.resume_grading()
    if resumed:
        logging.getLogger(__name__).info("enqueued %d grade(s) left pending", resumed)
    api = FastAPI(title="Roleplay Evaluator", docs_url=None, redoc_url=None, openapi_url=None)
    secure = settings.tls

    @api.middleware("http")
    async def check_role(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        for prefix, roles in PROTECTED.items():
            if path == prefix or path.startswith(prefix + "/"):
                user = accounts.user_for_login(request.cookies.get(COOKIE))
                if user is None:
                    if request.method == "GET" and "gradio_api" not in path:
                        return RedirectResponse(f"/login?next={prefix}/", status_code=303)
                    return JSONResponse({"error": "sign in first"}, status_code=401)
                if user.role not in roles:
                    return HTMLResponse(
                        "<h1>Not allowed</h1><p>Your role cannot open this page.</p>",
                        status_code=403,
                    )
        return await call_next(request)

    def page(title: str, body: str, status: int = 200, csrf: str | None = None) -> HTMLResponse:
        response = HTMLResponse(_PAGE.format(title=title, body=body), status_code=status)
        response.headers["cache-control"] = "no-store"
        if csrf is not None:
            response.set_cookie(CSRF_COOKIE, csrf, samesite="strict", secure=secure, path="/")
        return response

    def csrf_for(request: Request) -> str:
        return request.cookies.get(CSRF_COOKIE) or new_csrf_token()

    def login_page(request: Request, error: str = "", nxt: str = "", status: int = 200) -> Response:
        token = csrf_for(request)
        body = _LOGIN_FORM.format(
            error=html.escape(error), next=html.escape(_safe_next(nxt)), csrf=token
        )
        return page("Sign in", body, status, csrf=token)

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @api.get("/", response_model=None)
    def root(request: Request) -> Response:
        user = accounts.user_for_login(request.cookies.get(COOKIE))
        return RedirectResponse(_home_for(user) if user else "/login", status_code=303)

    @api.get("/login", response_model=None)
    def login_form(request: Request, next: str = "") -> Response:
        return login_page(request, nxt=next)

    @api.post("/login", response_model=None)
    def login(
        request: Request,
        name: str = Form(""),
        password: str = Form(""),
        next: str = Form(""),
        csrf: str = Form(""),
    ) -> Response:
        if not csrf_ok(request.cookies.get(CSRF_COOKIE), csrf):
            return login_page(request, "The sign-in form expired; please try again.", next, 403)
        address = request.client.host if request.client else "unknown"
        try:
            signed = accounts.sign_in(name, password, address)
        except SignInThrottled as exc:
            log.warning("sign-in throttled for %r from %s", name[:80], address)
            response = login_page(request, f"Too many sign-in attempts; {exc.hint}.", next, 429)
            response.headers["retry-after"] = str(exc.retry_after_seconds)
            return response
        if signed is None:
            return login_page(request, "Wrong name or password.", next, 401)
        response = RedirectResponse(_safe_next(next) or _home_for(signed.user), status_code=303)
        response.set_cookie(
            COOKIE,
            signed.token,
            httponly=True,
            samesite="lax",
            secure=secure,
            max_age=LOGIN_DAYS * 24 * 3600,
        )
        # A fresh CSRF token for the signed-in session.
        response.set_cookie(
            CSRF_COOKIE, new_csrf_token(), samesite="strict", secure=secure, path="/"
        )
        return response

    @api.get("/logout", response_model=None)
    def logout_form(request: Request) -> Response:
        token = csrf_for(request)
        return page("Sign out", _LOGOUT_FORM.format(csrf=token), csrf=token)

    @api.post("/logout", response_model=None)
    async def logout(request: Request) -> Response:
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
        if not csrf_ok(request.cookies.get(CSRF_COOKIE), submitted):
            return page("Sign out", "<p>Sign-out needs the form on this site.</p>", 403)
        accounts.sign_out(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        response.delete_cookie(CSRF_COOKIE)
        # Gradio keeps state in the browser's storage: clear everything this site stored.
        response.headers["clear-site-data"] = '"cache", "cookies", "storage"'
        return response

    reviewer_page.register_routes(api, services.review)

    mount = {
        "theme": THEME,
        "footer_links": [],
        "ssr_mode": False,
        # Raw exception text never reaches a browser (handlers log it with a reference).
        "show_error": False,
        # Gradio would otherwise keep every call's inputs (passwords too) in localStorage.
        "run_history": False,
        # No page serves files: nothing may be copied into Gradio's cache, and nothing uploaded.
        "allowed_paths": [],
        "blocked_paths": [str(Path(os.path.abspath(os.sep)))],
        "max_file_size": 1,
    }
    pages = [
        ("/candidate", candidate_page.build(services.candidates), candidate_page.CONCURRENCY),
        (
            "/reviewer",
            reviewer_page.build(services.review, services.catalog, services.invites, accounts),
            16,
        ),
        ("/studio", studio_page.build(services.studio, accounts), 8),
        ("/admin", admin_page.build(accounts), 4),
    ]
    for path, blocks, concurrency in pages:
        blocks.queue(default_concurrency_limit=concurrency)
        gr.mount_gradio_app(api, blocks, path=path, **mount)
        # Gradio checks file paths only for apps it launched itself; a mounted app is
        # checked the same way once marked launched.
        blocks.has_launched = True
    origins = [o for o in [origin_of(settings.public_url or "")] if o]
    return App(api, Hardening(api, public_origins=origins, tls=secure), services)


def _safe_next(target: str) -> str:
    """Only local paths: never redirect a signed-in user to another site."""
    ok = target.startswith("/") and not target.startswith(("//", "/\\"))
    return target if ok else ""


def serve(host: str = "127.0.0.1", port: int = 7860, settings: Settings | None = None) -> None:
    import uvicorn

    settings = settings or Settings.from_env()
    if settings.public_url is None:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        settings = settings.model_copy(update={"public_url": f"http://{shown}:{port}"})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = build_app(settings)
    print(f"Roleplay Evaluator on http://{host}:{port}/  (health: /healthz)", flush=True)
    # `roleplay invite` on this machine builds links on the port this server really runs on
    record = settings.server_record
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"url": settings.base_url(), "pid": os.getpid()}), "utf-8")
    try:
        uvicorn.run(app.asgi, host=host, port=port, log_level="warning")
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(record.read_text(encoding="utf-8")).get("pid") == os.getpid():
                record.unlink()
