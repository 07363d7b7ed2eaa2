"""A fixed synthetic year of requests for the report tests, every figure worked out by hand.

The financial year 2025-26 (1 April 2025 to 31 March 2026, Europe/London) and the year before.
Every event is recorded an hour after it happened, except K's withdrawal, which happened on
15 March 2026 and was entered on 10 April 2026: the correction that changes the year's figures
after a report as at 1 April 2026.

    A  DVDS ask, north: received 10 Mar 2025 (2024-25), decided 20 Mar, delivered 15 Apr, notice
       16 Apr 2025: closed disclosed_to_person_at_risk in 2025-26 after 37 days (due 7 Apr).
    B  DVDS ask, south: received 1 Mar 2025, withdrawn 20 Mar 2025 (19 days), reopened 10 Apr,
       closed no_engagement 1 May 2025 (21 days from the reopening; its fresh clock is due 8 May).
    C  DVDS ask, north: received 2 Jun 2025, extended 7 days on 20 Jun (partner_agency_delay),
       withdrawn 1 Jul 2025 (29 days; due 7 Jul with the extension).
    D  DVDS ask, south: received 1 Aug 2025, continued as right to know 5 Aug (4 days): closed
       withdrawn (the applicant withdrew), carried on as
    E  DVDS know, south: received 5 Aug 2025, no disclosure (not necessary or proportionate)
       20 Aug 2025 (15 days).
    F  CSODS ask, north, subject a registered sex offender: received 1 Sep 2025, a disclosure to
       two recipients (the applicant parent and a guardian) delivered 20 and 22 Sep, by the 25 Sep
       agreed: closed disclosed_to_other (21 days).
    G  DVDS know, south: received 1 Oct 2025 10:00, an urgent disclosure at 14:00 the same day,
       leaving the scheme: closed immediate_action (4 hours).
    I  DVDS ask, north: received 20 Mar 2026, initial checks 21 Mar: awaiting_meeting on 31 March,
       not overdue.
    J  CSODS know, south: received 5 Jan 2026, checks since: open and overdue on 31 March.
    K  DVDS ask, south: received 1 Nov 2025, awaiting_meeting; withdrawn 15 Mar 2026 (134 days),
       entered 10 Apr 2026.

MAPPA nominals, all in the community unless said:

    N1 category 1 at Level 3 from 1 Jun 2024; Level 2 from 1 Sep 2025.
    N2 category 2 at Level 2 from 1 May 2025; into custody on 1 Dec 2025.
    N3 category 1 at Level 1 from 10 Jan 2024 (never at a MAPP meeting).

and their meetings in 2025-26:

    M1 N1, Level 3, 10 Jun 2025: no disclosure needed.
    M2 N2, Level 2, 1 Jul 2025: agrees one disclosure, by 20 Jul, which becomes request L (MAPPA
       know, no division): delivered 15 Jul 2025 (14 days), closed disclosed_to_other.
    M3 N1, Level 2, 1 Oct 2025: no consideration recorded yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import select

from disclosure.mapp.meetings import Meetings
from disclosure.mapp.nominals import Nominals
from disclosure.mapp.schemas import MeetingEvent, NewMeeting, NewNominal, NominalEvent
from disclosure.models import Party, Request
from disclosure.users import Users
from disclosure.workflow import Workflow
from tests import factories
from tests.api.conftest import TEST_HASHER
from tests.conftest import FakeClock

OFFICER = "officer.ann"
DECIDER = "inspector.bob"
AS_AT = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
# The event's own time field, where it has one; otherwise `occurred_at`.
WHEN = {
    "record_meeting": "held_at", "record_check": "checked_at", "record_decision": "decided_at",
    "record_delivery": "delivered_at", "record_notice": "given_at",
    "take_immediate_action": "taken_at",
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Case:
    reference: str
    version: int
    parties: dict[str, int] = field(default_factory=dict)


@dataclass
class Year:
    workflow: Workflow
    clock: FakeClock
    cases: dict[str, Case] = field(default_factory=dict)

    async def receive(self, name: str, when: str, scheme: str = "dvds",
                      route: str = "right_to_ask", *, division: str,
                      **overrides: Any) -> Case:
        self.clock.current = at(when) + timedelta(hours=1)
        view = await self.workflow.create(factories.new(
            scheme, route, received_at=f"{when}Z", division=division, **overrides,
        ), actor=OFFICER)
        case = Case(view.reference, view.version, {p.role: p.id for p in view.parties})
        self.cases[name] = case
        return case

    async def send(self, name: str, event: str, when: str, *, actor: str = OFFICER,
                   entered: str | None = None, **fields: Any) -> None:
        case = self.cases[name]
        self.clock.current = at(entered) if entered else at(when) + timedelta(hours=1)
        fields[WHEN.get(event, "occurred_at")] = f"{when}Z"
        done = await self.workflow.apply(
            case.reference, factories.payload(event, **fields), actor=actor,
            expected_version=case.version,
        )
        case.version = done.version

    async def prepare(self, name: str, day: str, *, meeting: bool = True) -> None:
        """Initial checks, the meeting (right to ask), one check and the checks completed."""
        await self.send(name, "complete_initial_checks", f"{day}T12:00:00")
        following = (at(f"{day}T12:00:00") + timedelta(days=1)).date().isoformat()
        if meeting:
            await self.send(name, "record_meeting", f"{following}T09:00:00")
        await self.send(name, "record_check", f"{following}T10:00:00")
        await self.send(name, "complete_checks", f"{following}T12:00:00")


def decision(*recipients: dict[str, Any], when: str, **fields: Any) -> dict[str, Any]:
    return {"decided_at": f"{when}Z", "recipients": list(recipients), **fields}


async def build(workflow: Workflow, clock: FakeClock) -> Year:
    """Every request of the dataset, walked through the workflow in the order things happened
    (each event is entered when the clock says, so the trail's recorded times are real)."""
    users = Users(workflow.db, now=clock, hasher=TEST_HASHER)
    await users.add(DECIDER, password="correct horse battery staple", area="derbyshire",
                    roles=["decision_maker"], created_by="test")
    year = Year(workflow, clock)
    # The year before.
    await year.receive("B", "2025-03-01T10:00:00", division="south")
    await year.send("B", "complete_initial_checks", "2025-03-01T12:00:00")
    await year.receive("A", "2025-03-10T10:00:00", division="north")
    await year.prepare("A", "2025-03-10")
    a = year.cases["A"]
    await year.send("A", "record_decision", "2025-03-20T10:00:00", actor=DECIDER,
                    **decision(factories.recipient(a.parties["person_at_risk"],
                                                   deliver_by="2025-04-30T17:00:00Z"),
                               when="2025-03-20T10:00:00"))
    await year.send("B", "withdraw", "2025-03-20T10:00:00")
    # 2025-26.
    await year.send("B", "reopen", "2025-04-10T10:00:00", actor=DECIDER,
                    category="applicant_reengaged")
    await year.send("A", "record_delivery", "2025-04-15T10:00:00",
                    recipient_party_id=a.parties["person_at_risk"])
    await year.send("A", "record_notice", "2025-04-16T10:00:00")
    await year.send("B", "close_no_engagement", "2025-05-01T10:00:00")
    await year.receive("C", "2025-06-02T10:00:00", division="north")
    await year.send("C", "complete_initial_checks", "2025-06-02T12:00:00")
    await year.send("C", "extend_deadline", "2025-06-20T10:00:00")
    await year.send("C", "withdraw", "2025-07-01T10:00:00")
    await year.receive("D", "2025-08-01T10:00:00", division="south")
    await year.send("D", "complete_initial_checks", "2025-08-01T12:00:00")
    await year.send("D", "continue_as_right_to_know", "2025-08-05T10:00:00")
    async with workflow.db.read() as session:
        carried = await session.scalar(select(Request.reference).where(
            Request.continued_from_id == select(Request.id).where(
                Request.reference == year.cases["D"].reference).scalar_subquery()))
    assert carried is not None
    year.cases["E"] = Case(carried, 1)
    await year.prepare("E", "2025-08-05", meeting=False)
    await year.send("E", "record_decision", "2025-08-20T10:00:00", actor=DECIDER,
                    **factories.NO_DISCLOSURE | {"decided_at": "2025-08-20T10:00:00Z"})
    f = await year.receive(
        "F", "2025-09-01T10:00:00", "csods", division="north",
        parties=[
            {"role": "subject", "name": "Mark Sample", "sex": "male", "age_band": "35_44",
             "registered_sex_offender": True, "ethnicity": "white_british"},
            {"role": "child", "name": "Amy Sample", "sex": "female", "age_band": "under_18"},
            {"role": "applicant", "name": "Jane Sample", "relationship": "mother",
             "relationship_code": "parent", "sex": "female", "age_band": "35_44"},
        ],
    )
    await year.prepare("F", "2025-09-01")
    await year.send("F", "add_party", "2025-09-04T10:00:00")
    async with workflow.db.read() as session:
        f.parties["recipient"] = await session.scalar(select(Party.id).where(
            Party.role == "recipient", Party.request_id == select(Request.id).where(
                Request.reference == f.reference).scalar_subquery()))
    by = "2025-09-25T17:00:00Z"
    await year.send("F", "record_decision", "2025-09-10T10:00:00", actor=DECIDER,
                    presumption_applies=True, **decision(
                        factories.recipient(f.parties["applicant"], deliver_by=by),
                        factories.recipient(f.parties["recipient"], deliver_by=by),
                        when="2025-09-10T10:00:00"))
    await year.send("F", "record_delivery", "2025-09-20T10:00:00",
                    recipient_party_id=f.parties["applicant"])
    await year.send("F", "record_delivery", "2025-09-22T10:00:00",
                    recipient_party_id=f.parties["recipient"])
    g = await year.receive("G", "2025-10-01T10:00:00", route="right_to_know", division="south")
    await year.send("G", "take_immediate_action", "2025-10-01T14:00:00", leaves_scheme=True,
                    urgent_disclosure={
                        "recipient_party_id": g.parties["person_at_risk"],
                        "wording": factories.WORDING, "delivered_by": "PC Example",
                        "delivered_at": "2025-10-01T14:00:00Z", "authorised_by": DECIDER,
                        "authoriser_rank": "inspector"})
    await year.receive("K", "2025-11-01T10:00:00", division="south")
    await year.send("K", "complete_initial_checks", "2025-11-01T12:00:00")
    await year.receive("J", "2026-01-05T10:00:00", "csods", "right_to_know", division="south")
    await year.send("J", "complete_initial_checks", "2026-01-05T12:00:00")
    await year.receive("I", "2026-03-20T10:00:00", division="north")
    await year.send("I", "complete_initial_checks", "2026-03-21T10:00:00")
    # The correction: K's withdrawal on 15 March, entered on 10 April.
    await year.send("K", "withdraw", "2026-03-15T10:00:00", entered="2026-04-10T10:00:00")
    await mapp(year)
    clock.current = at("2026-11-07T12:00:00")
    return year


async def mapp(year: Year) -> None:
    """The nominals and meetings, each entered an hour after it took effect."""
    workflow, clock = year.workflow, year.clock
    nominals, meetings = Nominals(workflow), Meetings(workflow)

    async def register(reference: str, since: str, **fields: Any) -> int:
        clock.current = at(since) + timedelta(hours=1)
        body = factories.new_nominal(reference=reference, managed_from=f"{since}Z", **fields)
        return (await nominals.register(msgspec.convert(body, NewNominal), actor=OFFICER)).id

    async def change(nominal: int, since: str, **fields: Any) -> None:
        clock.current = at(since) + timedelta(hours=1)
        version = (await nominals.get(nominal)).version
        await nominals.change(nominal, msgspec.convert(
            {"effective_at": f"{since}Z", **fields}, NominalEvent), actor=OFFICER,
            expected_version=version)

    async def meet(nominal: int, held: str, kind: str, consideration: dict[str, Any] | None
                   ) -> int:
        clock.current = at(held) + timedelta(hours=1)
        view = await meetings.create(msgspec.convert(factories.new_meeting(
            nominal, held_at=f"{held}Z", kind=kind), NewMeeting), actor=OFFICER)
        if consideration is not None:
            await meetings.apply(view.id, msgspec.convert(consideration, MeetingEvent),
                                 actor=OFFICER, expected_version=view.version)
        return view.id

    n1 = await register("VISOR-N1", "2024-06-01T09:00:00", category=1, level=3)
    n3 = await register("VISOR-N3", "2024-01-10T09:00:00", category=1, level=1)
    assert n3
    n2 = await register("VISOR-N2", "2025-05-01T09:00:00", category=2, level=2, rosh="high")
    await meet(n1, "2025-06-10T10:00:00", "initial", factories.consideration(
        decision="no_disclosure", disclosures=[],
        rationale="Nothing suggests anyone needs to be told"))
    agreed = factories.consideration(disclosures=[
        {"recipients": [factories.agreed_recipient(deliver_by="2025-07-20T17:00:00Z")],
         "legal_test": factories.LEGAL_TEST}])
    m2 = await meet(n2, "2025-07-01T10:00:00", "initial", agreed)
    async with workflow.db.read() as session:
        l_ref, l_id = (await session.execute(select(Request.reference, Request.id).where(
            Request.meeting_id == m2))).one()
        told = await session.scalar(select(Party.id).where(
            Party.request_id == l_id, Party.role == "recipient"))
    async with workflow.db.read() as session:
        version = await session.scalar(select(Request.version).where(Request.id == l_id))
    assert version is not None
    year.cases["L"] = Case(l_ref, version)
    await year.send("L", "record_delivery", "2025-07-15T10:00:00", recipient_party_id=told,
                    words_used=agreed["disclosures"][0]["recipients"][0]["wording"])
    await change(n1, "2025-09-01T09:00:00", event="change_level", level=2)
    await meet(n1, "2025-10-01T10:00:00", "review", None)
    await change(n2, "2025-12-01T09:00:00", event="change_location", location="custody")
