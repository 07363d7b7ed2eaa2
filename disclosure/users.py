"""People and their credentials: areas, users, argon2 passwords, tokens, sessions, lockout."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from disclosure.access import ROLES
from disclosure.db import Database
from disclosure.models import Area, Credential, Division, LoginAttempt, User
from disclosure.settings import Settings

Clock = Callable[[], datetime]
TOKEN_PREFIX = "dsc_"
MIN_PASSWORD_LENGTH = 12

DEFAULT_HASHER = PasswordHash((Argon2Hasher(),))

# How long a process trusts a credential it found live without looking it up again: revoking a
# credential or disabling its user takes effect in every other process within this bound (at
# once in the process that did it). Never longer than the credential's own expiry.
CREDENTIAL_CACHE = timedelta(seconds=5)
# The most credentials a process remembers; beyond it, the oldest are forgotten first.
CREDENTIAL_CACHE_SIZE = 10_000


def utcnow() -> datetime:
    return datetime.now(UTC)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class UserError(Exception):
    """A user-management request that cannot be done as asked."""


class BadCredentials(Exception):
    """Wrong username or password; deliberately says no more."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many sign-in attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoginPolicy:
    """How long credentials live and how hard guessing is made."""

    token_ttl: timedelta = timedelta(days=30)
    session_ttl: timedelta = timedelta(hours=8)
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    source_limit: int = 30
    source_window: timedelta = timedelta(minutes=5)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(
            token_ttl=timedelta(days=settings.token_days),
            session_ttl=timedelta(hours=settings.session_hours),
            max_failures=settings.login_max_failures,
            lockout=timedelta(minutes=settings.lockout_minutes),
            source_limit=settings.login_source_limit,
        )


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated person behind a request."""

    username: str
    display_name: str
    area: str
    roles: frozenset[str]
    credential_id: int
    kind: str
    csrf_hash: str | None = None

    def csrf_matches(self, token: str | None) -> bool:
        return (
            token is not None
            and self.csrf_hash is not None
            and hmac.compare_digest(digest(token), self.csrf_hash)
        )


class UserView(msgspec.Struct, kw_only=True):
    username: str
    display_name: str
    area: str
    roles: list[str]
    disabled: bool
    created_at: datetime


class Issued(msgspec.Struct, kw_only=True):
    """A new credential: the secret is shown once and never stored."""

    secret: str
    kind: str
    expires_at: datetime
    csrf_token: str | None = None


def _view(user: User) -> UserView:
    return UserView(
        username=user.username, display_name=user.display_name, area=user.area,
        roles=list(user.roles), disabled=user.disabled_at is not None, created_at=user.created_at,
    )


class Users:
    """The service the CLI and the API use for people and credentials."""

    def __init__(
        self,
        db: Database,
        *,
        now: Clock = utcnow,
        policy: LoginPolicy | None = None,
        hasher: PasswordHash = DEFAULT_HASHER,
    ) -> None:
        self.db = db
        self.now = now
        self.policy = policy or LoginPolicy()
        self.hasher = hasher
        self._dummy_hash: str | None = None
        # (kind, SHA-256 of the secret) -> the principal and until when it is trusted.
        self._trusted: dict[tuple[str, str], tuple[Principal, datetime]] = {}

    def _dummy(self) -> str:
        # Unknown usernames are checked against this, so a miss costs as much as a wrong password.
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    # Areas and accounts -------------------------------------------------------------------

    async def add_area(self, code: str, *, name: str, divisions: Iterable[str] = ()) -> None:
        """Add an area, or add divisions to an existing one."""
        async with self.db.write() as session, session.begin():
            if await session.get(Area, code) is None:
                session.add(Area(code=code, name=name))
                await session.flush()
            known = set(await session.scalars(select(Division.code).where(Division.area == code)))
            session.add_all(
                Division(area=code, code=d, name=d) for d in dict.fromkeys(divisions)
                if d not in known
            )

    async def areas(self) -> dict[str, list[str]]:
        async with self.db.read() as session:
            codes = list(await session.scalars(select(Area.code).order_by(Area.code)))
            rows = (await session.execute(select(Division.area, Division.code))).all()
        found: dict[str, list[str]] = {c: [] for c in codes}
        for area, code in rows:
            found[area].append(code)
        return found

    async def add(
        self,
        username: str,
        *,
        password: str,
        area: str,
        roles: Iterable[str],
        display_name: str | None = None,
        created_by: str,
    ) -> UserView:
        roles = sorted(set(roles))
        if not roles:
            raise UserError("give at least one role")
        if unknown := [r for r in roles if r not in ROLES]:
            raise UserError(f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
        if not username or len(username) > 64 or not username.replace(".", "").replace(
            "-", ""
        ).replace("_", "").isalnum():
            raise UserError("a username is 1-64 letters, digits, '.', '-' or '_'")
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        try:
            async with self.db.write() as session, session.begin():
                if await session.get(Area, area) is None:
                    raise UserError(f"no area {area!r}: add it first with `disclosure areas add`")
                user = User(
                    username=username, display_name=display_name or username, area=area,
                    roles=roles, password_hash=hashed, created_at=self.now(),
                    created_by=created_by, disabled_at=None,
                )
                session.add(user)
        except IntegrityError as exc:
            raise UserError(f"a user {username!r} already exists") from exc
        return _view(user)

    async def disable(self, username: str) -> None:
        """Disable an account and revoke every credential it holds."""
        now = self.now()
        async with self.db.write() as session, session.begin():
            user = await session.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserError(f"no user {username!r}")
            user.disabled_at = user.disabled_at or now
            await session.execute(
                update(Credential)
                .where(Credential.user_id == user.id, Credential.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        self._trusted.clear()

    async def list(self, *, area: str | None = None) -> list[UserView]:
        query = select(User).order_by(User.area, User.username)
        if area is not None:
            query = query.where(User.area == area)
        async with self.db.read() as session:
            return [_view(u) for u in await session.scalars(query)]

    # Credentials --------------------------------------------------------------------------

    async def issue(
        self, username: str, *, kind: str = "bearer", label: str | None = None
    ) -> Issued:
        """A new credential for an enabled user (the CLI's way; sign-in uses `login`)."""
        async with self.db.read() as session:
            user = await session.scalar(select(User).where(User.username == username))
        if user is None or user.disabled_at is not None:
            raise UserError(f"no enabled user {username!r}")
        return await self._issue(user.id, kind=kind, label=label)

    async def _issue(self, user_id: int, *, kind: str, label: str | None) -> Issued:
        now = self.now()
        ttl = self.policy.session_ttl if kind == "session" else self.policy.token_ttl
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32) if kind == "session" else None
        async with self.db.write() as session, session.begin():
            session.add(Credential(
                user_id=user_id, kind=kind, secret_hash=digest(secret),
                csrf_hash=digest(csrf) if csrf else None, label=label, created_at=now,
                expires_at=now + ttl, revoked_at=None,
            ))
        return Issued(secret=secret, kind=kind, expires_at=now + ttl, csrf_token=csrf)

    async def login(
        self, username: str, password: str, *, source: str, kind: str = "bearer"
    ) -> Issued:
        """Check a password, within the per-source rate limit and the per-username lockout."""
        now = self.now()
        p = self.policy
        async with self.db.read() as session:
            recent_from_source = await session.scalar(
                select(func.count()).where(
                    LoginAttempt.source == source,
                    LoginAttempt.attempted_at > now - p.source_window,
                )
            )
            last_ok = await session.scalar(
                select(func.max(LoginAttempt.attempted_at)).where(
                    LoginAttempt.username == username, LoginAttempt.outcome == "ok"
                )
            )
            since = max(now - p.lockout, last_ok) if last_ok else now - p.lockout
            failures = list(await session.scalars(
                select(LoginAttempt.attempted_at)
                .where(
                    LoginAttempt.username == username, LoginAttempt.outcome == "bad",
                    LoginAttempt.attempted_at > since,
                )
                .order_by(LoginAttempt.attempted_at.desc())
                .limit(p.max_failures)
            ))
            user = await session.scalar(select(User).where(User.username == username))
        if (recent_from_source or 0) >= p.source_limit:
            await self._attempt(username, source, "limited")
            raise TooManyAttempts(int(p.source_window.total_seconds()))
        if len(failures) >= p.max_failures:
            await self._attempt(username, source, "locked")
            # Locked until the oldest of the last N failures falls out of the window.
            until = failures[-1] + p.lockout
            raise TooManyAttempts(max(1, int((until - now).total_seconds())))
        stored = user.password_hash if user is not None else await asyncio.to_thread(self._dummy)
        ok = await asyncio.to_thread(self.hasher.verify, password, stored)
        if not ok or user is None or user.disabled_at is not None:
            await self._attempt(username, source, "bad")
            raise BadCredentials()
        await self._attempt(username, source, "ok")
        return await self._issue(user.id, kind=kind, label=f"sign-in from {source}")

    async def _attempt(self, username: str, source: str, outcome: str) -> None:
        async with self.db.write() as session, session.begin():
            session.add(LoginAttempt(
                username=username[:64], source=source[:64], attempted_at=self.now(),
                outcome=outcome,
            ))

    async def authenticate(self, secret: str, *, kind: str) -> Principal | None:
        """The principal behind a live credential of this kind, or None."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        key = (kind, digest(secret))
        now = self.now()
        if (trusted := self._trusted.get(key)) is not None:
            if now < trusted[1]:
                return trusted[0]
            del self._trusted[key]
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(Credential, User)
                    .join(User, User.id == Credential.user_id)
                    .where(
                        Credential.secret_hash == key[1],
                        Credential.kind == kind,
                        Credential.revoked_at.is_(None),
                        Credential.expires_at > now,
                        User.disabled_at.is_(None),
                    )
                )
            ).first()
        if row is None:
            return None
        credential, user = row
        principal = Principal(
            username=user.username, display_name=user.display_name, area=user.area,
            roles=frozenset(user.roles), credential_id=credential.id, kind=kind,
            csrf_hash=credential.csrf_hash,
        )
        while len(self._trusted) >= CREDENTIAL_CACHE_SIZE:
            del self._trusted[next(iter(self._trusted))]
        self._trusted[key] = (principal, min(now + CREDENTIAL_CACHE, credential.expires_at))
        return principal

    async def revoke(self, credential_id: int) -> None:
        async with self.db.write() as session, session.begin():
            await session.execute(
                update(Credential)
                .where(Credential.id == credential_id, Credential.revoked_at.is_(None))
                .values(revoked_at=self.now())
            )
        self._trusted.clear()
