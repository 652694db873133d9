"""The admin's page: the accounts, adding them, changing roles and passwords, removing them
(asked once more). Only admins reach it.

Handlers call :class:`roleplay.services.accounts.AccountService`; the password box is never echoed
back and Gradio's run history is off, so a password typed here stays nowhere in the browser.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr
import pandas as pd

from roleplay.faces.web.auth import current_user, sign_out_button
from roleplay.faces.web.handlers import guarded
from roleplay.services.accounts import ROLES, AccountService


def _said(text: str) -> str:
    return f"<p role='status'>{html.escape(text)}</p>"


def _users(accounts: AccountService) -> pd.DataFrame:
    return pd.DataFrame([[u.name, u.role] for u in accounts.list_users()], columns=["name", "role"])


def build(accounts: AccountService) -> gr.Blocks:
    page = gr.Blocks(title="Roleplay Evaluator: users")
    with page:
        with gr.Row():
            gr.Markdown("## Users · [Sessions](/reviewer/)")
            sign_out_button()
        table = gr.Dataframe(interactive=False, elem_id="users")
        with gr.Row():
            name = gr.Textbox(label="Name", elem_id="u-name")
            role = gr.Dropdown(list(ROLES), value="reviewer", label="Role", elem_id="u-role")
            password = gr.Textbox(
                label="Password (10+ characters, hard to guess)",
                type="password",
                elem_id="u-password",
            )
        with gr.Row():
            add = gr.Button("Add user", elem_id="u-add")
            set_role = gr.Button("Change role", elem_id="u-set-role")
            set_password = gr.Button("Set new password", elem_id="u-set-password")
            remove = gr.Button("Remove user", variant="stop", elem_id="u-remove")
        with gr.Row(visible=False) as confirm:
            question = gr.HTML("", elem_id="u-question")
            remove_yes = gr.Button("Yes, remove", variant="stop", elem_id="u-remove-yes")
            remove_no = gr.Button("Keep the account", elem_id="u-remove-no")
        done = gr.HTML("", elem_id="u-status", elem_classes=["status"])
        page.load(lambda: _users(accounts), outputs=table)

        @guarded
        def on_add(user: str, user_role: str, secret: str) -> tuple[pd.DataFrame, str, str]:
            added = accounts.add_user(user, user_role, secret)
            return _users(accounts), "", _said(f"Added {added.name} as a {added.role}.")

        add.click(on_add, inputs=[name, role, password], outputs=[table, password, done])

        @guarded
        def on_set_role(user: str, user_role: str, request: gr.Request) -> tuple[Any, ...]:
            changed = accounts.set_role(user.strip(), user_role, by=current_user(request, accounts))
            return _users(accounts), _said(f"{changed.name} is now a {changed.role}.")

        set_role.click(on_set_role, inputs=[name, role], outputs=[table, done])

        @guarded
        def on_set_password(user: str, secret: str) -> tuple[str, str]:
            accounts.set_password(user.strip(), secret)
            return "", _said(f"{user.strip()} has a new password; their sign-ins have ended.")

        set_password.click(on_set_password, inputs=[name, password], outputs=[password, done])

        @guarded
        def on_remove_asked(user: str) -> tuple[Any, ...]:
            if not user.strip():
                raise gr.Error("Type the name of the account to remove.")
            ask = f"<b>Remove the account {html.escape(user.strip())}?</b> This cannot be undone."
            return gr.update(visible=True), ask

        remove.click(on_remove_asked, inputs=name, outputs=[confirm, question])
        remove_no.click(lambda: gr.update(visible=False), outputs=confirm)

        @guarded
        def on_remove(user: str, request: gr.Request) -> tuple[Any, ...]:
            accounts.remove_user(user, by=current_user(request, accounts))
            return _users(accounts), gr.update(visible=False), _said(f"Removed {user.strip()}.")

        remove_yes.click(on_remove, inputs=name, outputs=[table, confirm, done])
    return page
