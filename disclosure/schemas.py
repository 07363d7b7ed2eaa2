"""What crosses the edge: new requests, one payload per lifecycle event, and the views."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal, cast, get_type_hints

import msgspec
from msgspec import Meta

from disclosure.alerts.repeats import AlertBrief
from disclosure.policy import SCHEME_ROUTES, Limit
from disclosure.search.duplicates import PossibleDuplicate
from disclosure.search.links import LinkView
from disclosure.vocabularies import (
    ORGANISATION_RELATIONSHIPS,
    Agency,
    Ethnicity,
    PartyKind,
    Rank,
    Relationship,
)

Scheme = Literal["dvds", "csods", "mappa"]
Route = Literal["right_to_ask", "right_to_know"]
StateName = Literal[
    "received", "awaiting_meeting", "checks", "awaiting_decision", "awaiting_delivery",
    "awaiting_notice", "closed",
]
Channel = Literal[
    "online", "telephone", "in_person", "letter", "partner_agency", "mapp_meeting",
    "repeat_subject_review",
]
PartyRole = Literal["applicant", "subject", "person_at_risk", "child", "referrer", "recipient"]
# PostgreSQL cannot store a NUL character in text (SQLite can): every string that crosses the
# edge refuses one, so both backends give the same 400 naming the field.
NO_NUL = r"^[^\x00]*$"
Plain = Annotated[str, Meta(pattern=NO_NUL)]
Text = Annotated[Plain, Meta(min_length=1, max_length=4000)]
Name = Annotated[Plain, Meta(min_length=1, max_length=200)]
Short = Annotated[Plain, Meta(max_length=200)]
# The times a request can carry: a clock adds at most a few years to one, within datetime's range.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)
Days = Annotated[int, Meta(ge=1, le=365)]
PartyId = Annotated[int, Meta(ge=1)]
Username = Annotated[str, Meta(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
Note = Annotated[Plain, Meta(max_length=4000)]
# An area or a division: a code, never free text.
Code = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Strict input: an unknown field is an error, not something silently dropped.

    Every time must carry an offset and lie within the years a clock can count in; a subclass
    with rules of its own calls this first (`super().__post_init__()`).
    """

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime):
                _aware(name, value)


class SafeContact(Input, kw_only=True):
    method: Literal["phone", "email", "letter", "in_person", "via_agency"]
    details: Short = ""
    times: Short = ""
    notes: Short = ""


class PartyIn(Input, kw_only=True):
    role: PartyRole
    name: Name | None = None
    date_of_birth: Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    address: Annotated[Plain, Meta(max_length=500)] | None = None
    relationship: Short | None = None
    sex: Literal["female", "male", "other", "not_known"] | None = None
    age_band: Literal["under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus"] | None = (
        None
    )
    # A code of the ONS 2021 census groups (disclosure/vocabularies.py), never free text.
    ethnicity: Ethnicity | None = None
    safe_contact: SafeContact | None = None
    kind: PartyKind = "person"
    # How the party stands to the person at risk or the child, as a code the recipient rules
    # read; `relationship` keeps the words.
    relationship_code: Relationship | None = None
    # Subjects only: the CSODS return counts applications about registered sex offenders.
    registered_sex_offender: bool | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kind == "organisation":
            for name in ("date_of_birth", "sex", "age_band", "ethnicity"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name}: an organisation has none")
            if self.role != "recipient":
                raise ValueError("kind: only a recipient can be an organisation")
        organisational = self.relationship_code in ORGANISATION_RELATIONSHIPS
        if self.relationship_code is not None and organisational != (
            self.kind == "organisation"
        ):
            raise ValueError(
                f"relationship_code: {self.relationship_code} is not a code for a {self.kind}"
            )
        if self.registered_sex_offender is not None and self.role != "subject":
            raise ValueError("registered_sex_offender: only a subject carries the flag")


