"""Who is signed in, for the server's role checks and for handlers that record a user."""

from __future__ import annotations

from http.cookies import SimpleCookie

import gradio as gr

from roleplay.store import Store

COOKIE = "roleplay_login"


def current_user(request: gr.Request, store: Store) -> str:
    """The signed-in user's name; a clear error if the sign-in has expired."""
    cookie = SimpleCookie(request.headers.get("cookie", ""))
    token = cookie[COOKIE].value if COOKIE in cookie else None
    user = store.user_for_login(token)
    if user is None:
        raise gr.Error("Your sign-in has expired; sign in again.")
    return user.name
