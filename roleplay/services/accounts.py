"""Accounts as a service: who may sign in, with which role, and how hard a password must be.

The web app's sign-in, the admin page and ``roleplay users`` all go through
:class:`AccountService`; :class:`~roleplay.storage.store.Store` only keeps the rows.

* Passwords: at least :data:`MIN_PASSWORD_LENGTH` characters and a zxcvbn strength of at
  least :data:`MIN_STRENGTH` (of 4). zxcvbn carries frequency lists of leaked passwords,
  names and words, so ``12345678``, ``password1`` or eight spaces are refused with its own
  explanation. Stored as argon2 hashes.
* Sign-in throttling (the ``limits`` library, moving windows): after
  :data:`ACCOUNT_LIMIT` failed sign-ins for one name, or :data:`ADDRESS_LIMIT` from one
  address, every sign-in for it is refused, the right password included, until the window
  moves on. Unknown names are throttled like known ones, and both get the same answer, so
  the throttle tells nothing about which accounts exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from zxcvbn import zxcvbn

from roleplay.errors import InvalidValue, RoleplayError
from roleplay.storage.store import ROLES, Role, Store, UserInfo

__all__ = ["ROLES", "AccountService", "Role", "SignIn", "SignInThrottled", "UserInfo"]

MIN_PASSWORD_LENGTH = 10
MIN_STRENGTH = 3
ACCOUNT_LIMIT = parse("5 per 15 minutes")
ADDRESS_LIMIT = parse("20 per 15 minutes")

_hasher = PasswordHasher()
#: Verifying against this keeps an unknown name as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password, only here to spend the same time")


class SignInThrottled(RoleplayError):
    """Too many failed sign-ins for this name or from this address."""

    def __init__(self, retry_after_seconds: int) -> None:
        minutes = max(1, -(-retry_after_seconds // 60))
        super().__init__(
            "too many sign-in attempts",
            hint=f"wait {minutes} minute{'s' if minutes != 1 else ''} and try again",
        )
        self.retry_after_seconds = retry_after_seconds


def password_problem(name: str, password: str) -> str | None:
    """Why ``password`` is not good enough for the account ``name``; None when it is."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters (a few words make a good password)"
    if len(password) > 256:
        return "use at most 256 characters"
    verdict = zxcvbn(password, user_inputs=[name])
    if verdict["score"] < MIN_STRENGTH:
        warning = str(verdict["feedback"].get("warning") or "").rstrip(".")
        why = f" ({warning[0].lower() + warning[1:]})" if warning else ""
        return f"too easy to guess{why}; add another uncommon word or two"
    return None


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise InvalidValue("role", f"must be one of {', '.join(ROLES)}, not {role!r}")


@dataclass(frozen=True)
class SignIn:
    """A successful sign-in: the user and the login token for their cookie."""

    user: UserInfo
    token: str


class AccountService:
    def __init__(self, store: Store, *, rate_limit_storage: str = "memory://") -> None:
        self.store = store
        self._limiter = MovingWindowRateLimiter(storage_from_string(rate_limit_storage))

    # ------------------------------------------------------------------ accounts
    def add_user(self, name: str, role: str, password: str) -> UserInfo:
        name = _check_name(name)
        checked = check_role(role)
        problem = password_problem(name, password)
        if problem:
            raise InvalidValue("password", problem)
        if any(u.name == name for u in self.store.list_users()):
            raise InvalidValue("name", f"a user named {name!r} already exists")
        return self.store.insert_user(name, checked, _hasher.hash(password))

    def list_users(self) -> list[UserInfo]:
        return self.store.list_users()

    def set_role(self, name: str, role: str, *, by: str | None = None) -> UserInfo:
        checked = check_role(role)
        if by is not None and name == by and checked != "admin":
            raise InvalidValue("role", "you cannot take the admin role from your own account")
        return self.store.set_role(name, checked)

    def set_password(self, name: str, password: str) -> None:
        """A new password; every existing sign-in of the account ends."""
        problem = password_problem(name, password)
        if problem:
            raise InvalidValue("password", problem)
        self.store.set_password_hash(name, _hasher.hash(password))
        self.store.end_logins(name)

    def remove_user(self, name: str, *, by: str | None = None) -> None:
        if by is not None and name.strip() == by:
            raise InvalidValue("name", "you cannot remove your own account")
        self.store.remove_user(name.strip())

    # ------------------------------------------------------------------ signing in
    def sign_in(self, name: str, password: str, address: str) -> SignIn | None:
        """Check a name and password; None when wrong. Raises SignInThrottled when this
        name or address has failed too often, whatever the password."""
        name = name.strip()[:80]
        keys = [(ACCOUNT_LIMIT, "account", name.lower()), (ADDRESS_LIMIT, "address", address)]
        for limit, kind, key in keys:
            if not self._limiter.test(limit, kind, key):
                reset = self._limiter.get_window_stats(limit, kind, key).reset_time
                raise SignInThrottled(int(max(1.0, reset - time.time())))
        user = self._verify(name, password)
        if user is None:
            for limit, kind, key in keys:
                self._limiter.hit(limit, kind, key)
            return None
        return SignIn(user, self.store.create_login(user.name))

    def _verify(self, name: str, password: str) -> UserInfo | None:
        found = self.store.user_with_hash(name)
        stored = found[1] if found else _DUMMY_HASH
        try:
            _hasher.verify(stored, password[:256])
        except (VerificationError, InvalidHashError):
            return None
        return found[0] if found else None

    def user_for_login(self, token: str | None) -> UserInfo | None:
        return self.store.user_for_login(token)

    def sign_out(self, token: str | None) -> None:
        if token:
            self.store.logout(token)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 80:
        raise InvalidValue("name", "give a user name of 1 to 80 characters")
    if any(not ch.isprintable() for ch in name):
        raise InvalidValue("name", "use letters, digits, spaces and punctuation only")
    return name
