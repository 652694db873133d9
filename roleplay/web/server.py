"""The server: FastAPI routes (health, login), role checks on every protected path, and the
Gradio pages mounted under it. Works fully offline: no analytics, no web fonts."""

from __future__ import annotations

import html
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from roleplay.candidate import CandidateService
from roleplay.config import Settings
from roleplay.library import PersonaLibrary
from roleplay.store import Store, UserInfo
from roleplay.studio import StudioService
from roleplay.web import admin_page, candidate_page, reviewer_page, studio_page
from roleplay.web.auth import COOKIE

#: Which roles may open which path prefixes. Everything else is public (candidate, health).
PROTECTED: dict[str, tuple[str, ...]] = {
    "/reviewer": ("reviewer", "admin"),
    "/studio": ("trainer", "admin"),
    "/admin": ("admin",),
}
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
)

_LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Sign in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:24em;margin:4em auto}}
input,button{{display:block;width:100%;margin:.4em 0;padding:.5em}}
.error{{color:#b00}}</style></head><body><h1>Roleplay Evaluator</h1>
<p>Reviewers, trainers and admins sign in here. Candidates use the link they were sent.</p>
<p class="error">{error}</p>
<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<label>Name <input name="name" id="name" autocomplete="username"></label>
<label>Password <input name="password" id="password" type="password"
autocomplete="current-password"></label><button type="submit" id="signin">Sign in</button>
</form></body></html>"""


@dataclass
class App:
    """The assembled server and the services behind it."""

    fastapi: FastAPI
    store: Store
    candidates: CandidateService


def _home_for(user: UserInfo) -> str:
    return {"reviewer": "/reviewer/", "trainer": "/studio/", "admin": "/admin/"}[user.role]


def build_app(settings: Settings | None = None) -> App:
    settings = settings or Settings.from_env()
    store = Store.from_settings(settings)
    library = PersonaLibrary.default(settings)
    candidates = CandidateService(store, settings, library)
    api = FastAPI(title="Roleplay Evaluator", docs_url=None, redoc_url=None)

    @api.middleware("http")
    async def check_role(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        for prefix, roles in PROTECTED.items():
            if path == prefix or path.startswith(prefix + "/"):
                user = store.user_for_login(request.cookies.get(COOKIE))
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

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/", response_model=None)
    def root(request: Request) -> Response:
        user = store.user_for_login(request.cookies.get(COOKIE))
        return RedirectResponse(_home_for(user) if user else "/login", status_code=303)

    @api.get("/login", response_class=HTMLResponse)
    def login_form(next: str = "") -> str:
        return _LOGIN_PAGE.format(error="", next=html.escape(_safe_next(next)))

    @api.post("/login", response_model=None)
    def login(name: str = Form(""), password: str = Form(""), next: str = Form("")) -> Response:
        user = store.authenticate(name, password)
        if user is None:
            page = _LOGIN_PAGE.format(
                error="Wrong name or password.", next=html.escape(_safe_next(next))
            )
            return HTMLResponse(page, status_code=401)
        response = RedirectResponse(_safe_next(next) or _home_for(user), status_code=303)
        response.set_cookie(
            COOKIE,
            store.create_login(user.name),
            httponly=True,
            samesite="lax",
            max_age=7 * 24 * 3600,
        )
        return response

    @api.get("/logout")
    def logout(request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        if token:
            store.logout(token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    mount = {"theme": THEME, "footer_links": [], "ssr_mode": False}
    candidate_blocks = candidate_page.build(candidates)
    candidate_blocks.queue(default_concurrency_limit=64)
    gr.mount_gradio_app(api, candidate_blocks, path="/candidate", **mount)
    reviewer_blocks = reviewer_page.build(store, candidates.catalog)
    reviewer_blocks.queue(default_concurrency_limit=16)
    gr.mount_gradio_app(api, reviewer_blocks, path="/reviewer", **mount)
    studio_blocks = studio_page.build(StudioService(store, settings, candidates.catalog))
    studio_blocks.queue(default_concurrency_limit=8)
    gr.mount_gradio_app(api, studio_blocks, path="/studio", **mount)
    admin_blocks = admin_page.build(store)
    admin_blocks.queue(default_concurrency_limit=4)
    gr.mount_gradio_app(api, admin_blocks, path="/admin", **mount)
    return App(api, store, candidates)


def _safe_next(target: str) -> str:
    """Only local paths: never redirect a signed-in user to another site."""
    return target if target.startswith("/") and not target.startswith("//") else ""


def serve(host: str = "127.0.0.1", port: int = 7860, settings: Settings | None = None) -> None:
    import uvicorn

    app = build_app(settings)
    print(f"Roleplay Evaluator on http://{host}:{port}/  (health: /healthz)", flush=True)
    uvicorn.run(app.fastapi, host=host, port=port, log_level="warning")
