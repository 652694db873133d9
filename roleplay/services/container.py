"""Every service, built once from the settings: what a face (the web app, the CLI) holds.

Faces never open the database or build a conversation themselves; they ask this for the
service that does. Parts are built on first use, so ``roleplay personas validate`` opens no
database and ``roleplay serve`` opens one.
"""

from __future__ import annotations

from functools import cached_property

from roleplay.config import Settings
from roleplay.core.library import PersonaLibrary
from roleplay.services.accounts import AccountService
from roleplay.services.candidates import CandidateService
from roleplay.services.catalog import Catalog
from roleplay.services.grading import GradingService
from roleplay.services.invites import InviteService
from roleplay.services.personas import PersonaService
from roleplay.services.review import ReviewService
from roleplay.services.studio import StudioService
from roleplay.storage.store import Store


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def from_env(cls) -> Services:
        return cls(Settings.from_env())

    @cached_property
    def store(self) -> Store:
        return Store.from_settings(self.settings)

    @cached_property
    def library(self) -> PersonaLibrary:
        return PersonaLibrary.default(self.settings)

    @cached_property
    def catalog(self) -> Catalog:
        return self.candidates.catalog

    @cached_property
    def candidates(self) -> CandidateService:
        return CandidateService(self.store, self.settings, self.library)

    @cached_property
    def grading(self) -> GradingService:
        return self.candidates.grading

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(self.store, rate_limit_storage=self.settings.rate_limit_storage)

    @cached_property
    def invites(self) -> InviteService:
        return InviteService(self.store, self.catalog, self.settings)

    @cached_property
    def review(self) -> ReviewService:
        return ReviewService(self.store, self.catalog)

    @cached_property
    def studio(self) -> StudioService:
        return StudioService(self.store, self.settings, self.catalog)

    @cached_property
    def personas(self) -> PersonaService:
        return PersonaService(self.settings, self.catalog)

    def close(self) -> None:
        """Finish background grading and release the database."""
        if "candidates" in self.__dict__:
            self.candidates.wait_for_grading()
            self.candidates.close()
        if "store" in self.__dict__:
            self.store.close()