class NewRequest(Input, kw_only=True):
    """A new request. Rules across fields: `parties` includes a `subject`; a right-to-ask
    request has an `applicant` and a right-to-know request has none; a DVDS request has a
    `person_at_risk` and a CSODS request a `child`. Every time carries an offset and lies between
    1900-01-01 and 2999-12-31 in UTC; no string holds a NUL character."""

    scheme: Scheme
    route: Route
    area: Code
    division: Code | None = None
    received_at: datetime
    channel: Channel
    summary: Text
    immediate_risk: bool = False
    parties: Annotated[list[PartyIn], Meta(min_length=1, max_length=50)]

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.route not in SCHEME_ROUTES[self.scheme]:
            raise ValueError(
                f"route: {self.scheme} has no {self.route.replace('_', ' ')}; its routes are "
                + ", ".join(SCHEME_ROUTES[self.scheme])
            )
        roles = [p.role for p in self.parties]
        if "subject" not in roles:
            raise ValueError("parties: a request needs a party with role 'subject'")
        if self.route == "right_to_ask" and "applicant" not in roles:
            raise ValueError("parties: a right-to-ask request needs a party with role 'applicant'")
        if self.route == "right_to_know" and "applicant" in roles:
            raise ValueError("parties: a right-to-know request has no applicant")
        at_risk = "child" if self.scheme == "csods" else "person_at_risk"
        if self.scheme != "mappa" and at_risk not in roles:
            raise ValueError(
                f"parties: a {self.scheme} request needs a party with role '{at_risk}'"
            )


def _aware(name: str, value: datetime | None) -> None:
    """A time with an offset, that converts to UTC within EARLIEST and LATEST."""
    if value is None:
        return
    if value.tzinfo is None:
        raise ValueError(f"{name}: needs a time zone offset, e.g. 2026-04-02T09:30:00Z")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(
            f"{name}: must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} in UTC"
        )


# Times that name a date to come (by when to deliver, by when a partner should answer) rather
# than when something happened: they may lie in the future.
DUE_DATES = frozenset({"deliver_by", "due_at"})


class EventIn(Input, tag_field="event", kw_only=True):
    """Base of every event payload; the `event` field says which one it is.

    `occurred_at` is when it happened, by default the event's own time field (`when`: a
    meeting's `held_at`, a check's `checked_at`...) and otherwise the time it is recorded.
    """

    when: ClassVar[str | None] = None
    occurred_at: datetime | None = None


class CompleteInitialChecks(EventIn, tag="complete_initial_checks", kw_only=True):
    """Initial checks done. `duplicate_of` is required when the finding is `duplicate`, and
    `referred_to` when it is `referred_safeguarding`."""

    finding: Literal["in_scope", "out_of_scope", "duplicate", "referred_safeguarding"]
    immediate_risk: bool
    notes: Annotated[Plain, Meta(max_length=4000)] = ""
    duplicate_of: Annotated[Plain, Meta(max_length=32)] | None = None
    referred_to: Literal["marac", "childrens_social_care", "mappa", "other"] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.finding == "duplicate" and not self.duplicate_of:
            raise ValueError("duplicate_of: required when the finding is duplicate")
        if self.finding == "referred_safeguarding" and not self.referred_to:
            raise ValueError("referred_to: required when the finding is referred_safeguarding")


IdentityDocument = Literal[
    "passport", "driving_licence", "utility_bill", "bank_statement", "birth_certificate",
    "council_tax", "other",
]


class RecordMeeting(EventIn, tag="record_meeting", kw_only=True):
    when = "held_at"
    held_at: datetime
    held_by: Name
    identity_verified: bool
    documents_seen: list[IdentityDocument] = []
    proof_of_address: bool = False
    proof_of_relationship: bool = False
    notes: Annotated[Plain, Meta(max_length=4000)] = ""


CheckSource = Literal[
    "pnc", "pnd", "visor", "local_records", "childrens_social_care", "adult_social_care",
    "probation", "prisons", "health", "education", "marac", "other",
]


class RecordCheck(EventIn, tag="record_check", kw_only=True):
    when = "checked_at"
    source: CheckSource
    information_held: bool
    summary: Text
    checked_at: datetime


