"""Invite links as a service: the reviewer's dashboard and ``roleplay invite`` both make them
here, so they check the same things and print the same link.

The link is built from the configured public address (``ROLEPLAY_PUBLIC_URL``), never from a
request's ``Host`` header, which anyone can set.
"""

from __future__ import annotations

from dataclasses import dataclass

from roleplay.config import Settings
from roleplay.errors import InvalidValue
from roleplay.services.catalog import Catalog
from roleplay.storage.store import Store

MODES = ("practice", "assessment")


@dataclass(frozen=True)
class NewInvite:
    token: str
    link: str


class InviteService:
    def __init__(self, store: Store, catalog: Catalog, settings: Settings) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings

    def link(self, token: str) -> str:
        return f"{self.settings.base_url()}/candidate/?token={token}"

    def create(
        self,
        persona_id: str,
        mode: str,
        *,
        candidate_name: str | None = None,
        attempts: int = 1,
        time_limit_minutes: float | None = None,
        created_by: str | None = None,
        rubric_id: str = "default",
    ) -> NewInvite:
        """A new invite; the secret token is shown once, only its hash is stored. Its
        sessions are graded with ``rubric_id`` (e.g. chat-email for a written desk)."""
        self.catalog.persona(persona_id)  # NotFound, with the closest ids, when unknown
        self.catalog.rubric(rubric_id)
        if mode not in MODES:
            raise InvalidValue("mode", "must be practice or assessment")
        if attempts < 1 or attempts > 100:
            raise InvalidValue("attempts", "must be a whole number from 1 to 100")
        if time_limit_minutes is not None and not 0 < time_limit_minutes <= 24 * 60:
            raise InvalidValue("time_limit", "must be more than 0 and at most 1440 minutes")
        name = (candidate_name or "").strip() or None
        if name is not None and len(name) > 120:
            raise InvalidValue("candidate", "give a name of at most 120 characters")
        token = self.store.create_invite(
            persona_id,
            mode,
            candidate_name=name,
            attempts=attempts,
            time_limit_minutes=time_limit_minutes,
            created_by=created_by,
            rubric_id=None if rubric_id == "default" else rubric_id,
        )
        return NewInvite(token, self.link(token))
