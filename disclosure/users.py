"""People and their credentials: areas, users, argon2 passwords, tokens, sessions, lockout."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import ceil

import msgspec
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure.access import ROLES
from disclosure.db import Database
from disclosure.models import Area, Credential, Division, LoginAttempt, User
from disclosure.passwords import weakness
from disclosure.settings import Settings

Clock = Callable[[], datetime]
TOKEN_PREFIX = "dsc_"
# A failure until the check ends: attempts racing each other count the ones still running.
FAILING = ("bad", "checking")
TOUCH_EVERY = timedelta(minutes=1)

DEFAULT_HASHER = PasswordHash((Argon2Hasher(),))

# How long a process trusts a credential it found live without looking it up again: revoking a
# credential or disabling its user takes effect in every other process within this bound (at
# once in the process that did it). Never longer than the credential's own expiry.
CREDENTIAL_CACHE = timedelta(seconds=5)
# The most credentials a process remembers; beyond it, the oldest are forgotten first.
CREDENTIAL_CACHE_SIZE = 10_000


def _lock_key(kind: str, value: str) -> int:
    """A PostgreSQL advisory lock key (signed 64-bit) for one username or source."""
    digested = hashlib.sha256(f"login:{kind}:{value}".encode()).digest()
    return int(struct.unpack(">q", digested[:8])[0])


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
    """How long credentials live and how hard guessing is made.

    Wrong passwords are throttled per username and source (`max_failures` in `window`), per
    source across usernames (`source_limit` failures in `source_window`), and slowed per username
    from anywhere (each check beyond `max_failures` waits twice as long as the one before, up to
    `slow_cap`): no one can lock another person out, only slow their sign-in a little.
    """

    token_ttl: timedelta = timedelta(days=30)
    session_ttl: timedelta = timedelta(hours=8)
    session_idle: timedelta = timedelta(minutes=30)
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    source_limit: int = 30
    source_window: timedelta = timedelta(minutes=5)
    slow_cap: timedelta = timedelta(seconds=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginPolicy:
        return cls(
            token_ttl=timedelta(days=settings.token_days),
            session_ttl=timedelta(hours=settings.session_hours),
            session_idle=timedelta(minutes=settings.session_idle_minutes),
            max_failures=settings.login_max_failures,
            window=timedelta(minutes=settings.lockout_minutes),
            source_limit=settings.login_source_limit,
        )

    def slowing(self, failures: int) -> timedelta:
        """How long after the last check on a username the next may run."""
        if failures < self.max_failures:
            return timedelta(0)
        return min(self.slow_cap, timedelta(seconds=2 ** min(failures - self.max_failures, 16)))


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

    async def area_names(self) -> dict[str, str]:
        """Each area's code and name, as the public form lists them."""
        async with self.db.read() as session:
            return {a.code: a.name for a in await session.scalars(select(Area))}

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
        if why := weakness(password, username=username):
            raise UserError(why)
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
        self, username: str, password: str, *, source: str, kind: str = "bearer",
        replacing: str | None = None,
    ) -> Issued:
        """Check a password, within the throttles; `replacing` is a session this one ends."""
        username, source = username[:64], source[:64]
        attempt = await self._reserve(username, source)
        user = await self._user(username)
        stored = user.password_hash if user is not None else await asyncio.to_thread(self._dummy)
        ok = await asyncio.to_thread(self.hasher.verify, password, stored)
        ok = ok and user is not None and user.disabled_at is None
        async with self.db.write() as session, session.begin():
            await session.execute(
                update(LoginAttempt).where(LoginAttempt.id == attempt)
                .values(outcome="ok" if ok else "bad")
            )
        if not ok or user is None:
            raise BadCredentials()
        if replacing is not None:
            await self._revoke_secret(replacing)
        return await self._issue(user.id, kind=kind, label=f"sign-in from {source}")

    async def _user(self, username: str) -> User | None:
        async with self.db.read() as session:
            return await session.scalar(select(User).where(User.username == username))

    async def _reserve(self, username: str, source: str) -> int:
        """Count the failures and record this attempt as one, atomically; or refuse it.

        SQLite's write lock serialises every writer; on PostgreSQL transaction-scoped advisory
        locks on the source and the username do, so parallel guesses queue up here.
        """
        now = self.now()
        async with self.db.write() as session, session.begin():
            if self.db.dialect == "postgresql":
                for key in sorted({_lock_key("source", source), _lock_key("user", username)}):
                    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            wait = await self._throttled(session, username, source, now)
            if wait is not None:
                raise TooManyAttempts(max(1, ceil(wait.total_seconds())))
            attempt = LoginAttempt(username=username, source=source, attempted_at=now,
                                   outcome="checking")
            session.add(attempt)
            await session.flush()
            return attempt.id

    async def _throttled(
        self, session: AsyncSession, username: str, source: str, now: datetime
    ) -> timedelta | None:
        """How long this attempt must wait, or None if it may be checked now."""
        p = self.policy
        failing = LoginAttempt.outcome.in_(FAILING)
        from_source = await session.scalars(
            select(LoginAttempt.attempted_at)
            .where(LoginAttempt.source == source, failing,
                   LoginAttempt.attempted_at > now - p.source_window)
            .order_by(LoginAttempt.attempted_at.desc()).limit(p.source_limit)
        )
        source_failures = list(from_source)
        if len(source_failures) >= p.source_limit:
            return source_failures[-1] + p.source_window - now
        # A sign-in ends the failures before it: all of them for the slowing of the username,
        # only its own address's for the throttle of that address.
        oks: dict[str, datetime] = {src: at for src, at in (await session.execute(
            select(LoginAttempt.source, func.max(LoginAttempt.attempted_at))
            .where(LoginAttempt.username == username, LoginAttempt.outcome == "ok",
                   LoginAttempt.attempted_at > now - p.window)
            .group_by(LoginAttempt.source)
        )).all()}
        last_ok = max(oks.values(), default=None)
        pair_ok = oks.get(source)
        recent: list[tuple[str, datetime]] = [(src, at) for src, at in (await session.execute(
            select(LoginAttempt.source, LoginAttempt.attempted_at)
            .where(LoginAttempt.username == username, failing,
                   LoginAttempt.attempted_at > now - p.window)
            .order_by(LoginAttempt.attempted_at.desc())
        )).all()]
        pair = [at for src, at in recent if src == source and (pair_ok is None or at > pair_ok)]
        if len(pair) >= p.max_failures:
            return pair[p.max_failures - 1] + p.window - now
        recent = [(src, at) for src, at in recent if last_ok is None or at > last_ok]
        if recent and (slow := p.slowing(len(recent))):
            ready = recent[0][1] + slow
            if ready > now:
                return ready - now
        return None
    async def authenticate(self, secret: str, *, kind: str) -> Principal | None:
        """The principal behind a live credential of this kind, or None.

        A web session also ends when it has been idle for `session_idle`; its last use is kept
        to the minute, so a busy session writes at most once a minute.
        """
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        key = (kind, digest(secret))
        now = self.now()
        if (trusted := self._trusted.get(key)) is not None:
            if now < trusted[1]:
                return trusted[0]
            del self._trusted[key]
        query = (
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
        if kind == "session":
            query = query.where(or_(
                Credential.last_used_at.is_(None),
                Credential.last_used_at > now - self.policy.session_idle,
            ))
        async with self.db.read() as session:
            row = (await session.execute(query)).first()
        if row is None:
            return None
        credential, user = row
        if kind == "session" and (
            credential.last_used_at is None or now - credential.last_used_at >= TOUCH_EVERY
        ):
            async with self.db.write() as session, session.begin():
                await session.execute(
                    update(Credential).where(Credential.id == credential.id)
                    .values(last_used_at=now)
                )
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

    async def _revoke_secret(self, secret: str) -> None:
        async with self.db.write() as session, session.begin():
            await session.execute(
                update(Credential)
                .where(Credential.secret_hash == digest(secret), Credential.revoked_at.is_(None))
                .values(revoked_at=self.now())
            )
        self._trusted.clear()

    async def revoke_others(self, principal: Principal) -> int:
        """End every other live session and token of this user; how many were ended."""
        now = self.now()
        async with self.db.write() as session, session.begin():
            user_id = select(Credential.user_id).where(Credential.id == principal.credential_id)
            ended = await session.execute(
                update(Credential)
                .where(
                    Credential.user_id == user_id.scalar_subquery(),
                    Credential.id != principal.credential_id,
                    Credential.revoked_at.is_(None),
                    Credential.expires_at > now,
                )
                .values(revoked_at=now)
            )
        self._trusted.clear()
        return int(getattr(ended, "rowcount", 0) or 0)

    async def prune(self, session: AsyncSession, *, keep: timedelta) -> tuple[int, int]:
        """Delete sign-in attempts and ended credentials older than `keep`: (attempts, creds)."""
        cutoff = self.now() - keep
        attempts = await session.execute(
            delete(LoginAttempt).where(LoginAttempt.attempted_at < cutoff)
        )
        credentials = await session.execute(
            delete(Credential).where(or_(
                Credential.expires_at < cutoff, Credential.revoked_at < cutoff,
            ))
        )
        return (int(getattr(attempts, "rowcount", 0) or 0),
                int(getattr(credentials, "rowcount", 0) or 0))