class RecordPartnerRequest(EventIn, tag="record_partner_request", kw_only=True):
    when = "asked_at"
    agency: CheckSource
    asked: Text
    asked_at: datetime
    due_at: datetime


class RecordPartnerResponse(EventIn, tag="record_partner_response", kw_only=True):
    when = "responded_at"
    partner_request_id: PartyId
    responded_at: datetime
    information_held: bool
    response: Text


class CompleteChecks(EventIn, tag="complete_checks", kw_only=True):
    summary: Annotated[Plain, Meta(max_length=4000)] = ""


class Answer(Input, kw_only=True):
    """One part of the legal test, answered with its reasoning."""

    met: bool
    rationale: Text


class LegalTest(Input, kw_only=True):
    lawful: Answer
    pressing_need: Answer
    necessary: Answer
    proportionate: Answer
    data_protection_considered: bool
    rehabilitation_of_offenders_considered: bool


class Attendee(Input, kw_only=True):
    name: Name
    agency: Agency


SafeguardingAction = Literal[
    "marac", "idva", "childrens_social_care", "adult_social_care", "mappa_referral", "other",
]


class RecipientIn(Input, kw_only=True):
    """One recipient of a disclosure: who, why, what exactly, by whom, how and by when."""

    party_id: PartyId
    rationale: Text
    # Where the scheme allows this recipient only exceptionally, why they are better placed.
    better_placed_reason: Annotated[Plain, Meta(max_length=4000)] | None = None
    wording: Text
    discloser: Name
    # The discloser's agency, where a MAPP meeting names who delivers it.
    discloser_agency: Agency | None = None
    method: Annotated[Plain, Meta(min_length=1, max_length=1000)]
    others_present: Annotated[Plain, Meta(max_length=1000)] | None = None
    deliver_by: datetime

    def __post_init__(self) -> None:
        _aware("recipients.deliver_by", self.deliver_by)


ReferredTo = Literal["marac", "mash", "childrens_social_care", "mappa"]


class RecordDecision(EventIn, tag="record_decision", kw_only=True):
    """The decision; its decision-maker is whoever signs in and sends it. To `disclose` names
    one or more `recipients`, each party once; `no_disclosure` needs a `no_disclosure_reason` and
    `refer` a `referred_to`, each only for that decision, and neither names recipients.
    `subject_views_reason` is required when `subject_views_sought` is false, and
    `deviation_justification` when a `deviation` is recorded."""

    when = "decided_at"
    forum: Literal["police", "dvds_panel", "marac", "mapp_level_2", "mapp_level_3"]
    decided_at: datetime
    chair: Name
    attendees: list[Attendee] = []
    decision_maker_role: Rank
    decision: Literal["disclose", "no_disclosure", "refer"]
    no_disclosure_reason: Literal["no_information", "not_necessary_proportionate"] | None = None
    referred_to: ReferredTo | None = None
    legal_test: LegalTest
    # CSODS: whether the presumption to disclose applies (convictions for child sexual offences).
    presumption_applies: bool | None = None
    recipients: Annotated[list[RecipientIn], Meta(max_length=20)] = []
    subject_views_sought: bool
    subject_views_reason: Annotated[Plain, Meta(max_length=4000)] | None = None
    subject_representations: Annotated[Plain, Meta(max_length=4000)] | None = None
    subject_to_be_told: bool
    safeguarding_actions: list[SafeguardingAction] = []
    dissent: Annotated[Plain, Meta(max_length=4000)] | None = None
    deviation: Annotated[Plain, Meta(max_length=4000)] | None = None
    deviation_justification: Annotated[Plain, Meta(max_length=4000)] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.decision == "disclose":
            if not self.recipients:
                raise ValueError("recipients: a disclosure names at least one recipient")
            ids = [r.party_id for r in self.recipients]
            if len(set(ids)) != len(ids):
                raise ValueError("recipients: each party is named once")
        elif self.recipients:
            raise ValueError(f"recipients: a {self.decision} decision discloses nothing")
        if (self.decision == "no_disclosure") != (self.no_disclosure_reason is not None):
            raise ValueError(
                "no_disclosure_reason: required for a no_disclosure decision, and only for one"
            )
        if (self.decision == "refer") != (self.referred_to is not None):
            raise ValueError("referred_to: required for a refer decision, and only for one")
        if not self.subject_views_sought and not self.subject_views_reason:
            raise ValueError("subject_views_reason: say why the subject's views were not sought")
        if self.deviation and not self.deviation_justification:
            raise ValueError("deviation_justification: a deviation from the guidance needs one")


