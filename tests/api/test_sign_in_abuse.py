"""Sign-in under attack: parallel guessing, locking out someone else, spoofed addresses, weak
passwords, and sessions that end (ASVS 2.2, 3.3)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, text

from api.app import create_app
from disclosure import jobs
from disclosure.db import Database
from disclosure.models import Credential, LoginAttempt
from disclosure.users import UserError, Users
from disclosure.workflow import Workflow
from tests.api.conftest import BASE_URL, OWN, PASSWORD, People, settings_for
from tests.conftest import FakeClock

OFFICER = "disclosure_officer.derbyshire"
WRONG = "not the password at all"


def login(username: str = OFFICER, password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "password": password}


def from_address(app: Litestar, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


async def checks(workflow: Workflow, username: str = OFFICER) -> int:
    """How many passwords were checked and found wrong for this username."""
    async with workflow.db.read() as session:
        return int(await session.scalar(
            select(func.count()).where(LoginAttempt.username == username,
                                       LoginAttempt.outcome == "bad")
        ) or 0)


async def test_thirty_parallel_wrong_passwords_get_five_checks(
    workflow: Workflow, people: People
) -> None:
    app = create_app(settings_for(workflow), workflow)
    async with from_address(app, "203.0.113.9") as attacker:
        answers = await asyncio.gather(*(
            attacker.post("/api/tokens", json=login(password=f"{WRONG} {n}")) for n in range(30)
        ))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 5 + [429] * 25
    assert await checks(workflow) == 5


async def test_one_person_cannot_lock_another_out(
    workflow: Workflow, people: People, clock: FakeClock
) -> None:
    app = create_app(settings_for(workflow), workflow)
    async with from_address(app, "203.0.113.9") as attacker, \
            from_address(app, "198.51.100.7") as owner:
        for _ in range(5):
            assert (await attacker.post("/api/tokens", json=login(password=WRONG))
                    ).status_code == 401
        refused = await attacker.post("/api/tokens", json=login())
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
        # The real user, from their own address, is slowed by seconds at most, never locked.
        answer = await owner.post("/api/tokens", json=login())
        if answer.status_code == 429:
            wait = int(answer.headers["Retry-After"])
            assert wait <= 30
            clock.advance(seconds=wait)
            answer = await owner.post("/api/tokens", json=login())
        assert answer.status_code == 201
        # The attacker's address stays throttled for that username.
        assert (await attacker.post("/api/tokens", json=login(password=WRONG))
                ).status_code == 429


async def test_guessing_from_many_addresses_is_slowed_per_username(
    workflow: Workflow, people: People, clock: FakeClock
) -> None:
    app = create_app(settings_for(workflow), workflow)
    for n in range(5):
        async with from_address(app, f"203.0.113.{n + 1}") as guesser:
            assert (await guesser.post("/api/tokens", json=login(password=WRONG))
                    ).status_code == 401
    async with from_address(app, "203.0.113.99") as guesser:
        slowed = await guesser.post("/api/tokens", json=login(password=WRONG))
        assert slowed.status_code == 429 and 1 <= int(slowed.headers["Retry-After"]) <= 30
        clock.advance(seconds=int(slowed.headers["Retry-After"]))
        assert (await guesser.post("/api/tokens", json=login(password=WRONG))
                ).status_code == 401
    assert await checks(workflow) == 6


async def test_the_source_limit_counts_failures_not_sign_ins(
    workflow: Workflow, people: People
) -> None:
    app = create_app(settings_for(workflow, login_source_limit=3), workflow)
    async with from_address(app, "192.0.2.10") as office:
        for _ in range(6):
            assert (await office.post("/api/tokens", json=login())).status_code == 201
        for n in range(3):
            assert (await office.post("/api/tokens", json=login(f"guess.{n}", WRONG))
                    ).status_code == 401
        assert (await office.post("/api/tokens", json=login())).status_code == 429


async def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    workflow: Workflow, people: People
) -> None:
    untrusted = create_app(settings_for(workflow), workflow)
    async with from_address(untrusted, "203.0.113.9") as attacker:
        for n in range(8):
            # A new forged address on every try must not buy new guesses.
            answer = await attacker.post("/api/tokens", json=login(password=WRONG),
                                         headers={"X-Forwarded-For": f"10.0.0.{n}"})
            assert answer.status_code == (401 if n < 5 else 429)
    assert await checks(workflow) == 5


async def test_a_trusted_proxy_names_the_client_and_forged_hops_are_ignored(
    workflow: Workflow, people: People, clock: FakeClock
) -> None:
    app = create_app(settings_for(workflow, trusted_proxies=("10.1.0.0/16",)), workflow)
    async with from_address(app, "10.1.2.3") as proxy:
        for n in range(6):
            # The client forges the leftmost hop; the proxy appends the address it saw.
            answer = await proxy.post(
                "/api/tokens", json=login(password=WRONG),
                headers={"X-Forwarded-For": f"198.18.0.{n}, 203.0.113.9"},
            )
            assert answer.status_code == (401 if n < 5 else 429)
        clock.advance(seconds=30)
        other = await proxy.post("/api/tokens", json=login(),
                                 headers={"X-Forwarded-For": "198.51.100.7"})
        assert other.status_code == 201
    async with workflow.db.read() as session:
        sources = set(await session.scalars(select(LoginAttempt.source)))
    assert sources == {"203.0.113.9", "198.51.100.7"}


@pytest.mark.parametrize(("password", "why"), [
    ("short pass", "at least 12 characters"),
    ("password1234", "common and breached"),
    ("Qwerty123456", "common and breached"),
    ("pc.lee.derbyshire", "not be the username"),
])
async def test_weak_passwords_are_refused(people: People, password: str, why: str) -> None:
    with pytest.raises(UserError, match=why):
        await people.users.add("pc.lee.derbyshire", password=password, area=OWN,
                               roles=["disclosure_officer"], created_by="test")


async def test_a_long_passphrase_needs_no_digits_or_symbols(people: People) -> None:
    added = await people.users.add("pc.lee", password="purple elephants dance slowly",
                                   area=OWN, roles=["disclosure_officer"], created_by="test")
    assert added.username == "pc.lee"


async def test_the_session_cookie_is_host_only_and_renewed_on_each_sign_in(
    client: httpx.AsyncClient, people: People
) -> None:
    first = await client.post("/api/session", json=login())
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("__Host-disclosure_session=")
    assert "Path=/" in cookie and "Domain" not in cookie and "Secure" in cookie
    old = first.cookies["__Host-disclosure_session"]
    second = await client.post("/api/session", json=login())
    assert second.status_code == 201
    assert second.cookies["__Host-disclosure_session"] != old
    client.cookies.clear()
    client.cookies.set("__Host-disclosure_session", old)
    assert (await client.get("/api/session")).status_code == 401


async def test_an_idle_session_ends(
    client: httpx.AsyncClient, people: People, clock: FakeClock
) -> None:
    assert (await client.post("/api/session", json=login())).status_code == 201
    for _ in range(4):
        clock.advance(minutes=20)
        assert (await client.get("/api/session")).status_code == 200
    clock.advance(minutes=31)
    assert (await client.get("/api/session")).status_code == 401


async def test_signing_out_everywhere_else_keeps_this_session(
    client: httpx.AsyncClient, people: People
) -> None:
    other = people.bearer("disclosure_officer")
    opened = await client.post("/api/session", json=login())
    csrf = {"X-CSRF-Token": opened.json()["csrf_token"]}
    ended = await client.delete("/api/sessions/others", headers=csrf)
    assert ended.status_code == 200 and ended.json() == {"ended": 1}
    assert (await client.get("/api/session")).status_code == 200
    assert (await client.get("/api/session", headers=other)).status_code == 401
    # Someone else's credentials are untouched.
    assert (await client.get("/api/session", headers=people.bearer("decision_maker"))
            ).status_code == 200


async def test_the_job_prunes_old_attempts_and_ended_credentials(
    client: httpx.AsyncClient, people: People, workflow: Workflow, clock: FakeClock
) -> None:
    assert (await client.post("/api/tokens", json=login(password=WRONG))).status_code == 401
    live = (await client.post("/api/tokens", json=login())).json()["token"]
    await people.users.disable("auditor.durham")
    clock.advance(days=31)
    assert (await client.post("/api/tokens", json=login(password=WRONG))).status_code == 401
    done = await jobs.prune(workflow.db, people.users, keep=timedelta(days=30))
    assert done.ran and done.login_attempts == 2
    async with workflow.db.read() as session:
        outcomes = list(await session.scalars(select(LoginAttempt.outcome)))
        revoked = await session.scalar(
            select(func.count()).where(Credential.revoked_at.is_not(None)))
    assert outcomes == ["bad"]
    assert revoked == 0
    # Tokens issued 31 days ago for 30 days have expired and are gone; nothing live is touched.
    assert (await client.get("/api/session",
                             headers={"Authorization": f"Bearer {live}"})).status_code == 401
    assert done.credentials >= 1


@pytest.mark.postgres
async def test_the_job_skips_while_another_process_runs_it(postgres_database: str) -> None:
    db = Database(postgres_database)
    users = Users(db)
    try:
        async with db.write() as other, other.begin():
            await other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": jobs.PRUNE_LOCK})
            assert not (await jobs.prune(db, users, keep=timedelta(days=1))).ran
        assert (await jobs.prune(db, users, keep=timedelta(days=1))).ran
    finally:
        await db.dispose()
