"""What crosses the edge for MAPPA: nominals, meetings, their events, and the views."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from disclosure.mapp.intervals import Location
from disclosure.schemas import (
    Attendee,
    Code,
    Input,
    LegalTest,
    Name,
    Plain,
    Short,
    Text,
)
from disclosure.vocabularies import Agency, PartyKind, Rank, Relationship

# 1 registered sexual offender, 2 violent offender, 3 other dangerous offender, 4 terrorism or
# terrorism-risk offender.
Category = Literal[1, 2, 3, 4]
Level = Literal[1, 2, 3]
LeadAgency = Literal["police", "probation", "youth_justice", "prison", "mental_health"]
Rosh = Literal["low", "medium", "high", "very_high"]
NominalId = Annotated[int, Meta(ge=1, le=2**62)]
Reference = Annotated[Plain, Meta(min_length=1, max_length=64)]
Reason = Annotated[Plain, Meta(max_length=4000)]


class NewNominal(Input, kw_only=True):
    """A MAPPA nominal as they stand from `managed_from` (by default now): their reference
    (ViSOR or case-management number, unique in the area), category, level, lead agency, risk
    of serious harm and whether they are in the community or in custody."""

    area: Code
    reference: Reference
    name: Name | None = None
    category: Category
    level: Level
    lead_agency: LeadAgency
    rosh: Rosh
    location: Location
    managed_from: datetime | None = None


class NominalEventIn(Input, tag_field="event", kw_only=True):
    """A change to how a nominal stands, with the date it took effect (`effective_at`, not
    before the nominal's last change and not in the future) and, optionally, why."""

    effective_at: datetime
    reason: Reason | None = None


class ChangeLevel(NominalEventIn, tag="change_level", kw_only=True):
    level: Level


class ChangeCategory(NominalEventIn, tag="change_category", kw_only=True):
    category: Category


class ChangeLocation(NominalEventIn, tag="change_location", kw_only=True):
    """Into custody, or released into the community."""

    location: Location


class ChangeRosh(NominalEventIn, tag="change_rosh", kw_only=True):
    rosh: Rosh


NominalEvent = ChangeLevel | ChangeCategory | ChangeLocation | ChangeRosh
# The events that change how a nominal stands, with the column each changes.
STANDING_EVENTS: dict[str, str] = {
    "register": "", "change_level": "level", "change_category": "category",
    "change_location": "location", "change_rosh": "rosh",
}


class ActionPointIn(Input, kw_only=True):
    action: Text
    owner_agency: Agency
    owner: Name
    due_at: datetime


class NewMeeting(Input, kw_only=True):
    """A Level 2 or 3 MAPP meeting about a nominal, recorded as a draft. Its level is the
    nominal's on `held_at` (given, it must match); its area is the nominal's. The next review
    is due within the policy's interval (docs/mapp.md); `next_review_by` sets an earlier date,
    or the date itself where no interval applies (in custody)."""

    nominal_id: NominalId
    kind: Literal["initial", "review"]
    held_at: datetime
    level: Literal[2, 3] | None = None
    chair: Name
    chair_rank: Rank
    attendees: Annotated[list[Attendee], Meta(min_length=1, max_length=50)]
    confidentiality_statement_read: bool
    next_review_by: datetime | None = None
    action_points: Annotated[list[ActionPointIn], Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )


Method = Literal["in_person", "telephone", "letter", "self_disclosure"]


class AgreedRecipient(Input, kw_only=True):
    """Who is told, exactly what, by whom (named, with their agency), how and by when. A
    `self_disclosure` is made by the nominal and verified afterwards by the deliverer, whose
    delivery record says so."""

    name: Name
    kind: PartyKind = "person"
    # A recipient the meeting names, or the person at risk themselves (DVDS).
    role: Literal["recipient", "person_at_risk"] = "recipient"
    relationship: Short | None = None
    relationship_code: Relationship | None = None
    address: Annotated[Plain, Meta(max_length=500)] | None = None
    rationale: Text
    better_placed_reason: Reason | None = None
    wording: Text
    deliverer: Name
    deliverer_agency: Agency
    method: Method
    others_present: Annotated[Plain, Meta(max_length=1000)] | None = None
    deliver_by: datetime


class AtRisk(Input, kw_only=True):
    """Someone the disclosure protects who is not told themselves: a child (CSODS), or a
    person at risk (DVDS) whose parent, guardian or carer is told."""

    role: Literal["person_at_risk", "child"]
    name: Name | None = None


class AgreedDisclosure(Input, kw_only=True):
    """One disclosure the meeting agreed: it becomes one right-to-know request, of scheme
    `mappa` unless the meeting decides under DVDS (a person at risk among the recipients or in
    `at_risk`) or CSODS (a child in `at_risk`), awaiting delivery."""

    scheme: Literal["mappa", "dvds", "csods"] = "mappa"
    summary: Text | None = None
    recipients: Annotated[list[AgreedRecipient], Meta(min_length=1, max_length=20)]
    at_risk: Annotated[list[AtRisk], Meta(max_length=20)] = msgspec.field(default_factory=list)
    legal_test: LegalTest
    presumption_applies: bool | None = None
    subject_to_be_told: bool = True


class MeetingEventIn(Input, tag_field="event", kw_only=True):
    """Base of a meeting's events; the `event` field says which one."""


class RecordConsideration(MeetingEventIn, tag="record_consideration", kw_only=True):
    """The disclosure consideration every meeting records, once: `no_disclosure` with its
    `rationale`, or `disclose` with the `disclosures` agreed. Whether the nominal's
    representations were sought (if not, `representations_not_sought_reason`: unsafe or
    impossible) and what they were."""

    decision: Literal["no_disclosure", "disclose"]
    rationale: Reason | None = None
    disclosures: Annotated[list[AgreedDisclosure], Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    representations_sought: bool
    representations_not_sought_reason: Reason | None = None
    representations: Reason | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.decision == "disclose" and not self.disclosures:
            raise ValueError("disclosures: a decision to disclose names at least one")
        if self.decision == "no_disclosure":
            if self.disclosures:
                raise ValueError("disclosures: a no_disclosure consideration agrees none")
            if not self.rationale:
                raise ValueError("rationale: say why no disclosure is needed")
        if not self.representations_sought and not self.representations_not_sought_reason:
            raise ValueError(
                "representations_not_sought_reason: say why the nominal's representations were"
                " not sought (unsafe or impossible)"
            )


class AddActionPoints(MeetingEventIn, tag="add_action_points", kw_only=True):
    action_points: Annotated[list[ActionPointIn], Meta(min_length=1, max_length=50)]


class Finalise(MeetingEventIn, tag="finalise", kw_only=True):
    """The minutes are final; only an amendment with a reason changes them after."""


class MeetingChanges(Input, kw_only=True):
    chair: Name | None = None
    chair_rank: Rank | None = None
    attendees: Annotated[list[Attendee], Meta(min_length=1, max_length=50)] | None = None
    confidentiality_statement_read: bool | None = None


class Amend(MeetingEventIn, tag="amend", kw_only=True):
    """A change to finalised minutes, with the reason: fields changed (the trail keeps the old
    values) and action points added."""

    reason: Text
    changes: MeetingChanges = msgspec.field(default_factory=MeetingChanges)
    action_points: Annotated[list[ActionPointIn], Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        given = {k: v for k, v in msgspec.structs.asdict(self.changes).items() if v is not None}
        if not given and not self.action_points:
            raise ValueError("changes: an amendment changes a field or adds action points")


MeetingEvent = RecordConsideration | AddActionPoints | Finalise | Amend


# Views -----------------------------------------------------------------------------------


class Standing(msgspec.Struct, kw_only=True):
    """One entry of a nominal's history: the event and how the nominal stood from then."""

    seq: int
    event: str
    effective_at: datetime
    category: int
    level: int
    location: str
    rosh: str
    meeting_id: int | None
    actor: str
    recorded_at: datetime


class DisclosureLink(msgspec.Struct, kw_only=True):
    """A request a meeting's consideration started (GET /api/requests/{reference})."""

    reference: str
    scheme: str
    state: str
    meeting_id: int
    due_at: datetime | None
    overdue: bool


class MeetingSummary(msgspec.Struct, kw_only=True):
    id: int
    nominal_id: int
    area: str
    level: int
    kind: str
    held_at: datetime
    state: str
    consideration: str | None
    review_due_at: datetime | None
    # The nominal's latest meeting whose review date has passed with no meeting since.
    review_overdue: bool
    # A review held after the date the meeting before it set.
    held_late: bool
    version: int


class ActionPointView(msgspec.Struct, kw_only=True):
    id: int
    action: str
    owner_agency: str
    owner: str
    due_at: datetime
    added_at: datetime
    added_by: str


class MeetingTrailEntry(msgspec.Struct, kw_only=True):
    """One event of the meeting on its nominal's trail: amendments carry their reason and
    the values they replaced."""

    seq: int
    event: str
    from_state: str | None
    state: str
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    payload: dict[str, object] | None


class MeetingView(MeetingSummary, kw_only=True):
    nominal_reference: str
    chair: str
    chair_rank: str
    attendees: list[Attendee]
    confidentiality_statement_read: bool
    location: str
    review_policy: str
    no_disclosure_rationale: str | None
    representations_sought: bool | None
    representations_not_sought_reason: str | None
    representations: str | None
    action_points: list[ActionPointView]
    requests: list[DisclosureLink]
    trail: list[MeetingTrailEntry]
    finalised_at: datetime | None
    finalised_by: str | None
    created_by: str


class MeetingPage(msgspec.Struct, kw_only=True):
    items: list[MeetingSummary]
    next_cursor: str | None


class NominalView(msgspec.Struct, kw_only=True):
    id: int
    area: str
    reference: str
    name: str | None
    category: int
    level: int
    lead_agency: str
    rosh: str
    location: str
    version: int
    created_at: datetime
    created_by: str
    # When the next review is due, from the latest meeting, and whether that date has passed.
    review_due_at: datetime | None
    review_overdue: bool
    history: list[Standing]
    meetings: list[MeetingSummary]
    disclosures: list[DisclosureLink]
