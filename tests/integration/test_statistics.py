"""The kept counts equal a count of the requests, whatever happened to them, refusals included."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.engine import make_url

from disclosure import statistics
from disclosure.access import SYSTEM_EVENTS
from disclosure.errors import DisclosureError, EventNotAllowed, GuardRefused
from disclosure.migrations import alembic_config, upgrade
from disclosure.models import Party, Request, RequestCount
from disclosure.workflow import Workflow
from tests.factories import NO_DISCLOSURE, new, payload
from tests.factories import recipient as decided_for

ACTORS = ("officer.ann", "inspector.bob")
FORWARD = ("complete_initial_checks", "record_meeting", "record_check", "complete_checks",
           "record_decision", "record_delivery", "record_notice")
KINDS = [("dvds", "right_to_ask"), ("dvds", "right_to_know"), ("csods", "right_to_ask"),
         ("mappa", "right_to_know")]


async def counted_by_scan(workflow: Workflow, area: str) -> list[statistics.Count]:
    """What the counts must say: the requests themselves, grouped."""
    async with workflow.db.read() as session:
        rows = (await session.execute(
            select(Request.scheme, Request.route, Request.state, Request.outcome, func.count())
            .where(Request.area == area)
            .group_by(Request.scheme, Request.route, Request.state, Request.outcome)
        )).all()
    return sorted(
        (statistics.Count(scheme=s, route=r, state=st, outcome=o, requests=n)
         for s, r, st, o, n in rows),
        key=lambda c: (c.scheme, c.route, c.state, c.outcome or ""),
    )


async def kept(workflow: Workflow, area: str) -> statistics.Statistics:
    async with workflow.db.read() as session:
        return await statistics.read(session, area=area)


async def test_counts_follow_a_random_run_of_events(workflow: Workflow) -> None:
    chance = random.Random(20261121)
    references: list[str] = []
    areas = ("derbyshire", "durham")
    for number in range(12):
        scheme, route = KINDS[number % len(KINDS)]
        view = await workflow.create(
            new(scheme, route, area=areas[number % 2]), actor=ACTORS[0]
        )
        references.append(view.reference)
    refused = sent = 0
    for _ in range(150):
        reference = chance.choice(references)
        actions = await workflow.actions(reference)
        choices = [a.event for a in actions.actions if a.event not in SYSTEM_EVENTS]
        if not choices:
            continue
        # Mostly forward, so requests reach every stage; sometimes anything allowed.
        forward = [e for e in FORWARD if e in choices]
        event = forward[0] if forward and chance.random() < 0.7 else chance.choice(choices)
        fields: dict[str, object] = {}
        if event == "complete_initial_checks":
            fields = {"finding": chance.choice(["in_scope", "in_scope", "out_of_scope"]),
                      "immediate_risk": chance.random() < 0.3}
        elif event == "record_decision":
            async with workflow.db.read() as session:
                parties = dict((await session.execute(
                    select(Party.role, Party.id).join(Request).where(
                        Request.reference == reference)
                )).all())
            # CSODS discloses to the parent who asked; DVDS to the person at risk.
            recipient = parties.get("applicant" if reference.startswith("CSODS")
                                    else "person_at_risk")
            fields = dict(NO_DISCLOSURE) if recipient is None or chance.random() < 0.4 else {
                "recipients": [decided_for(recipient)]}
            if reference.startswith("CSODS"):
                fields["presumption_applies"] = chance.random() < 0.5
        elif event == "record_delivery":
            async with workflow.db.read() as session:
                fields = {"recipient_party_id": await session.scalar(
                    select(Party.id).join(Request).where(
                        Request.reference == reference,
                        Party.role == ("applicant" if reference.startswith("CSODS")
                                       else "person_at_risk"))
                )}
        try:
            await workflow.apply(reference, payload(event, **fields),
                                 actor=chance.choice(ACTORS), expected_version=actions.version)
            sent += 1
        except (GuardRefused, EventNotAllowed, DisclosureError):
            refused += 1
        for area in areas:
            found, scanned = await kept(workflow, area), await counted_by_scan(workflow, area)
            assert found.counts == scanned
            assert found.total == sum(c.requests for c in scanned)
    # The run went through receipts, events, closures and refusals alike.
    assert sent > 40 and refused > 0
    states = {c.state for area in areas for c in (await kept(workflow, area)).counts}
    assert "closed" in states and len(states) >= 4


@pytest.mark.parametrize("outcome", [None, "withdrawn"])
async def test_a_request_without_an_outcome_counts_under_none(
    workflow: Workflow, outcome: str | None
) -> None:
    view = await workflow.create(new(), actor=ACTORS[0])
    if outcome:
        await workflow.apply(view.reference, payload("withdraw"), actor=ACTORS[0],
                             expected_version=view.version)
    stats = await kept(workflow, "derbyshire")
    assert [(c.state, c.outcome, c.requests) for c in stats.counts] == [
        ("closed" if outcome else "received", outcome, 1)
    ]
    assert stats.total == 1


def test_the_migration_counts_the_requests_already_there(database_url: str) -> None:
    """Requests written before the counts existed are counted when the migration adds them."""
    config = alembic_config(database_url)
    before = ScriptDirectory.from_config(config).get_revision("0008").down_revision
    assert isinstance(before, str)
    command.downgrade(config, before)
    engine = create_engine(sync_url(database_url))
    now = datetime(2026, 11, 2, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(Request), [
            {"reference": f"DVDS-2026-{n:06d}", "scheme": "dvds", "route": route,
             "area": "derbyshire", "division": None, "channel": "online", "summary": "-",
             "state": state, "outcome": outcome, "immediate_risk": False,
             "policy_version": "dvds-2023", "received_at": now, "due_at": None,
             "stage_due_at": None, "closed_at": None, "created_at": now, "updated_at": now,
             "created_by": "-", "version": 1, "last_event_hash": "-"}
            for n, (route, state, outcome) in enumerate(
                [("right_to_ask", "received", None)] * 3
                + [("right_to_ask", "closed", "withdrawn")] * 2
                + [("right_to_know", "closed", "disclosed_to_person_at_risk")], start=1)
        ])
    upgrade(database_url)
    with engine.connect() as conn:
        counts = conn.execute(select(
            RequestCount.area, RequestCount.scheme, RequestCount.route, RequestCount.state,
            RequestCount.outcome, RequestCount.requests,
        ).order_by(RequestCount.route, RequestCount.state)).all()
    engine.dispose()
    assert [tuple(c) for c in counts] == [
        ("derbyshire", "dvds", "right_to_ask", "closed", "withdrawn", 2),
        ("derbyshire", "dvds", "right_to_ask", "received", statistics.NO_OUTCOME, 3),
        ("derbyshire", "dvds", "right_to_know", "closed", "disclosed_to_person_at_risk", 1),
    ]


def sync_url(url: str) -> str:
    parsed = make_url(url)
    driver = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+psycopg"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)
