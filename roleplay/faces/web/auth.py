"""Who is signed in, for the server's role checks and for handlers that record a user."""

from __future__ import annotations

from http.cookies import SimpleCookie

import gradio as gr

from roleplay.services.accounts import AccountService

COOKIE = "roleplay_login"


def current_user(request: gr.Request, accounts: AccountService) -> str:
    """The signed-in user's name; a clear error if the sign-in has expired."""
    cookie = SimpleCookie(request.headers.get("cookie", ""))
    token = cookie[COOKIE].value if COOKIE in cookie else None
    user = accounts.user_for_login(token)
    if user is None:
        raise gr.Error("Your sign-in has expired; sign in again.", print_exception=False)
    return user.name


#: Sign-out in place: a POST carrying the CSRF token from its cookie, then the login page.
SIGN_OUT_JS = """() => {
  const m = document.cookie.match(/(?:^|; )roleplay_csrf=([^;]*)/);
  const token = m ? decodeURIComponent(m[1]) : "";
  fetch("/logout", {method: "POST", credentials: "same-origin",
                    headers: {"X-CSRF-Token": token}})
    .finally(() => window.location.replace("/login"));
}"""


def sign_out_button() -> gr.Button:
    """A "Sign out" button for a page header."""
    button = gr.Button("Sign out", size="sm", scale=0, min_width=100, elem_id="signout")
    button.click(None, js=SIGN_OUT_JS)
    return button
