"""A synthetic MAPPA caseload, made only through the services so every record has a verified
trail: mostly Level 1 nominals, a few at Levels 2 and 3 with a meeting every few weeks, each
meeting considering disclosure and a few agreeing one, tracked to delivery.

Every name is invented (the demo's own lists); the ViSOR-like references are made up.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec
from sqlalchemy import func, select

from disclosure.mapp.meetings import Meetings
from disclosure.mapp.nominals import Nominals
from disclosure.mapp.schemas import (
    ChangeLevel,
    Finalise,
    NewMeeting,
    NewNominal,
    RecordConsideration,
)
from disclosure.models import Nominal
from disclosure.schemas import RecordDelivery
from disclosure.workflow import Workflow

T = TypeVar("T")
ACTOR = "demo.coordinator"
OFFICER = "demo.officer"
FIRST = ("Aaron", "Callum", "Craig", "Dean", "Gary", "Jamie", "Kyle", "Lee", "Nathan", "Wayne",
         "Stuart", "Paul", "Karen", "Tracey")
LAST = ("Ashdown", "Brackley", "Caldwell", "Dunmore", "Garside", "Hallam", "Jessop", "Lowther",
        "Marsden", "Ormerod", "Ridsdale", "Thwaite", "Varley", "Yardley")
LEVELS = {1: 86, 2: 9, 3: 5}
CATEGORIES = {1: 64, 2: 33, 3: 2, 4: 1}
LEAD = {1: "police", 2: "probation", 3: "probation", 4: "police"}
ROSH = {"low": 20, "medium": 45, "high": 28, "very_high": 7}
CHAIRS = (("DCI Ruth Hallam", "chief_inspector"), ("Ch Supt Mark Elsworth", "chief_superintendent"),
          ("Joanne Pickering", "probation_senior_manager"))
LEGAL_TEST = {
    part: {"met": True, "rationale": rationale} for part, rationale in (
        ("lawful", "Common law power to disclose to protect the public"),
        ("pressing_need", "Unsupervised contact with children is likely"),
        ("necessary", "No less intrusive way protects the children"),
        ("proportionate", "The risk outweighs the intrusion on his privacy"),
    )
} | {"data_protection_considered": True, "rehabilitation_of_offenders_considered": True}
# Who a meeting discloses to: relationship code, kind, the words for them.
RECIPIENTS = (
    ("partner", "person", "new partner"), ("employer", "organisation", "employer"),
    ("landlord", "organisation", "landlord"), ("school", "organisation", "school"),
    ("faith_group", "organisation", "church he attends"),
)


class MappSummary(msgspec.Struct, kw_only=True):
    nominals: int
    by_level: dict[int, int]
    meetings: int
    disclosures: int
    delivered: int


class _Clock:
    """When each step is entered: a plausible day or two after it happened, never ahead."""

    def __init__(self, today: datetime) -> None:
        self.today = today
        self.at = today

    def __call__(self) -> datetime:
        return self.at

    def after(self, moment: datetime, rng: random.Random) -> None:
        late = rng.random() < 0.1
        self.at = min(self.today, moment + timedelta(hours=rng.randint(26, 72) if late
                                                     else rng.randint(1, 8)))


def _pick(rng: random.Random, weights: Mapping[T, int]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


async def seed(
    workflow: Workflow, *, areas: Sequence[str], nominals: int, seed: int = 0,
    today: datetime | None = None,
) -> MappSummary:
    """Register `nominals` nominals across `areas` (each area's first three at Level 3, Level 2
    and Level 2 in custody), with their meetings over the last year or two."""
    rng = random.Random(seed)
    clock = _Clock(today or workflow.now())
    # References follow on from those already held, so a second run adds to the first.
    async with workflow.db.read() as session:
        held = await session.scalar(select(func.count()).select_from(Nominal)) or 0
    driven = Workflow(workflow.db, workflow.policy, now=clock, finding=workflow.finding)
    service, panels = Nominals(driven), Meetings(driven)
    summary = MappSummary(nominals=0, by_level={}, meetings=0, disclosures=0, delivered=0)
    for number in range(nominals):
        area = areas[number % len(areas)]
        first = number // len(areas)
        level, location = {0: (3, "community"), 1: (2, "community"), 2: (2, "custody")}.get(
            first, (_pick(rng, LEVELS), "custody" if rng.random() < 0.2 else "community"))
        category = _pick(rng, CATEGORIES)
        # Long enough ago for a run of meetings before any review falls overdue.
        since = (clock.today - timedelta(days=rng.randint(300, 700))).replace(
            hour=9, minute=0, second=0, microsecond=0)
        # Some start at Level 1 and are raised to their level by referral a while later.
        raised = level > 1 and rng.random() < 0.3
        clock.after(since, rng)
        nominal = await service.register(msgspec.convert({
            "area": area, "reference": f"VISOR-{since.year % 100:02d}-{held + number + 1:06d}",
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "category": category,
            "level": 1 if raised else level, "lead_agency": LEAD[category],
            "rosh": "very_high" if level == 3 else _pick(rng, ROSH), "location": location,
            "managed_from": since,
        }, NewNominal), actor=ACTOR)
        summary.nominals += 1
        summary.by_level[level] = summary.by_level.get(level, 0) + 1
        if raised:
            since += timedelta(days=rng.randint(20, 90))
            clock.after(since, rng)
            nominal = await service.change(nominal.id, msgspec.convert({
                "event": "change_level", "effective_at": since, "level": level,
                "reason": "Referred for multi-agency management",
            }, ChangeLevel), actor=ACTOR, expected_version=nominal.version)
        if level > 1:
            # In each area the Level 2 case in the community has a review overdue, and the
            # Level 3 case's latest minutes are still in draft.
            await _meetings(panels, rng, clock, nominal.id, since, level, summary,
                            overdue=first == 1 or rng.random() < 0.2, draft=first == 0)
    return summary


async def _meetings(
    panels: Meetings, rng: random.Random, clock: _Clock, nominal_id: int, since: datetime,
    level: int, summary: MappSummary, *, overdue: bool, draft: bool,
) -> None:
    """A meeting every few weeks since `since`: most on time, some late, and for some nominals
    the latest review not held yet; the minutes of recent ones sometimes still in draft."""
    weeks = 8 if level == 3 else 16
    held = since + timedelta(days=rng.randint(5, 20), hours=1)
    kind = "initial"
    until = clock.today - timedelta(weeks=weeks + 2 if overdue else 0, days=2)
    while held < until:
        chair, rank = rng.choice(CHAIRS)
        clock.after(held, rng)
        meeting = await panels.create(msgspec.convert({
            "nominal_id": nominal_id, "kind": kind, "held_at": held, "chair": chair,
            "chair_rank": rank, "confidentiality_statement_read": True,
            "attendees": [{"name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "agency": agency}
                          for agency in ("police", "probation", "housing", "health")],
            "action_points": [{
                "action": "Unannounced home visit", "owner_agency": "police",
                "owner": f"DC {rng.choice(LAST)}", "due_at": held + timedelta(days=14),
            }],
        }, NewMeeting), actor=ACTOR)
        summary.meetings += 1
        consideration = _consideration(rng, held)
        meeting = await panels.apply(meeting.id, consideration, actor=ACTOR,
                                     expected_version=meeting.version)
        for link in meeting.requests:
            summary.disclosures += 1
            summary.delivered += await _deliver(panels.workflow, rng, clock, link.reference,
                                                held)
        late = rng.random() < 0.15
        following = held + timedelta(
            weeks=weeks, days=rng.randint(1, 20) if late else -rng.randint(0, 20))
        if following < until or not (draft or rng.random() < 0.3):
            clock.after(held + timedelta(days=rng.randint(2, 9)), rng)
            await panels.apply(meeting.id, Finalise(), actor=ACTOR,
                               expected_version=meeting.version)
        held, kind = following, "review"


def _consideration(rng: random.Random, held: datetime) -> RecordConsideration:
    sought = rng.random() < 0.8
    body: dict[str, Any] = {
        "event": "record_consideration", "representations_sought": sought,
        "representations": "He accepts the need for others to know" if sought else None,
        "representations_not_sought_reason":
            None if sought else "Telling him first would put the partner at risk",
    }
    if rng.random() < 0.15:
        code, kind, words = rng.choice(RECIPIENTS)
        body |= {"decision": "disclose", "disclosures": [{"legal_test": LEGAL_TEST, "recipients": [{
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}" if kind == "person"
            else f"{rng.choice(LAST)} {words.title()}",
            "kind": kind, "relationship": words, "relationship_code": code,
            "rationale": f"The {words} can protect children he may meet",
            "wording": "He has convictions for offences that mean children may be at risk.",
            "deliverer": f"DS {rng.choice(LAST)}", "deliverer_agency": "police",
            "method": "self_disclosure" if rng.random() < 0.2 else "in_person",
            "deliver_by": held + timedelta(days=rng.randint(7, 21)),
        }]}]}
    else:
        body |= {"decision": "no_disclosure",
                 "rationale": "Risk is managed by licence conditions; no third party at risk"}
    return msgspec.convert(body, RecordConsideration)


async def _deliver(
    workflow: Workflow, rng: random.Random, clock: _Clock, reference: str, held: datetime
) -> int:
    """Most disclosures are delivered before their date; some are still waiting."""
    if rng.random() < 0.2:
        return 0
    request = await workflow.get(reference)
    [recipient] = [p for p in request.parties if p.role == "recipient"]
    delivered = held + timedelta(days=rng.randint(1, 6))
    if delivered >= clock.today:
        return 0
    clock.after(delivered, rng)
    await workflow.apply(reference, RecordDelivery(
        delivered_at=delivered, location="Derbyshire police office", delivered_by="DS Hallam",
        recipient_party_id=recipient.id,
        words_used="He has convictions for offences that mean children may be at risk.",
        confidentiality_explained=True, undertaking="signed", safety_plan_made=False,
    ), actor=OFFICER, expected_version=request.version)
    return 1
