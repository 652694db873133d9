"""The admin's page: the accounts, adding and removing them. Only admins reach it."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from roleplay.errors import RoleplayError
from roleplay.store import ROLES, Store
from roleplay.web.auth import current_user


def _users(store: Store) -> pd.DataFrame:
    return pd.DataFrame([[u.name, u.role] for u in store.list_users()], columns=["name", "role"])


def build(store: Store) -> gr.Blocks:
    page = gr.Blocks(title="Roleplay Evaluator: users")
    with page:
        gr.Markdown("## Users · [Sessions](/reviewer/) · [Sign out](/logout)")
        table = gr.Dataframe(interactive=False, elem_id="users")
        with gr.Row():
            name = gr.Textbox(label="Name", elem_id="u-name")
            role = gr.Dropdown(list(ROLES), value="reviewer", label="Role", elem_id="u-role")
            password = gr.Textbox(
                label="Password (8+ characters)", type="password", elem_id="u-password"
            )
            add = gr.Button("Add user", elem_id="u-add")
            remove = gr.Button("Remove user", variant="stop", elem_id="u-remove")
        page.load(lambda: _users(store), outputs=table)

        def on_add(user: str, user_role: str, secret: str) -> tuple[pd.DataFrame, str]:
            try:
                store.add_user(user, user_role, secret)
            except RoleplayError as exc:
                raise gr.Error(exc.message) from None
            return _users(store), ""

        add.click(on_add, inputs=[name, role, password], outputs=[table, password])

        def on_remove(user: str, request: gr.Request) -> pd.DataFrame:
            if user.strip() == current_user(request, store):
                raise gr.Error("You cannot remove your own account.")
            try:
                store.remove_user(user.strip())
            except RoleplayError as exc:
                raise gr.Error(exc.message) from None
            return _users(store)

        remove.click(on_remove, inputs=name, outputs=table)
    return page
