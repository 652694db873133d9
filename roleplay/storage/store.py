"""Durable storage: the one service that talks to the database.

SQLite in ``ROLEPLAY_HOME`` by default, PostgreSQL (or anything SQLAlchemy speaks) by
``ROLEPLAY_DATABASE_URL``. :meth:`Store.open` applies the Alembic migrations, which are named
and recorded in the ``alembic_version`` table. Every turn is committed the moment it is added,
so a server killed mid-conversation loses nothing. Invite and login tokens are stored only as
SHA-256 hashes; passwords as argon2 hashes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Engine, create_engine, delete, event, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from roleplay.config import Settings
from roleplay.core.transcript import TokenUsage, Transcript, Turn
from roleplay.errors import InvalidValue, NotFound, RoleplayError
from roleplay.storage.tables import (
    Grade,
    Invite,
    Login,
    Override,
    PersonaVersion,
    RubricVersion,
    Session,
    TurnRow,
    User,
    utcnow,
)

Role = Literal["reviewer", "trainer", "admin"]
ROLES: tuple[Role, ...] = ("reviewer", "trainer", "admin")
Mode = Literal["practice", "assessment"]
LOGIN_DAYS = 7


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


#: The SQLite file in ROLEPLAY_HOME.
DATABASE_FILE = "roleplay.db"
#: The name a code move gave the file by mistake for a day (2026-12-01); a home that only has
#: that file keeps using it, so no one's sessions seem to vanish.
MISNAMED_FILE = "roleplay.storage.tables"


def default_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / DATABASE_FILE
    if not path.exists() and (settings.home / MISNAMED_FILE).exists():
        path = settings.home / MISNAMED_FILE
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class InviteInfo:
    id: int
    persona_id: str
    mode: Mode
    candidate_name: str | None
    attempts_allowed: int
    time_limit_minutes: float | None
    rubric_id: str | None = None


@dataclass(frozen=True)
class SessionInfo:
    id: int
    invite_id: int
    persona_id: str
    persona_version: str
    engine: str
    model: str | None
    seed: int
    mode: Mode
    status: str
    outcome: str | None
    started_at: datetime
    ended_at: datetime | None
    candidate_name: str | None = None
    grade_status: str | None = None
    overall: float | None = None
    passed: bool | None = None
    source: str = "web"


@dataclass(frozen=True)
class GradeClaim:
    """What a worker asking for a grade got: it (``claimed``), nothing to do (``not pending``:
    done, failed or gone) or another worker's live lease (``busy``, ending in ``wait`` s)."""

    state: Literal["claimed", "not pending", "busy"]
    wait: float = 0.0


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: Role