class RecordPanelDecision(RecordDecision, tag="record_panel_decision", kw_only=True):
    """A MAPP meeting's decision to disclose, sent by the service itself to the request the
    meeting's consideration starts (never over HTTP): its chair is the decision-maker, and the
    forum is the meeting's level."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.decision != "disclose":
            raise ValueError("decision: a meeting starts a request only for a disclosure")
        if self.forum not in ("mapp_level_2", "mapp_level_3"):
            raise ValueError("forum: a MAPP meeting decides at mapp_level_2 or mapp_level_3")


class RecordDelivery(EventIn, tag="record_delivery", kw_only=True):
    when = "delivered_at"
    delivered_at: datetime
    location: Text
    delivered_by: Name
    recipient_party_id: PartyId
    others_present: Annotated[Plain, Meta(max_length=1000)] | None = None
    words_used: Text
    # Why the words used differ from the approved wording, when they do.
    different_words_reason: Annotated[Plain, Meta(max_length=4000)] | None = None
    confidentiality_explained: bool
    confidentiality_reason: Annotated[Plain, Meta(max_length=4000)] | None = None
    undertaking: Literal["signed", "refused"]
    # With the undertaking refused, who decided the disclosure still went ahead.
    undertaking_decided_by: Name | None = None
    safety_plan_made: bool
    referrals: list[Literal["idva", "specialist_service", "childrens_social_care", "other"]] = []
    subject_informed_at: datetime | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.confidentiality_explained and not self.confidentiality_reason:
            raise ValueError(
                "confidentiality_reason: say why confidentiality was not explained"
            )
        if (self.undertaking == "refused") != (self.undertaking_decided_by is not None):
            raise ValueError(
                "undertaking_decided_by: who decided to go ahead though the undertaking was"
                " refused; only when it was"
            )


NonDeliveryReason = Literal["declined", "not_found", "undertaking_refused", "stopped"]


class RecordNonDelivery(EventIn, tag="record_non_delivery", kw_only=True):
    """A recipient settled without a disclosure: declined, not found, undertaking refused and
    the disclosure not made, or stopped by a decision-maker."""

    when = "at"
    recipient_party_id: PartyId
    reason: NonDeliveryReason
    at: datetime
    # For an undertaking refused: who decided the disclosure would not go ahead.
    decided_by: Name | None = None
    notes: Text

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reason == "undertaking_refused" and not self.decided_by:
            raise ValueError(
                "decided_by: who decided not to go ahead once the undertaking was refused"
            )


class RecordNotice(EventIn, tag="record_notice", kw_only=True):
    """The applicant told the process has ended; by default nothing of its outcome."""

    when = "given_at"
    given_at: datetime
    given_by: Name
    method: Literal["in_person", "telephone", "letter"]
    told: Literal["process_ended", "outcome"] = "process_ended"
    safety_advice_given: bool
    safety_advice: Annotated[Plain, Meta(max_length=4000)] | None = None
    notes: Annotated[Plain, Meta(max_length=4000)] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.safety_advice_given and not self.safety_advice:
            raise ValueError("safety_advice: say what safety advice was given")


class UrgentDisclosure(Input, kw_only=True):
    """A disclosure made at once to protect someone, outside the forum, authorised by a
    decision-maker other than the sender."""

    recipient_party_id: PartyId
    better_placed_reason: Annotated[Plain, Meta(max_length=4000)] | None = None
    wording: Text
    delivered_by: Name
    delivered_at: datetime
    authorised_by: Username
    authoriser_rank: Rank

    def __post_init__(self) -> None:
        _aware("urgent_disclosure.delivered_at", self.delivered_at)


class TakeImmediateAction(EventIn, tag="take_immediate_action", kw_only=True):
    when = "taken_at"
    action: Text
    taken_at: datetime
    leaves_scheme: bool
    urgent_disclosure: UrgentDisclosure | None = None


class RecordSubjectTold(EventIn, tag="record_subject_told", kw_only=True):
    """The subject told that a disclosure was made: who told them, when, how and what."""

    when = "told_at"
    told_at: datetime
    told_by: Name
    method: Literal["in_person", "telephone", "letter", "via_offender_manager"]
    what: Text


class ContinueAsRightToKnow(EventIn, tag="continue_as_right_to_know", kw_only=True):
    """Close a right-to-ask request whose applicant has gone, and carry its people into a new
    right-to-know request because the risk remains."""

    reason: Literal["applicant_withdrew", "identity_not_verified", "no_engagement"]
    risk: Text


class ExtendDeadline(EventIn, tag="extend_deadline", kw_only=True):
    days: Days
    category: Literal[
        "partner_agency_delay", "applicant_availability", "complex_case",
        "exceptional_circumstances",
    ]
    reason: Text


class RecomputeClock(EventIn, tag="recompute_clock", kw_only=True):
    """The due dates recomputed under the policy now configured; `reason` names the change."""

    reason: Text


class Withdraw(EventIn, tag="withdraw", kw_only=True):
    reason: Text


class CloseNoEngagement(EventIn, tag="close_no_engagement", kw_only=True):
    attempts: Annotated[int, Meta(ge=1, le=100)]
    reason: Text


ReopenCategory = Literal[
    "new_information", "applicant_reengaged", "closed_in_error", "review_or_complaint", "other",
]


class Reopen(EventIn, tag="reopen", kw_only=True):
    category: ReopenCategory
    reason: Text


def _changes() -> type[Input]:
    """Every field of a party but its role, each optional: what an amendment may change."""
    fields = [
        (name, hint | msgspec.UnsetType, msgspec.UNSET)
        for name, hint in get_type_hints(PartyIn, include_extras=True).items()
        if name != "role"
    ]

    def check(self: msgspec.Struct) -> None:
        if all(getattr(self, name) is msgspec.UNSET for name in self.__struct_fields__):
            raise ValueError("changes: give at least one field to change")

    return cast(type[Input], msgspec.defstruct(
        "PartyChanges", fields, bases=(Input,), kw_only=True, module=__name__,
        namespace={"__post_init__": check},
    ))


PartyChanges = _changes()


class AddParty(EventIn, tag="add_party", kw_only=True):
    """Someone who comes into the case after receipt, e.g. a better-placed recipient."""

    party: PartyIn
    reason: Text


class AmendParty(EventIn, tag="amend_party", kw_only=True):
    """A correction or update to a party; the trail keeps the values it replaces."""

    party_id: PartyId
    changes: PartyChanges  # type: ignore[valid-type]
    reason: Text


EventPayload = (
    CompleteInitialChecks
    | RecordMeeting
    | RecordCheck
    | RecordPartnerRequest
    | RecordPartnerResponse
    | CompleteChecks
    | RecordDecision
    | RecordDelivery
    | RecordNonDelivery
    | RecordNotice
    | RecordSubjectTold
    | TakeImmediateAction
    | ExtendDeadline
    | RecomputeClock
    | RecordPanelDecision
    | Withdraw
    | ContinueAsRightToKnow
    | CloseNoEngagement
    | Reopen
    | AddParty
    | AmendParty
)
PAYLOADS: dict[str, type[EventIn]] = {
    cls.__struct_config__.tag: cls
    for cls in EventPayload.__args__
}


# Views -----------------------------------------------------------------------------------


class PartyView(msgspec.Struct, kw_only=True):
    id: int
    role: str
    name: str | None
    date_of_birth: str | None
    address: str | None
    relationship: str | None
    sex: str | None
    age_band: str | None
    ethnicity: str | None
    safe_contact: dict[str, Any] | None
    kind: str
    relationship_code: str | None
    registered_sex_offender: bool | None


class ClosureView(msgspec.Struct, kw_only=True):
    """A time the request was closed, and reopened if it was."""

    seq: int
    event: str
    outcome: str | None
    closed_at: datetime
    reopened_at: datetime | None
    reopen_category: str | None
    reopen_reason: str | None


class RequestView(msgspec.Struct, kw_only=True):
    reference: str
    scheme: str
    route: str
    area: str
    division: str | None
    channel: str
    summary: str
    state: str
    outcome: str | None
    immediate_risk: bool
    policy_version: str
    received_at: datetime
    due_at: datetime | None
    stage: str | None
    stage_due_at: datetime | None
    closed_at: datetime | None
    overdue: bool
    version: int
    parties: list[PartyView]
    closures: list[ClosureView]
    # Other requests of the area naming the same subject or person at risk (policy in
    # docs/search.md): the closest few, and how many in all; requests linked to this one, and
    # the repeat-subject alerts it is on.
    possible_duplicates: list[PossibleDuplicate]
    possible_duplicates_total: int
    links: list[LinkView]
    alerts: list[AlertBrief]
    # The link between a right-to-ask request and the right-to-know request carrying it on.
    continued_from: str | None = None
    continued_as: str | None = None
    # The MAPP meeting that agreed this disclosure (GET /api/meetings/{id}).
    meeting_id: int | None = None


class RequestSummary(msgspec.Struct, kw_only=True):
    reference: str
    scheme: str
    route: str
    area: str
    division: str | None
    state: str
    outcome: str | None
    immediate_risk: bool
    received_at: datetime
    due_at: datetime | None
    stage: str | None
    stage_due_at: datetime | None
    overdue: bool
    version: int


class RequestPage(msgspec.Struct, kw_only=True):
    items: list[RequestSummary]
    next_cursor: str | None


class EventView(msgspec.Struct, kw_only=True):
    seq: int
    event: str
    from_state: str | None
    to_state: str
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    policy_version: str
    payload: dict[str, Any] | None
    hash: str


class Action(msgspec.Struct, kw_only=True):
    """An event the caller may send now, with the JSON Schema of its body."""

    event: str
    payload_schema: dict[str, Any]


class Actions(msgspec.Struct, kw_only=True):
    reference: str
    state: str
    version: int
    actions: list[Action]


class Transitioned(msgspec.Struct, kw_only=True):
    reference: str
    event: str
    from_state: str
    state: str
    outcome: str | None
    version: int
    # After add_party or amend_party: other requests of the area naming the same person (the
    # closest few, and how many in all).
    possible_duplicates: list[PossibleDuplicate] = msgspec.field(default_factory=list)
    possible_duplicates_total: int = 0


class HolidayView(msgspec.Struct, kw_only=True):
    day: date
    name: str


class ExtensionView(msgspec.Struct, kw_only=True):
    days: int
    category: str
    reason: str
    granted_at: datetime


class DeadlineView(msgspec.Struct, kw_only=True):
    """A due date with its inputs and the sentence that explains it."""

    due_at: datetime
    # Only for a clock still running: the overall one of an open request, the current stage's.
    status: Literal["overdue", "due_soon", "on_time"] | None
    start_event: str
    start: datetime
    limit: Limit | None
    calendar: str
    holidays_skipped: list[HolidayView]
    weekend_days_skipped: int
    base_due_at: datetime
    extensions: list[ExtensionView]
    explanation: str


class StageDeadlineView(DeadlineView, kw_only=True):
    stage: str
    current: bool


class ClockView(msgspec.Struct, kw_only=True):
    reference: str
    state: str
    stage: str | None
    policy_version: str
    policy_source: str
    nation: str
    overall: DeadlineView | None
    stages: list[StageDeadlineView]
