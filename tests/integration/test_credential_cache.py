"""A process trusts a live credential for at most CREDENTIAL_CACHE: revocation and disabling
reach every process within that bound, and the process that made them at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from disclosure.users import CREDENTIAL_CACHE, LoginPolicy, Users
from disclosure.workflow import Workflow
from tests.api.conftest import TEST_HASHER
from tests.conftest import FakeClock

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def two_processes(workflow: Workflow) -> tuple[Users, Users]:
    """The same people as two app processes see them: separate caches, one database."""
    first, second = (
        Users(workflow.db, now=workflow.now, policy=LoginPolicy(token_ttl=timedelta(hours=1)),
              hasher=TEST_HASHER)
        for _ in range(2)
    )
    await first.add_area("derbyshire", name="Derbyshire Constabulary")
    await first.add("officer.ann", password=PASSWORD, area="derbyshire",
                    roles=["disclosure_officer"], created_by="test")
    return first, second


async def test_disabling_reaches_another_process_within_the_bound(
    two_processes: tuple[Users, Users], clock: FakeClock
) -> None:
    app, admin = two_processes
    secret = (await admin.issue("officer.ann")).secret
    assert await app.authenticate(secret, kind="bearer") is not None
    await admin.disable("officer.ann")
    # The other process still trusts what it checked a moment ago, without asking again...
    moment = timedelta(milliseconds=100)
    clock.advance(seconds=(CREDENTIAL_CACHE - moment).total_seconds())
    assert await app.authenticate(secret, kind="bearer") is not None
    # ...and not from the bound on, which is a few seconds.
    assert timedelta(seconds=5) >= CREDENTIAL_CACHE
    clock.advance(seconds=moment.total_seconds())
    assert await app.authenticate(secret, kind="bearer") is None
    assert await admin.authenticate(secret, kind="bearer") is None


async def test_revocation_reaches_another_process_within_the_bound(
    two_processes: tuple[Users, Users], clock: FakeClock
) -> None:
    app, admin = two_processes
    issued = await admin.issue("officer.ann")
    principal = await app.authenticate(issued.secret, kind="bearer")
    assert principal is not None
    await admin.revoke(principal.credential_id)
    clock.advance(seconds=CREDENTIAL_CACHE.total_seconds())
    assert await app.authenticate(issued.secret, kind="bearer") is None


async def test_the_process_that_revokes_or_disables_stops_trusting_at_once(
    two_processes: tuple[Users, Users],
) -> None:
    app, _ = two_processes
    first = await app.issue("officer.ann")
    principal = await app.authenticate(first.secret, kind="bearer")
    assert principal is not None
    await app.revoke(principal.credential_id)
    assert await app.authenticate(first.secret, kind="bearer") is None
    second = await app.issue("officer.ann")
    assert await app.authenticate(second.secret, kind="bearer") is not None
    await app.disable("officer.ann")
    assert await app.authenticate(second.secret, kind="bearer") is None


async def test_a_credential_is_never_trusted_past_its_expiry(
    workflow: Workflow, clock: FakeClock
) -> None:
    users = Users(workflow.db, now=workflow.now,
                  policy=LoginPolicy(token_ttl=timedelta(seconds=2)), hasher=TEST_HASHER)
    await users.add_area("derbyshire", name="Derbyshire Constabulary")
    await users.add("officer.ann", password=PASSWORD, area="derbyshire",
                    roles=["disclosure_officer"], created_by="test")
    secret = (await users.issue("officer.ann")).secret
    assert await users.authenticate(secret, kind="bearer") is not None
    clock.advance(seconds=2)
    assert await users.authenticate(secret, kind="bearer") is None


async def test_a_refused_credential_is_not_remembered(
    two_processes: tuple[Users, Users],
) -> None:
    app, admin = two_processes
    assert await app.authenticate("dsc_not-yet-issued", kind="bearer") is None
    secret = (await admin.issue("officer.ann")).secret
    assert await app.authenticate(secret, kind="bearer") is not None
    assert await app.authenticate(secret, kind="session") is None