class Store:
    """Everything the product keeps."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and bring the schema up to date."""
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
        if url.startswith("sqlite"):

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
                cur = dbapi_connection.cursor()
                cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
                cur.execute("PRAGMA synchronous=FULL")  # a committed turn survives a kill
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

        store = cls(engine)
        store.migrate()
        return store

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls.open(default_url(settings))

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        location = resources.files("roleplay.storage").joinpath("migrations")
        config.set_main_option("script_location", str(Path(str(location))))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()

    def _db(self) -> DBSession:
        return self._session()

    # ------------------------------------------------------------------ users
    def insert_user(self, name: str, role: Role, password_hash: str) -> UserInfo:
        with self._db() as db:
            db.add(User(name=name, role=role, password_hash=password_hash))
            try:
                db.commit()
            except IntegrityError:
                raise InvalidValue("name", f"a user named {name!r} already exists") from None
        return UserInfo(name, role)

    def list_users(self) -> list[UserInfo]:
        with self._db() as db:
            return [
                UserInfo(u.name, _role(u.role))
                for u in db.scalars(select(User).order_by(User.name)).all()
            ]

    def _user(self, db: DBSession, name: str) -> User:
        user = db.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFound(f"no user {name!r}")
        return user

    def remove_user(self, name: str) -> None:
        """Delete an account and its sign-ins (sessions they reviewed keep their audit)."""
        with self._db() as db:
            db.delete(self._user(db, name))
            db.commit()

    def set_role(self, name: str, role: Role) -> UserInfo:
        with self._db() as db:
            self._user(db, name).role = role
            db.commit()
        return UserInfo(name, role)

    def set_password_hash(self, name: str, password_hash: str) -> None:
        with self._db() as db:
            self._user(db, name).password_hash = password_hash
            db.commit()

    def user_with_hash(self, name: str) -> tuple[UserInfo, str] | None:
        """The account and its password hash, for
        :class:`roleplay.services.accounts.AccountService`."""
        with self._db() as db:
            user = db.scalar(select(User).where(User.name == name))
            return (
                None
                if user is None
                else (UserInfo(user.name, _role(user.role)), user.password_hash)
            )

    def end_logins(self, name: str) -> None:
        """Sign the account out everywhere."""
        with self._db() as db:
            user = self._user(db, name)
            db.execute(delete(Login).where(Login.user_id == user.id))
            db.commit()

    def create_login(self, name: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._db() as db:
            user = db.scalar(select(User).where(User.name == name))
            if user is None:
                raise NotFound(f"unknown user {name!r}")
            db.add(
                Login(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    expires_at=utcnow() + timedelta(days=LOGIN_DAYS),
                )
            )
            db.commit()
        return token

    def user_for_login(self, token: str | None) -> UserInfo | None:
        if not token:
            return None
        with self._db() as db:
            row = db.execute(
                select(User.name, User.role, Login.expires_at)
                .join(Login, Login.user_id == User.id)
                .where(Login.token_hash == token_hash(token))
            ).first()
        if row is None or _aware(row.expires_at) < utcnow():
            return None
        return UserInfo(row.name, _role(row.role))

    def logout(self, token: str) -> None:
        with self._db() as db:
            login = db.get(Login, token_hash(token))
            if login is not None:
                db.delete(login)
                db.commit()

    # ------------------------------------------------------------------ invites
    def create_invite(
        self,
        persona_id: str,
        mode: str,
        *,
        candidate_name: str | None = None,
        attempts: int = 1,
        time_limit_minutes: float | None = None,
        created_by: str | None = None,
        rubric_id: str | None = None,
    ) -> str:
        """Store an invite (checked by :class:`roleplay.services.invites.InviteService`);
        returns the secret token (only its hash is stored)."""
        token = secrets.token_urlsafe(24)
        with self._db() as db:
            db.add(
                Invite(
                    token_hash=token_hash(token),
                    persona_id=persona_id,
                    mode=mode,
                    candidate_name=candidate_name,
                    attempts_allowed=attempts,
                    time_limit_minutes=time_limit_minutes,
                    created_by=created_by,
                    rubric_id=rubric_id,
                )
            )
            db.commit()
        return token

    def session_rubric(self, session_id: int) -> str | None:
        """The rubric the session's invite asks for (None: the default rubric)."""
        with self._db() as db:
            return db.scalar(
                select(Invite.rubric_id)
                .join(Session, Session.invite_id == Invite.id)
                .where(Session.id == session_id)
            )

    def invite_for_token(self, token: str | None) -> InviteInfo | None:
        if not token or len(token) > 200:
            return None
        with self._db() as db:
            inv = db.scalar(select(Invite).where(Invite.token_hash == token_hash(token)))
        if inv is None:
            return None
        return InviteInfo(
            inv.id,
            inv.persona_id,
            _mode(inv.mode),
            inv.candidate_name,
            inv.attempts_allowed,
            inv.time_limit_minutes,
            inv.rubric_id,
        )

    # ------------------------------------------------------------------ sessions
    def sessions_for_invite(self, invite_id: int) -> list[SessionInfo]:
        with self._db() as db:
            rows = db.scalars(
                select(Session).where(Session.invite_id == invite_id).order_by(Session.id)
            ).all()
            return [_session_info(s) for s in rows]

    def start_session(
        self,
        invite: InviteInfo,
        *,
        persona_version: str,
        engine: str,
        model: str | None,
        seed: int,
        source: str = "web",
    ) -> SessionInfo:
        """A new attempt. The unique (invite, attempt) pair makes the database the judge
        when several starts race for the last attempt: exactly one of them wins."""
        no_attempts = RoleplayError(
            "this invite has no attempts left",
            hint="ask the person who invited you for a new link",
        )
        for _ in range(invite.attempts_allowed + 1):
            with self._db() as db:
                used = (
                    db.scalar(
                        select(func.count())
                        .select_from(Session)
                        .where(Session.invite_id == invite.id)
                    )
                    or 0
                )
                if used >= invite.attempts_allowed:
                    raise no_attempts
                row = Session(
                    invite_id=invite.id,
                    attempt=used + 1,
                    persona_id=invite.persona_id,
                    persona_version=persona_version,
                    engine=engine,
                    model=model,
                    seed=seed,
                    mode=invite.mode,
                    source=source,
                )
                db.add(row)
                try:
                    db.commit()
                except IntegrityError:
                    continue  # another start took this attempt number first: count again
                return _session_info(row)
        raise no_attempts

    @staticmethod
    def _sessions_query() -> Any:
        """Sessions with the invite's candidate name and the grade's status and result."""
        return (
            select(Session, Invite.candidate_name, Grade.status, Grade.overall, Grade.passed)
            .join(Invite, Invite.id == Session.invite_id)
            .outerjoin(Grade, Grade.session_id == Session.id)
        )

    def session(self, session_id: int) -> SessionInfo:
        with self._db() as db:
            found = db.execute(self._sessions_query().where(Session.id == session_id)).first()
            if found is None:
                raise NotFound(f"no session {session_id}")
            return _session_info(*found)

    def add_turn(self, session_id: int, idx: int, turn: Turn) -> None:
        """Commit one turn now. Idempotent for the same index (a retried write)."""
        data = turn.model_dump(mode="json", exclude={"speaker", "text"}, exclude_none=True)
        with self._db() as db:
            exists = db.scalar(
                select(TurnRow.id).where(TurnRow.session_id == session_id, TurnRow.idx == idx)
            )
            if exists is None:
                db.add(
                    TurnRow(
                        session_id=session_id,
                        idx=idx,
                        speaker=turn.speaker,
                        text=turn.text,
                        data=data,
                    )
                )
                db.commit()

    def turn_count(self, session_id: int) -> int:
        with self._db() as db:
            return int(
                db.scalar(select(func.count(TurnRow.id)).where(TurnRow.session_id == session_id))
                or 0
            )

    def turns(self, session_id: int) -> list[Turn]:
        with self._db() as db:
            rows = db.scalars(
                select(TurnRow).where(TurnRow.session_id == session_id).order_by(TurnRow.idx)
            ).all()
            return [
                Turn.model_validate({**r.data, "speaker": r.speaker, "text": r.text}) for r in rows
            ]

    def finish_session(self, session_id: int, outcome: str, usage: TokenUsage | None) -> None:
        with self._db() as db:
            row = db.get(Session, session_id)
            if row is None or row.status == "ended":
                return
            row.status, row.outcome, row.ended_at = "ended", outcome, utcnow()
            row.usage = usage.model_dump() if usage else None
            db.commit()

    def transcript(self, session_id: int) -> Transcript:
        info = self.session(session_id)
        return Transcript(
            persona=info.persona_id,
            persona_version=info.persona_version,
            outcome=info.outcome,
            engine=info.engine,
            model=info.model,
            seed=info.seed,
            started_at=info.started_at,
            ended_at=info.ended_at,
            turns=self.turns(session_id),
        )

    def list_sessions(self) -> list[SessionInfo]:
        with self._db() as db:
            rows = db.execute(self._sessions_query().order_by(Session.id.desc())).all()
            return [_session_info(*row) for row in rows]

    # ------------------------------------------------------------------ grades
    def grade_pending(self, session_id: int, *, again: bool = False) -> None:
        """Mark a session's grade as to do (``again``: even when it has one; the old report
        stays readable until the new one replaces it)."""
        with self._db() as db:
            row = db.scalar(select(Grade).where(Grade.session_id == session_id))
            if row is None:
                db.add(Grade(session_id=session_id, status="pending"))
                db.commit()
            elif again:
                row.status, row.error = "pending", None
                row.claimed_by, row.claimed_until = None, None
                db.commit()

    def claim_grade(self, session_id: int, owner: str, seconds: float) -> GradeClaim:
        """Take a pending grade for ``seconds`` (renew with :meth:`renew_claim`), unless another
        worker's lease on it still holds. Atomic: of two workers asking at once, one gets it."""
        now = utcnow()
        with self._db() as db:
            taken = _rows(
                db.execute(
                    update(Grade)
                    .where(
                        Grade.session_id == session_id,
                        Grade.status == "pending",
                        or_(Grade.claimed_until.is_(None), Grade.claimed_until < now),
                    )
                    .values(claimed_by=owner, claimed_until=now + timedelta(seconds=seconds))
                )
            )
            db.commit()
            if taken == 1:
                return GradeClaim("claimed")
            row = db.execute(
                select(Grade.status, Grade.claimed_until).where(Grade.session_id == session_id)
            ).first()
        if row is None or row.status != "pending":
            return GradeClaim("not pending")
        if row.claimed_until is None:  # released between the two statements: look again now
            return GradeClaim("busy")
        until = _aware(row.claimed_until)
        return GradeClaim("busy", wait=max(0.0, (until - now).total_seconds()))

    def renew_claim(self, session_id: int, owner: str, seconds: float) -> bool:
        """Extend ``owner``'s lease on a grade; False when it no longer holds it."""
        with self._db() as db:
            renewed = _rows(
                db.execute(
                    update(Grade)
                    .where(Grade.session_id == session_id, Grade.claimed_by == owner)
                    .values(claimed_until=utcnow() + timedelta(seconds=seconds))
                )
            )
            db.commit()
        return renewed == 1

    def release_claim(self, session_id: int, owner: str) -> None:
        """Give a grade back (its job will be retried), so the retry need not wait for the lease."""
        with self._db() as db:
            db.execute(
                update(Grade)
                .where(Grade.session_id == session_id, Grade.claimed_by == owner)
                .values(claimed_by=None, claimed_until=None)
            )
            db.commit()

    def pending_grades(self) -> list[int]:
        """Sessions whose grade is still pending (to enqueue again after a restart)."""
        with self._db() as db:
            return list(
                db.scalars(
                    select(Grade.session_id).where(Grade.status == "pending").order_by(Grade.id)
                )
            )

    def save_grade(self, session_id: int, report: dict[str, Any]) -> None:
        prov = report.get("provenance", {})
        with self._db() as db:
            row = db.scalar(select(Grade).where(Grade.session_id == session_id))
            if row is None:
                row = Grade(session_id=session_id)
                db.add(row)
            row.status, row.error, row.report = "done", None, report
            row.claimed_by, row.claimed_until = None, None
            row.overall, row.passed = report.get("overall"), report.get("passed")
            row.engine, row.model = prov.get("engine"), prov.get("model")
            row.rubric_id, row.rubric_hash = prov.get("rubric_id"), prov.get("rubric_hash")
            db.commit()

    def grade_failed(self, session_id: int, error: str) -> None:
        with self._db() as db:
            row = db.scalar(select(Grade).where(Grade.session_id == session_id))
            if row is not None:
                row.status, row.error = "failed", error
                row.claimed_by, row.claimed_until = None, None
                db.commit()

    def add_override(
        self,
        session_id: int,
        criterion: str,
        old_score: int | None,
        new_score: int,
        note: str,
        by_user: str,
    ) -> None:
        with self._db() as db:
            db.add(
                Override(
                    session_id=session_id,
                    criterion=criterion,
                    old_score=old_score,
                    new_score=new_score,
                    note=note,
                    by_user=by_user,
                )
            )
            db.commit()

    def overrides(self, session_id: int) -> list[OverrideInfo]:
        with self._db() as db:
            rows = db.scalars(
                select(Override).where(Override.session_id == session_id).order_by(Override.id)
            ).all()
            return [
                OverrideInfo(
                    r.criterion, r.old_score, r.new_score, r.note, r.by_user, _aware(r.created_at)
                )
                for r in rows
            ]

    # ------------------------------------------------------------------ versions
    @staticmethod
    def _version_table(kind: VersionKind) -> tuple[Any, Any]:
        if kind == "persona":
            return PersonaVersion, PersonaVersion.persona_id
        return RubricVersion, RubricVersion.rubric_id

    def save_version(
        self, kind: VersionKind, item_id: str, yaml_text: str, content_hash: str, user: str
    ) -> int:
        """Store a new version (never overwriting one); returns its number."""
        table, id_col = self._version_table(kind)
        with self._db() as db:
            latest = db.scalar(select(func.max(table.version)).where(id_col == item_id)) or 0
            row = table(
                version=latest + 1, content_hash=content_hash, yaml=yaml_text, created_by=user
            )
            setattr(row, id_col.key, item_id)
            db.add(row)
            db.commit()
            return int(latest + 1)

    def versions(self, kind: VersionKind, item_id: str | None = None) -> list[VersionInfo]:
        """Saved versions, oldest first (of one item, or of all)."""
        table, id_col = self._version_table(kind)
        query = select(table).order_by(id_col, table.version)
        if item_id is not None:
            query = query.where(id_col == item_id)
        with self._db() as db:
            return [
                VersionInfo(
                    getattr(r, id_col.key),
                    r.version,
                    r.content_hash,
                    r.yaml,
                    r.created_by,
                    _aware(r.created_at),
                )
                for r in db.scalars(query).all()
            ]

    def version_by_hash(self, kind: VersionKind, content_hash: str) -> VersionInfo | None:
        table, id_col = self._version_table(kind)
        with self._db() as db:
            r = db.scalar(
                select(table)
                .where(table.content_hash == content_hash)
                .order_by(table.version.desc())
            )
            if r is None:
                return None
            return VersionInfo(
                getattr(r, id_col.key),
                r.version,
                r.content_hash,
                r.yaml,
                r.created_by,
                _aware(r.created_at),
            )

    def grade(self, session_id: int) -> tuple[str, dict[str, Any] | None, str | None] | None:
        """(status, report, error) or None when grading has not started."""
        with self._db() as db:
            row = db.scalar(select(Grade).where(Grade.session_id == session_id))
            return None if row is None else (row.status, row.report, row.error)


@dataclass(frozen=True)
class OverrideInfo:
    criterion: str
    old_score: int | None
    new_score: int
    note: str
    by_user: str
    created_at: datetime


@dataclass(frozen=True)
class VersionInfo:
    item_id: str
    version: int
    content_hash: str
    yaml: str
    created_by: str
    created_at: datetime


VersionKind = Literal["persona", "rubric"]


def _mode(value: str) -> Mode:
    if value not in ("practice", "assessment"):
        raise RoleplayError(f"stored mode {value!r} is not practice or assessment")
    return "practice" if value == "practice" else "assessment"


def _role(value: str) -> Role:
    for role in ROLES:
        if value == role:
            return role
    raise RoleplayError(f"stored role {value!r} is not one of {', '.join(ROLES)}")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _session_info(
    s: Session,
    candidate_name: str | None = None,
    grade_status: str | None = None,
    overall: float | None = None,
    passed: bool | None = None,
) -> SessionInfo:
    return SessionInfo(
        s.id,
        s.invite_id,
        s.persona_id,
        s.persona_version,
        s.engine,
        s.model,
        s.seed,
        _mode(s.mode),
        s.status,
        s.outcome,
        _aware(s.started_at),
        _aware(s.ended_at) if s.ended_at else None,
        candidate_name,
        grade_status,
        overall,
        passed,
        s.source,
    )


def _rows(result: Any) -> int:
    """How many rows an UPDATE changed."""
    return int(cast(CursorResult[Any], result).rowcount)
