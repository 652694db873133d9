"""The admin's page: the accounts, adding and removing them. Only admins reach it.

Handlers call :class:`roleplay.services.accounts.AccountService`; the password box is never echoed
back and Gradio's run history is off, so a password typed here stays nowhere in the browser.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from roleplay.faces.web.auth import current_user, sign_out_button
from roleplay.faces.web.handlers import guarded
from roleplay.services.accounts import ROLES, AccountService


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
            add = gr.Button("Add user", elem_id="u-add")
            remove = gr.Button("Remove user", variant="stop", elem_id="u-remove")
        page.load(lambda: _users(accounts), outputs=table)

        @guarded
        def on_add(user: str, user_role: str, secret: str) -> tuple[pd.DataFrame, str]:
            accounts.add_user(user, user_role, secret)
            return _users(accounts), ""

        add.click(on_add, inputs=[name, role, password], outputs=[table, password])

        @guarded
        def on_remove(user: str, request: gr.Request) -> pd.DataFrame:
            accounts.remove_user(user, by=current_user(request, accounts))
            return _users(accounts)

        remove.click(on_remove, inputs=name, outputs=table)
    return page
