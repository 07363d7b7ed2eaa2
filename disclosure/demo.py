"""Synthetic demo data, made only through the workflow's batch path, so every record is
written by the flow that writes requests and has a verified trail.

Every name, address and phone number is invented: names are drawn from short lists, phone
numbers from Ofcom's 07700 900xxx range reserved for drama, e-mail addresses from example.org.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import random
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Protocol, TypeVar

import msgspec
from sqlalchemy import select, text

from disclosure.batch import Received, batch
from disclosure.db import Database
from disclosure.models import User
from disclosure.outcomes import OUTCOMES
from disclosure.policy import LONDON, PolicySettings
from disclosure.recipients import eligibility
from disclosure.schemas import (
    AddParty,
    AmendParty,
    Answer,
    Attendee,
    Channel,
    CheckSource,
    CloseNoEngagement,
    CompleteChecks,
    CompleteInitialChecks,
    ContinueAsRightToKnow,
    EventIn,
    ExtendDeadline,
    IdentityDocument,
    LegalTest,
    NewRequest,
    NonDeliveryReason,
    PartyChanges,
    PartyIn,
    PartyRole,
    PartyView,
    RecipientIn,
    RecordCheck,
    RecordDecision,
    RecordDelivery,
    RecordMeeting,
    RecordNonDelivery,
    RecordNotice,
    RecordPartnerRequest,
    RecordPartnerResponse,
    RecordSubjectTold,
    ReferredTo,
    Reopen,
    ReopenCategory,
    Route,
    SafeContact,
    Scheme,
    TakeImmediateAction,
    Transitioned,
    UrgentDisclosure,
    Withdraw,
)
from disclosure.search.matching import FindingPolicy
from disclosure.users import Users
from disclosure.vocabularies import Agency, Ethnicity, Rank, Relationship
from disclosure.workflow import Workflow
from statemachines.lifecycle import ROUTE_STATES

T = TypeVar("T")
Finding = Literal["in_scope", "out_of_scope", "duplicate", "referred_safeguarding"]
Forum = Literal["police", "dvds_panel", "marac", "mapp_level_2", "mapp_level_3"]
Sex = Literal["female", "male"]
AgeBand = Literal["under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus"]

YEARS = 10
# Requests written per transaction of the batch path.
CHUNK = 2000
# Repeat-subject alerts are raised for the requests received in these last days. Each receipt
# that raises them costs a fuzzy search of the area's subjects; alerts about older requests
# would long since have been reviewed.
ALERT_DAYS = 30
# Requests in the past year whose subject is one of the area's few serial subjects, and how
# many of them each area has; the small demo has three such requests in one area at least.
REPEAT_SHARE = 0.02
SERIAL_SUBJECTS = 3
REPEATED = 3
OPEN_STATES: dict[Route, tuple[str, ...]] = {
    route: tuple(s for s in states if s != "closed") for route, states in ROUTE_STATES.items()
}
# Events that leave a request where it is, so a request stuck in a state still takes them.
STAYING = frozenset({"record_check", "record_partner_request", "record_partner_response",
                     "extend_deadline", "add_party", "amend_party"})
# How often each kind of record is written up a working day or more after the event: meetings
# and deliveries happen away from a desk.
ENTERED_LATE = {"record_meeting": 0.25, "record_delivery": 0.2, "record_notice": 0.1,
                "record_check": 0.05}
# How often a request has a party's details corrected or updated, or its better-placed
# recipient comes to light only when the case is decided.
SUBJECT_BORN_CORRECTED = 0.08
SAFE_CONTACT_CHANGED = 0.06
RECIPIENT_FOUND_LATE = 0.5
REOPENINGS: tuple[tuple[ReopenCategory, str], ...] = (
    ("applicant_reengaged", "Applicant made contact again and wants to go on"),
    ("applicant_reengaged", "Applicant answered the safe number after the case was closed"),
    ("new_information", "New information from a partner agency"),
    ("new_information", "A new incident reported between the subject and the person at risk"),
    ("closed_in_error", "Closed for no engagement while a meeting was still being arranged"),
    ("review_or_complaint", "Reopened after the applicant's complaint was upheld"),
)

AREAS: dict[str, dict[str, str]] = {  # area → division → a town in it
    "derbyshire": {"north": "Chesterfield", "south": "Swadlincote", "city": "Derby"},
    "cumbria": {"west": "Workington", "south": "Kendal", "north_east": "Penrith"},
    "durham_darlington": {"north": "Chester-le-Street", "south": "Darlington"},
    "west_yorkshire": {"leeds": "Leeds", "bradford": "Bradford", "kirklees": "Huddersfield",
                       "calderdale": "Halifax", "wakefield": "Wakefield"},
    "greater_manchester": {"city": "Manchester", "salford": "Salford", "bolton": "Bolton",
                           "wigan": "Wigan", "stockport": "Stockport", "oldham": "Oldham"},
    "merseyside": {"liverpool": "Liverpool", "wirral": "Birkenhead", "sefton": "Bootle",
                   "knowsley": "Huyton"},
    "west_midlands": {"birmingham": "Birmingham", "coventry": "Coventry",
                      "wolverhampton": "Wolverhampton", "walsall": "Walsall",
                      "dudley": "Dudley"},
    "devon_cornwall": {"plymouth": "Plymouth", "exeter": "Exeter", "cornwall": "Truro",
                       "north_devon": "Barnstaple"},
    "kent": {"north": "Gravesend", "east": "Canterbury", "west": "Maidstone"},
    "avon_somerset": {"bristol": "Bristol", "bath": "Bath", "somerset": "Taunton"},
    "south_wales": {"cardiff": "Cardiff", "swansea": "Swansea", "merthyr": "Merthyr Tydfil"},
    "northumbria": {"newcastle": "Newcastle", "sunderland": "Sunderland",
                    "northumberland": "Morpeth"},
}
AREA_NAMES = {
    "derbyshire": "Derbyshire Constabulary",
    "cumbria": "Cumbria Constabulary",
    "durham_darlington": "County Durham and Darlington",
    "west_yorkshire": "West Yorkshire Police",
    "greater_manchester": "Greater Manchester Police",
    "merseyside": "Merseyside Police",
    "west_midlands": "West Midlands Police",
    "devon_cornwall": "Devon and Cornwall Police",
    "kent": "Kent Police",
    "avon_somerset": "Avon and Somerset Police",
    "south_wales": "South Wales Police",
    "northumbria": "Northumbria Police",
}
# Roughly by population: the metropolitan forces see the most requests.
AREA_WEIGHTS = {
    "derbyshire": 10, "cumbria": 5, "durham_darlington": 6, "west_yorkshire": 22,
    "greater_manchester": 27, "merseyside": 14, "west_midlands": 28, "devon_cornwall": 17,
    "kent": 18, "avon_somerset": 16, "south_wales": 13, "northumbria": 14,
}

# Shares of §9 of the domain: DVDS dominates, right to ask ≈ 60% of it; CSODS ≈ 5%; a few MAPPA.
MIX: dict[tuple[Scheme, Route], int] = {
    ("dvds", "right_to_ask"): 552,
    ("dvds", "right_to_know"): 368,
    ("csods", "right_to_ask"): 42,
    ("csods", "right_to_know"): 8,
    ("mappa", "right_to_know"): 30,
}
# How requests end, per 100: DVDS right to ask discloses ≈ 40%, right to know ≈ 50%, CSODS ≈ 10%.
ENDINGS: dict[tuple[Scheme, Route], dict[str, int]] = {
    ("dvds", "right_to_ask"): {
        "disclosed_to_person_at_risk": 36, "disclosed_to_other": 3,
        "disclosure_not_delivered": 1, "no_information": 17,
        "not_necessary_proportionate": 10, "withdrawn": 8, "no_engagement": 8,
        "identity_not_verified": 4, "not_progressed_criteria": 6, "not_progressed_duplicate": 3,
        "referred_safeguarding": 2, "immediate_action": 2,
    },
    ("dvds", "right_to_know"): {
        "disclosed_to_person_at_risk": 46, "disclosed_to_other": 2,
        "disclosure_not_delivered": 2, "no_information": 12,
        "not_necessary_proportionate": 18, "no_engagement": 7, "not_progressed_criteria": 4,
        "not_progressed_duplicate": 4, "referred_safeguarding": 3, "immediate_action": 2,
    },
    ("csods", "right_to_ask"): {
        "disclosed_to_other": 10, "no_information": 35, "not_necessary_proportionate": 12,
        "not_progressed_criteria": 14, "not_progressed_duplicate": 3,
        "referred_safeguarding": 6, "withdrawn": 6, "no_engagement": 7,
        "identity_not_verified": 5, "immediate_action": 2,
    },
    ("csods", "right_to_know"): {
        "disclosed_to_other": 35, "no_information": 20, "not_necessary_proportionate": 30,
        "referred_safeguarding": 10, "not_progressed_criteria": 5,
    },
    ("mappa", "right_to_know"): {
        "disclosed_to_other": 55, "disclosed_to_person_at_risk": 25,
        "not_necessary_proportionate": 15, "immediate_action": 5,
    },
}
INITIAL_FINDINGS: dict[str, Finding] = {
    "not_progressed_criteria": "out_of_scope",
    "not_progressed_duplicate": "duplicate",
    "referred_safeguarding": "referred_safeguarding",
}
DISCLOSED = ("disclosed_to_person_at_risk", "disclosed_to_other", "disclosure_not_delivered")
NOT_DISCLOSED = ("no_information", "not_necessary_proportionate")

FEMALE = ("Abigail", "Aimee", "Alice", "Amelia", "Amy", "Bethany", "Caitlin", "Charlotte",
          "Chloe", "Claire", "Danielle", "Eleanor", "Ellie", "Emily", "Emma", "Faye", "Gemma",
          "Georgia", "Grace", "Hannah", "Holly", "Jade", "Jasmine", "Jessica", "Joanne", "Katie",
          "Kirsty", "Laura", "Leah", "Lucy", "Lydia", "Megan", "Molly", "Natalie", "Nicola",
          "Olivia", "Paige", "Rachel", "Rebecca", "Samantha", "Sarah", "Shannon", "Sophie",
          "Stacey", "Tanya", "Victoria", "Yasmin", "Zoe")
MALE = ("Aaron", "Adam", "Alex", "Andrew", "Ashley", "Ben", "Bradley", "Callum", "Carl", "Connor",
        "Craig", "Daniel", "Darren", "Dean", "Dominic", "Gary", "Graham", "Harry", "Jack", "Jake",
        "Jamie", "Jason", "Jordan", "Joseph", "Kane", "Karl", "Kieran", "Kyle", "Lee", "Lewis",
        "Liam", "Luke", "Mark", "Martin", "Matthew", "Michael", "Nathan", "Neil", "Owen", "Paul",
        "Reece", "Ricky", "Ryan", "Scott", "Shane", "Stuart", "Thomas", "Wayne")
# A thousand English-sounding place surnames, so that a name is about as common in a demo area
# as in a real one: the same full name in a handful of an area's requests, not hundreds.
SURNAMES = tuple(
    start + end
    for start in ("Ash", "Birch", "Brack", "Brad", "Brom", "Cald", "Carr", "Clay", "Crom",
                  "Dun", "Els", "Fair", "Farn", "Gar", "Green", "Hal", "Hart", "Hol", "Ing",
                  "Kel", "Ket", "Lang", "Low", "Mars", "Mid", "Nether", "Ors", "Pick", "Rad",
                  "Rid", "Rother", "Shel", "Stain", "Stan", "Thorn", "Under", "War", "Whit",
                  "Wood", "Yard")
    for end in ("by", "bridge", "brook", "burn", "combe", "croft", "dale", "den", "don", "field",
                "ford", "gate", "ham", "hill", "hurst", "ley", "low", "more", "ridge", "shaw",
                "stead", "thorpe", "ton", "well", "wick", "worth")
)
STREETS = ("Alder Close", "Beech Grove", "Chapel Row", "Dale View", "Elm Terrace", "Fern Road",
           "Hawthorn Way", "Larch Avenue", "Mill Lane", "Orchard Street", "Station Road")
# ONS 5+1 groups, roughly as in the North and Midlands forces the areas stand for.
# ONS 2021 census codes (disclosure/vocabularies.py), roughly as England and Wales answered.
ETHNICITY: dict[Ethnicity | None, int] = {
    "white_british": 75, "white_other": 6, "white_irish": 1, "asian_indian": 2,
    "asian_pakistani": 2, "asian_other": 1, "black_african": 1, "black_caribbean": 1,
    "mixed_white_and_black_caribbean": 2, "mixed_other": 1, "other_arab": 1,
    "other_any_other": 1, "white": 2, "not_stated": 4,
}
AGE_BANDS: dict[AgeBand, int] = {
    "18_24": 22, "25_34": 35, "35_44": 24, "45_54": 13, "55_64": 4, "65_plus": 2,
}
AGE_RANGE: dict[AgeBand, tuple[int, int]] = {
    "under_18": (1, 17), "18_24": (18, 24), "25_34": (25, 34), "35_44": (35, 44),
    "45_54": (45, 54), "55_64": (55, 64), "65_plus": (65, 80),
}
THIRD_PARTIES = {"mother": 40, "friend": 25, "sibling": 20, "father": 10, "neighbour": 5}
CSODS_APPLICANTS = {"mother": 55, "father": 20, "grandparent": 15, "aunt": 5, "neighbour": 5}

# (actor id, name as written in records); area prefixes the actor id.
OFFICERS = (("pc.ames", "PC 2231 Ames"), ("pc.bright", "PC 1187 Bright"),
            ("dc.cole", "DC 4410 Cole"), ("pc.dyer", "PC 3075 Dyer"),
            ("dc.evans", "DC 2968 Evans"), ("pc.ford", "PC 1542 Ford"))
DECIDERS = (("di.hart", "DI Hart"), ("di.moss", "DI Moss"), ("dci.west", "DCI West"))
CONTACT = ("contact.kaur", "contact.lamb", "contact.nash")
MAPPA_COORDINATOR = "mappa.coordinator"
PARENT_AGE_BANDS: dict[AgeBand, int] = {"35_44": 30, "45_54": 40, "55_64": 25, "65_plus": 5}
RELATIONSHIP_CODES: dict[str, Relationship] = {
    "self": "self", "mother": "parent", "father": "parent", "friend": "friend",
    "sibling": "sibling", "grandparent": "grandparent", "aunt": "other_relative",
    "neighbour": "neighbour",
}
# Someone better placed to protect, made a party when the applicant is not eligible.
RECIPIENTS = {"dvds": "mother of the person at risk", "csods": "mother of the children"}
# MAPP meetings name organisations as often as people.
MAPPA_RECIPIENTS: dict[Relationship, int] = {
    "employer": 35, "accommodation_provider": 15, "landlord": 10, "sports_club": 10,
    "college": 10, "faith_group": 5, "school": 5, "partner": 10,
}
MAPPA_ORGANISATIONS = {
    "employer": "Peak Valley Logistics Ltd", "accommodation_provider": "Approved premises",
    "landlord": "Moorside Housing Association", "sports_club": "Dale Amateur Boxing Club",
    "college": "North Derbyshire College", "faith_group": "St Alban's Church",
    "school": "Hillside Primary School",
}
RSO_SHARE = {"csods": 0.35, "mappa": 0.5}
NON_DELIVERY: dict[NonDeliveryReason, int] = {
    "declined": 40, "not_found": 30, "undertaking_refused": 20, "stopped": 10,
}
SUBJECT_RELATIONSHIPS: dict[str, dict[str, int]] = {
    "dvds": {"partner": 70, "ex-partner": 30},
    "csods": {"mother's partner": 45, "neighbour": 20, "family friend": 20, "relative": 15},
    "mappa": {"MAPPA nominal": 1},
}
ASK_CHANNELS: dict[Channel, int] = {"online": 45, "telephone": 25, "in_person": 22, "letter": 8}
KNOW_CHANNELS: dict[Channel, int] = {"partner_agency": 60, "in_person": 25, "telephone": 15}
SUMMARIES = {
    "dvds_ask_self": (
        "Worried about a new partner's temper and what happened in past relationships",
        "Partner has become controlling; wants to know about any previous violence",
        "Was told by a friend that the partner hurt someone before",
    ),
    "dvds_ask_other": (
        "is worried about the person at risk's new partner",
        "has seen bruising and wants to know the partner's history",
        "heard the partner was violent to a previous partner",
    ),
    "dvds_know": (
        "Domestic incident attended; the partner's history suggests a risk",
        "MARAC raised concern about a new relationship",
        "Intelligence that a repeat perpetrator has a new partner",
    ),
    "csods_ask": (
        "A new partner has unsupervised access to the children",
        "Concern about a neighbour who babysits the children",
        "A family friend spends time alone with a child",
    ),
    "csods_know": (
        "Registered sex offender reported to be living with a family with children",
        "Children's social care concerned about a lodger",
    ),
    "mappa": (
        "Level 2 MAPP meeting agreed to consider disclosure to a new partner",
        "Level 3 MAPP meeting: the nominal has started work with access to young people",
    ),
}
FINDING_NOTES: dict[Finding, str] = {
    "in_scope": "Relationship and concern fall within the scheme",
    "out_of_scope": "No relationship or specific child; the concern is outside the scheme",
    "duplicate": "Same subject and person at risk as a recent request",
    "referred_safeguarding": "Referred to MARAC; the scheme is not the right route",
}
LEAVINGS: dict[Route, tuple[str, ...]] = {
    "right_to_ask": ("withdrawn", "no_engagement"), "right_to_know": ("no_engagement",),
}
# The first source of each scheme is always checked; the rest now and then.
CHECK_SOURCES: dict[str, tuple[CheckSource, ...]] = {
    "dvds": ("pnc", "pnd", "local_records", "marac", "childrens_social_care", "probation"),
    "csods": ("pnc", "visor", "local_records", "childrens_social_care", "education"),
    "mappa": ("visor", "pnc", "probation", "prisons"),
}
CHECK_FINDINGS: dict[CheckSource, tuple[str, str]] = {  # (something held, nothing held)
    "pnc": ("Convictions for assault on former partners", "No convictions recorded"),
    "pnd": ("Intelligence of controlling behaviour from another force", "Nothing held"),
    "visor": ("Registered sex offender, managed at MAPPA level 2", "Not known on ViSOR"),
    "local_records": ("Domestic incidents attended in the past three years",
                      "No incidents recorded"),
    "marac": ("Discussed at MARAC about a previous partner", "Not known to MARAC"),
    "childrens_social_care": ("Previous child protection plan", "Not known to the service"),
    "probation": ("Supervised on licence for violence", "Not known to probation"),
    "education": ("School has raised concerns", "No concerns held"),
    "prisons": ("Released on licence this year", "No custody record"),
}
WORDING = {
    "dvds": (
        "{subject} has convictions for violence against former partners.",
        "{subject} has been the subject of police reports of abuse by previous partners.",
    ),
    "csods": ("{subject} has a conviction for a sexual offence against a child.",),
    "mappa": ("{subject} is managed under MAPPA because of offences of violence.",
              "{subject} has convictions that mean he poses a risk to children."),
}
ATTENDEES: dict[Forum, tuple[Agency, ...]] = {
    "police": (),
    "dvds_panel": ("idva_service", "childrens_social_care"),
    "marac": ("idva_service", "health", "housing"),
    "mapp_level_2": ("probation", "childrens_social_care"),
    "mapp_level_3": ("probation", "prisons", "childrens_social_care", "health"),
}
RANKS: dict[str, Rank] = {"di": "inspector", "dci": "chief_inspector"}
REFERRED_TO: tuple[ReferredTo, ...] = ("marac", "mash", "childrens_social_care", "mappa")
NoDisclosureReason = Literal["no_information", "not_necessary_proportionate"]


class DemoSummary(msgspec.Struct, kw_only=True):
    """What a seeding run made."""

    requests: int
    events: int
    by_scheme: dict[str, int]
    by_route: dict[str, int]
    by_state: dict[str, int]
    by_outcome: dict[str, int]
    by_area: dict[str, int]
    reopened: int
    parties_added: int
    parties_amended: int
    entered_late: int  # events entered a working day or more after they happened
    # Right-to-ask requests carried on as right to know open a request each, beyond `requests`.
    continued: int


@dataclass(frozen=True)
class _Fate:
    """How a request's story goes, decided before it starts."""

    scheme: Scheme
    route: Route
    outcome: str  # where the story ends if neither today nor a stall stops it first
    stall: str | None = None  # an open state the request gets stuck in
    reopened: bool = False  # closed once for lack of engagement, then reopened
    urgent: bool = False  # urgent safeguarding first, then the scheme goes on
    continued: bool = False  # the applicant goes, the risk stays: carried on as right to know
    repeat: bool = False  # the subject is one the area has seen with other partners before
    area: str | None = None  # where it happens, if not drawn


@dataclass(frozen=True)
class _Plan:
    received_at: datetime
    fate: _Fate
    seed: int


class _Paused(Exception):
    """The story has reached today, or the state the request is stuck in."""


def _pick(rng: random.Random, weights: Mapping[T, int]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _coverage() -> list[_Fate]:
    """One request in every open state of each route and one with every outcome."""
    fates = [
        _Fate("dvds", route, "no_information" if state == "awaiting_notice"
              else "disclosed_to_person_at_risk", stall=state)
        for route, states in OPEN_STATES.items() for state in states
    ]
    fates += [_Fate("dvds", "right_to_ask", outcome) for outcome in OUTCOMES]
    return [
        *fates,
        _Fate("dvds", "right_to_ask", "disclosed_to_person_at_risk", reopened=True),
        _Fate("dvds", "right_to_know", "disclosed_to_person_at_risk", urgent=True),
        _Fate("csods", "right_to_ask", "disclosed_to_other"),
        _Fate("mappa", "right_to_know", "disclosed_to_other"),
        _Fate("dvds", "right_to_ask", "withdrawn", continued=True),
        _Fate("dvds", "right_to_know", "disclosed_to_person_at_risk", urgent=True),
        # A man three women have asked about: a repeat-subject alert.
        *(_Fate("dvds", "right_to_ask", "no_information", repeat=True, area="derbyshire")
          for _ in range(REPEATED)),
    ]


def _random_fate(rng: random.Random, received_at: datetime, today: datetime) -> _Fate:
    scheme, route = _pick(rng, MIX)
    outcome = _pick(rng, ENDINGS[scheme, route])
    progressed = outcome not in INITIAL_FINDINGS and outcome != "immediate_action"
    # Only the past year has requests stuck open long enough to be overdue.
    stuck = today - received_at < timedelta(days=365) and rng.random() < 0.06
    recent = today - received_at < timedelta(days=365)
    return _Fate(
        scheme, route, outcome,
        repeat=scheme == "dvds" and recent and rng.random() < REPEAT_SHARE,
        stall=rng.choice(OPEN_STATES[route]) if stuck else None,
        reopened=progressed and rng.random() < 0.02,
        urgent=progressed and rng.random() < 0.04,
        continued=route == "right_to_ask" and outcome in LEAVINGS[route] and rng.random() < 0.2,
    )


def _plans(rng: random.Random, requests: int, today: datetime) -> list[_Plan]:
    start = today - timedelta(days=365 * YEARS)
    span = (today - start).total_seconds() - 7200

    def received(low: float = 0.0, high: float = 1.0) -> datetime:
        # Applications grow year on year, as the published series do: density rises with time.
        while True:
            x = rng.uniform(low, high)
            if rng.random() < (1 + x) / 2:
                return start + timedelta(seconds=x * span)

    plans: list[_Plan] = []
    for fate in _coverage()[:requests]:
        # Stuck ones are a few months old, so they are overdue; ended ones had time to end.
        at = (received(0.75, 0.9) if fate.stall
              else received(1 - ALERT_DAYS / 365 / YEARS, 1) if fate.repeat
              else received(0.05, 0.85))
        plans.append(_Plan(at, fate, rng.getrandbits(64)))
    while len(plans) < requests:
        at = received()
        plans.append(_Plan(at, _random_fate(rng, at, today), rng.getrandbits(64)))
    plans.sort(key=lambda p: p.received_at)
    # A duplicate needs an earlier request to be the duplicate of.
    first = next((i for i, p in enumerate(plans) if p.fate.outcome != "not_progressed_duplicate"),
                 0)
    if first:
        plans[0], plans[first] = (replace(plans[first], received_at=plans[0].received_at),
                                  replace(plans[0], received_at=plans[first].received_at))
    return plans


class Desk(Protocol):
    """Where a story is recorded: the workflow's batch path (`disclosure.batch.Batch`)."""

    async def create(
        self, new: NewRequest, *, actor: str, recorded_at: datetime | None = None
    ) -> Received: ...

    async def apply(
        self, reference: str, payload: EventIn, *, actor: str, expected_version: int,
        recorded_at: datetime | None = None,
    ) -> Transitioned: ...

    async def parties(self, reference: str) -> list[PartyView]: ...

    async def partner_requests(self, reference: str) -> list[int]: ...


@dataclass
class _Case:
    """One request being walked through its story by the workflow."""

    desk: Desk
    today: datetime
    rng: random.Random
    fate: _Fate
    at: datetime
    area: str
    division: str
    officer: tuple[str, str]
    decider: tuple[str, str]
    received: datetime
    reference: str = ""
    version: int = 0
    state: str = "received"
    outcome: str | None = None
    parties: list[PartyView] = field(default_factory=list)
    recipients: list[RecipientIn] = field(default_factory=list)
    reopened: bool = False
    continued: bool = False
    # A better-placed recipient who comes to light only when the case is decided.
    late_recipient: PartyIn | None = None
    added: int = 0
    amended: int = 0
    late: int = 0

    def actor(self, who: tuple[str, str]) -> str:
        return f"{self.area}.{who[0]}"

    def later(
        self, *, working_days: int = 0, hours: float = 0, start: datetime | None = None
    ) -> datetime:
        """When the next thing happens: after some working days in office hours, or some hours,
        from the last step (or `start`)."""
        start = start or self.at
        if not working_days:
            return start + timedelta(hours=hours, minutes=self.rng.randrange(5, 60))
        day = start.astimezone(LONDON).date()
        while working_days:
            day += timedelta(days=1)
            working_days -= day.weekday() < 5
        minute = self.rng.randrange(9 * 60, 17 * 60)
        return datetime.combine(day, time(minute // 60, minute % 60), LONDON).astimezone(UTC)

    async def step(self, payload: EventIn, *, by: tuple[str, str], at: datetime) -> None:
        """Record an event that happened `at`: mostly a little later, now and then (a meeting
        written up on return to the office) some working days later. Not after today."""
        event = type(payload).__struct_config__.tag
        # Never before the step before it, even when what it records happened earlier.
        recorded = max(at, self.at) + timedelta(minutes=self.rng.randrange(10, 90))
        late = event in ENTERED_LATE and self.rng.random() < ENTERED_LATE[event]
        if late:
            recorded = self.later(working_days=self.rng.randint(1, 3), start=recorded)
        if recorded > self.today or (self.state == self.fate.stall and event not in STAYING):
            raise _Paused
        if payload.when is None:
            payload = msgspec.structs.replace(payload, occurred_at=at)
        self.at = recorded
        done = await self.desk.apply(self.reference, payload, actor=self.actor(by),
                                     expected_version=self.version, recorded_at=recorded)
        self.version, self.state, self.outcome = done.version, done.state, done.outcome
        self.reopened |= event == "reopen"
        self.continued |= event == "continue_as_right_to_know"
        self.added += event == "add_party"
        self.amended += event == "amend_party"
        self.late += late

    def party(self, role: str) -> int:
        return next(p.id for p in self.parties if p.role == role)

    def has(self, role: str) -> bool:
        return any(p.role == role for p in self.parties)

    def authoriser(self) -> str:
        """A decision-maker of the area, by username, to authorise what cannot wait."""
        return self.actor(self.decider)

    def eligible(self) -> list[PartyView]:
        """The parties the scheme's rule allows to receive, the person at risk first."""
        rule = eligibility(self.fate.scheme, self.received)
        return [p for p in self.parties if p.role not in rule.never and (
            p.role in rule.by_role or p.relationship_code in rule.relationships)]

    def exceptional(self, party: PartyView) -> bool:
        rule = eligibility(self.fate.scheme, self.received)
        return party.role not in rule.by_role and bool(
            rule.relationships.get(party.relationship_code or ""))


async def seed(
    workflow: Workflow, *, requests: int, seed: int = 0, today: datetime | None = None,
    workers: int = 1,
) -> DemoSummary:
    """Make `requests` synthetic requests received over the ten years up to `today`, through
    the workflow's batch path, `CHUNK` requests to a transaction.

    Each event is recorded when it plausibly happened; the same seed, day and number of
    workers make the same requests, references, parties, events and times. With `workers`
    above one, each worker process tells the stories of whole years of its own (see
    `_periods`), so no two take numbers from the same year's references.
    """
    if requests < 0:
        raise ValueError("requests: cannot be negative")
    if workers < 1:
        raise ValueError("workers: at least one")
    today = (today or workflow.now()).astimezone(UTC)
    rng = random.Random(seed)
    await _accounts(workflow)
    # SQLite takes one writer at a time: its stories are told in this process.
    parts = _periods(_plans(rng, requests, today),
                     workers if workflow.db.dialect == "postgresql" else 1, today)
    if len(parts) == 1:
        return (await _tell_period(workflow, parts[0], today)).summary()
    url = workflow.db.engine.url.render_as_string(hide_password=False)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(len(parts), mp_context=multiprocessing.get_context("spawn")) as pool:
        told = await asyncio.gather(*(
            loop.run_in_executor(pool, _worker, url, workflow.policy, workflow.finding, part,
                                 today)
            for part in parts
        ))
    tally = _Tally()
    for part_tally in told:
        tally.merge(part_tally)
    return tally.summary()


def _periods(plans: list[_Plan], workers: int, today: datetime) -> list[list[_Plan]]:
    """The plans cut into at most `workers` runs of whole years, about as many in each.

    The last run holds the past year and more, so that repeat-subject alerts are raised
    with every request of their window written.
    """
    latest = (today - timedelta(days=400)).year
    starts: list[int] = []
    for number in range(1, workers):
        at = plans[len(plans) * number // workers].received_at.year if plans else latest
        year = min(at, latest)
        if year not in starts and (not starts or year > starts[-1]):
            starts.append(year)
    cuts = [0, *(next((i for i, p in enumerate(plans) if p.received_at.year >= year),
                      len(plans)) for year in starts), len(plans)]
    return [plans[a:b] for a, b in itertools.pairwise(cuts) if b > a] or [plans]


def _worker(
    url: str, policy: PolicySettings, finding: FindingPolicy, plans: list[_Plan],
    today: datetime,
) -> _Tally:
    """A worker process: tell one period's stories into the database at `url`."""

    async def run() -> _Tally:
        workflow = Workflow(Database(url), policy, finding=finding)
        try:
            return await _tell_period(workflow, plans, today)
        finally:
            await workflow.db.dispose()

    return asyncio.run(run())


async def _tell_period(workflow: Workflow, plans: list[_Plan], today: datetime) -> _Tally:
    tally = _Tally()
    # A duplicate names the area's request received before it: one of the same area.
    previous: dict[str, str] = {}
    alerts_since = today - timedelta(days=ALERT_DAYS)
    analysed = False
    for start in range(0, len(plans), CHUNK):
        chunk = plans[start:start + CHUNK]
        if not analysed and chunk[-1].received_at >= alerts_since:
            await _analyse(workflow)
            analysed = True
        async with batch(workflow, alerts_since=alerts_since) as desk:
            await tell(desk, chunk, today, previous, tally)
    return tally


async def _analyse(workflow: Workflow) -> None:
    """Before the receipts that raise alerts, each a search of the names written so far:
    PostgreSQL's statistics of the tables just loaded, so that it plans those searches for
    the rows they hold, whether or not autovacuum runs (its statistics of an empty table
    would otherwise stand)."""
    if workflow.db.dialect == "postgresql":
        async with workflow.db.engine.begin() as conn:
            await conn.execute(text("ANALYZE requests, parties, search_terms, search_names"))


async def tell(
    desk: Desk, plans: Sequence[_Plan], today: datetime, previous: dict[str, str],
    tally: _Tally,
) -> None:
    """Receive each planned request in turn and take it as far as its fate and today allow;
    `previous` holds each area's latest reference."""
    for plan in plans:
        case = _new_case(desk, today, plan)
        await _receive(case)
        with contextlib.suppress(_Paused):
            await _story(case, previous.get(case.area))
        previous[case.area] = case.reference
        tally.add(case)


class _Tally:
    """What the stories made, counted as they end."""

    def __init__(self) -> None:
        self.counters: dict[str, Counter[str]] = {
            name: Counter() for name in ("scheme", "route", "state", "outcome", "area")
        }
        self.requests = self.events = self.reopened = self.added = self.amended = 0
        self.late = self.continued = 0

    def add(self, case: _Case) -> None:
        self.requests += 1
        # Each request carried on as right to know has its receipt on its own trail.
        self.events += case.version + case.continued
        for name, value in (("scheme", case.fate.scheme), ("route", case.fate.route),
                            ("state", case.state), ("outcome", case.outcome),
                            ("area", case.area)):
            if value is not None:
                self.counters[name][value] += 1
        self.reopened += case.reopened
        self.added += case.added
        self.amended += case.amended
        self.late += case.late
        self.continued += case.continued

    def merge(self, other: _Tally) -> None:
        for name, counter in other.counters.items():
            self.counters[name].update(counter)
        self.requests += other.requests
        self.events += other.events
        self.reopened += other.reopened
        self.added += other.added
        self.amended += other.amended
        self.late += other.late
        self.continued += other.continued

    def summary(self) -> DemoSummary:
        def count(name: str) -> dict[str, int]:
            return dict(sorted(self.counters[name].items()))

        return DemoSummary(
            requests=self.requests, events=self.events, by_scheme=count("scheme"),
            by_route=count("route"), by_state=count("state"), by_outcome=count("outcome"),
            by_area=count("area"), reopened=self.reopened, parties_added=self.added,
            parties_amended=self.amended, entered_late=self.late, continued=self.continued,
        )


async def _accounts(workflow: Workflow) -> None:
    """The demo's areas, and its decision-makers as accounts: an urgent disclosure names one
    as its authoriser. Their passwords are random and never shown; nobody signs in as them."""
    users = Users(workflow.db, now=workflow.now)
    for code, divisions in AREAS.items():
        await users.add_area(code, name=AREA_NAMES[code], divisions=list(divisions))
    async with workflow.db.read() as session:
        existing = set(await session.scalars(select(User.username)))
    for area in AREAS:
        for who, name in DECIDERS:
            username = f"{area}.{who}"
            if username not in existing:
                await users.add(username, password=secrets.token_urlsafe(24), area=area,
                                roles=["decision_maker"], display_name=name,
                                created_by="demo")


def _new_case(desk: Desk, today: datetime, plan: _Plan) -> _Case:
    rng = random.Random(plan.seed)
    area = plan.fate.area or _pick(rng, AREA_WEIGHTS)
    return _Case(
        desk=desk, today=today, rng=rng, fate=plan.fate,
        at=plan.received_at, area=area, division=rng.choice(list(AREAS[area])),
        officer=rng.choice(OFFICERS), decider=rng.choice(DECIDERS), received=plan.received_at,
    )


async def _story(case: _Case, previous: str | None) -> None:
    """Take a received request as far as its fate and today allow."""
    fate, rng = case.fate, case.rng
    if fate.reopened:
        await _initial_checks(case, "in_scope")
        await _leave(case, rng.choice(LEAVINGS[fate.route]))
        category, reason = rng.choice(REOPENINGS)
        await case.step(
            Reopen(category=category, reason=reason),
            by=case.decider, at=case.later(working_days=rng.randint(10, 40)),
        )
    if fate.urgent or fate.outcome == "immediate_action":
        leaves = fate.outcome == "immediate_action"
        taken_at = case.later(hours=rng.uniform(0.5, 6))
        urgent = None
        eligible = case.eligible()
        if not leaves and eligible and rng.random() < 0.5:
            to = eligible[0]
            subject = next(p.name for p in case.parties if p.role == "subject")
            urgent = UrgentDisclosure(
                recipient_party_id=to.id, wording=rng.choice(WORDING[fate.scheme]).format(
                    subject=subject),
                better_placed_reason="No one else could be reached in time"
                if case.exceptional(to) else None,
                delivered_by=case.officer[1], delivered_at=taken_at + timedelta(minutes=40),
                authorised_by=case.authoriser(), authoriser_rank=RANKS[
                    case.decider[0].split(".")[0]],
            )
        await case.step(TakeImmediateAction(
            action=("Subject arrested; handled as a criminal investigation" if leaves
                    else "Officers attended and a safety plan was put in place"),
            taken_at=taken_at, leaves_scheme=leaves, urgent_disclosure=urgent,
        ), by=case.officer, at=taken_at + timedelta(hours=1))
        if leaves:
            return
    finding = INITIAL_FINDINGS.get(fate.outcome, "in_scope")
    if finding == "duplicate" and previous is None:
        # The area's first request has nothing before it to duplicate.
        finding = "out_of_scope"
    # Half the referrals are made at the initial checks, half once the full checks are in.
    if finding == "referred_safeguarding" and rng.random() < 0.5:
        finding = "in_scope"
    await _initial_checks(case, finding, duplicate_of=previous)
    if finding != "in_scope":
        return
    if fate.route == "right_to_ask":
        leaving = fate.outcome in ("withdrawn", "no_engagement")
        if leaving and rng.random() < 0.5:
            await _leave(case, fate.outcome)
            return
        await _meeting(case)
        applicant = next(p for p in case.parties if p.role == "applicant")
        contact = applicant.safe_contact
        if (contact and contact.get("method") == "phone" and case.state != "closed"
                and rng.random() < SAFE_CONTACT_CHANGED):
            await _amend(case, "applicant", {"safe_contact": contact | {
                "times": rng.choice(("Weekday mornings only", "After 8pm", "Lunchtimes"))}},
                "The applicant asked for calls at another time",
                at=case.later(working_days=rng.randint(1, 4)))
        if leaving:
            await _leave(case, fate.outcome)
        if leaving or fate.outcome == "identity_not_verified":
            return
    await _checks(case)
    # Right to know: the person at risk cannot be reached before the decision is made.
    if fate.outcome == "no_engagement":
        await _leave(case, fate.outcome)
        return
    await _decision(case)
    if fate.outcome in DISCLOSED:
        await _deliveries(case)
    if case.state == "awaiting_notice":
        await _notice(case)
    if case.recipients and case.fate.scheme == "mappa" and rng.random() < 0.7:
        told_at = case.later(working_days=rng.randint(1, 10))
        await case.step(RecordSubjectTold(
            told_at=told_at, told_by=case.officer[1], method="via_offender_manager",
            what="That the MAPP meeting shared information about his offending with "
                 + ", ".join(sorted({_named(case, r.party_id) for r in case.recipients})),
        ), by=case.officer, at=told_at)


def _named(case: _Case, party: int) -> str:
    found = next(p for p in case.parties if p.id == party)
    return found.name if found.kind == "organisation" and found.name else found.role.replace(
        "_", " ")


async def _notice(case: _Case) -> None:
    """The applicant told the process has ended: a third party nothing more, as forces'
    guidance says; a person at risk who applied is told there is nothing to disclose."""
    rng = case.rng
    third_party = any(p.role == "applicant" and p.relationship_code != "self"
                      for p in case.parties)
    given_at = case.later(working_days=rng.randint(1, 5))
    await case.step(RecordNotice(
        given_at=given_at, given_by=case.officer[1],
        method=rng.choice(("in_person", "in_person", "telephone")),
        told="process_ended" if third_party else "outcome", safety_advice_given=True,
        safety_advice=rng.choice((
            "How to call 999 and the local IDVA service; a safety plan was offered",
            "Signposted to the National Domestic Abuse Helpline and local support",
            "Advice on keeping children safe and the NSPCC helpline",
        )),
    ), by=case.officer, at=given_at)


async def _receive(case: _Case) -> None:
    fate, rng = case.fate, case.rng
    parties, applicant = _parties(case)
    new = NewRequest(
        scheme=fate.scheme, route=fate.route, area=case.area, division=case.division,
        received_at=case.at, channel=_channel(rng, fate), summary=_summary(rng, fate, applicant),
        immediate_risk=fate.urgent or fate.outcome == "immediate_action", parties=parties,
    )
    case.at = min(case.at + timedelta(minutes=rng.randrange(2, 120)), case.today)
    if fate.scheme == "mappa":
        actor = MAPPA_COORDINATOR
    else:
        actor = rng.choice(CONTACT) if fate.route == "right_to_ask" else case.officer[0]
    view = await case.desk.create(new, actor=f"{case.area}.{actor}", recorded_at=case.at)
    case.reference, case.version, case.parties = view.reference, view.version, view.parties



async def _initial_checks(
    case: _Case, finding: Finding, *, duplicate_of: str | None = None
) -> None:
    await case.step(CompleteInitialChecks(
        finding=finding, immediate_risk=case.fate.urgent, notes=FINDING_NOTES[finding],
        duplicate_of=duplicate_of if finding == "duplicate" else None,
        referred_to="marac" if finding == "referred_safeguarding" else None,
    ), by=case.officer, at=case.later(hours=case.rng.uniform(1, 30)))


async def _meeting(case: _Case) -> None:
    rng = case.rng
    verified = case.fate.outcome != "identity_not_verified"
    csods = case.fate.scheme == "csods"
    documents: list[IdentityDocument] = (
        [rng.choice(("passport", "driving_licence")), rng.choice(("utility_bill", "council_tax"))]
        if verified else ["utility_bill"] if rng.random() < 0.5 else []
    )
    if csods and verified:
        documents.append("birth_certificate")
    # Most meetings fall within the 10-working-day target; a few slip past it.
    held_at = case.later(working_days=rng.choice((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15)))
    await case.step(RecordMeeting(
        held_at=held_at, held_by=case.officer[1], identity_verified=verified,
        documents_seen=documents, proof_of_address=csods and verified,
        proof_of_relationship=csods and verified,
        notes="" if verified else "Applicant would not show photo identification",
    ), by=case.officer, at=held_at)


async def _leave(case: _Case, outcome: str) -> None:
    """The applicant withdraws, or stops answering; where the risk remains, the case is
    carried on as right to know."""
    rng = case.rng
    at = case.later(working_days=rng.randint(1, 10))
    # Carried on within the year it was received, so that the year's references are all
    # taken by the worker telling that year's stories.
    if (case.fate.continued and case.state != "awaiting_delivery"
            and at.year == case.received.year):
        await case.step(ContinueAsRightToKnow(
            reason="applicant_withdrew" if outcome == "withdrawn" else "no_engagement",
            risk="The subject's history and the current relationship still put her at risk",
        ), by=case.officer, at=at)
        return
    if outcome == "withdrawn":
        await case.step(Withdraw(reason=rng.choice((
            "Applicant asked for the application to stop",
            "Applicant has ended the relationship and no longer wants the information",
        ))), by=case.officer, at=case.later(working_days=rng.randint(1, 10)))
    else:
        attempts = rng.randint(3, 6)
        await case.step(CloseNoEngagement(
            attempts=attempts, reason=f"No answer on the safe contact after {attempts} attempts",
        ), by=case.officer, at=case.later(working_days=rng.randint(5, 15)))


async def _checks(case: _Case) -> None:
    """Police and partner checks; a slow partner agency costs an extension."""
    rng, fate = case.rng, case.fate
    held = fate.outcome != "no_information"
    sources = [s for s in CHECK_SOURCES[fate.scheme][1:] if rng.random() < 0.3]
    for number, source in enumerate([CHECK_SOURCES[fate.scheme][0], *sources[:2]]):
        at = case.later(working_days=rng.randint(0 if number else 1, 3))
        found = held and (number == 0 or rng.random() < 0.4)
        await case.step(RecordCheck(
            source=source, information_held=found,
            summary=CHECK_FINDINGS[source][0 if found else 1], checked_at=at,
        ), by=case.officer, at=at)
        if number == 0 and rng.random() < SUBJECT_BORN_CORRECTED:
            born = date.fromisoformat(next(
                p.date_of_birth or "1980-01-01" for p in case.parties if p.role == "subject"))
            corrected = born + timedelta(days=rng.choice((-366, -31, 31, 365)))
            await _amend(case, "subject", {"date_of_birth": corrected.isoformat()},
                         f"Date of birth corrected from the {source.upper()} record",
                         at=case.later(hours=0.5))
    if rng.random() < 0.3:
        agency: CheckSource = rng.choice(
            ("childrens_social_care", "adult_social_care", "probation", "health"))
        asked_at = case.later(hours=1)
        await case.step(RecordPartnerRequest(
            agency=agency, asked="Any information held on the subject or the person at risk?",
            asked_at=asked_at, due_at=asked_at + timedelta(days=7),
        ), by=case.officer, at=asked_at)
        asked_id = await _latest_partner_request(case)
        answered_at = case.later(working_days=rng.choice((2, 3, 4, 5, 8, 12, 15)))
        if fate.scheme != "mappa" and answered_at - asked_at > timedelta(days=10):
            await case.step(ExtendDeadline(
                days=rng.choice((7, 14)), category="partner_agency_delay",
                reason=f"Awaiting the {agency.replace('_', ' ')} response",
            ), by=case.decider, at=asked_at + timedelta(days=10))
        await case.step(RecordPartnerResponse(
            partner_request_id=asked_id, responded_at=answered_at,
            information_held=held and rng.random() < 0.5,
            response="Known to the service; details shared securely" if held
            else "Nothing held",
        ), by=case.officer, at=answered_at)
    await case.step(CompleteChecks(summary="Police and partner checks complete"),
                    by=case.officer, at=case.later(working_days=rng.randint(0, 2)))


async def _latest_partner_request(case: _Case) -> int:
    return (await case.desk.partner_requests(case.reference))[-1]


async def _decision(case: _Case) -> None:
    """The forum decides; the decision-maker never prepared the request."""
    rng, fate = case.rng, case.fate
    discloses = fate.outcome in DISCLOSED
    decided_at = case.later(working_days=rng.randint(2, 8))
    forum: Forum = (
        rng.choice(("mapp_level_2", "mapp_level_2", "mapp_level_3")) if fate.scheme == "mappa"
        else "police" if fate.scheme == "csods"
        else _pick(rng, {"dvds_panel": 70, "police": 20, "marac": 10})
    )
    # Half the referrals are made once the full checks are in, not at the initial checks.
    decision: Literal["disclose", "no_disclosure", "refer"] = (
        "disclose" if discloses else "refer" if fate.outcome == "referred_safeguarding"
        else "no_disclosure")
    reason: NoDisclosureReason | None = None
    if decision == "no_disclosure":
        reason = "no_information" if fate.outcome == "no_information" else (
            "not_necessary_proportionate")
    if discloses and case.late_recipient is not None:
        await case.step(AddParty(
            party=case.late_recipient,
            reason="The panel found her better placed to protect than anyone named so far",
        ), by=case.decider, at=decided_at - timedelta(minutes=rng.randrange(20, 60)))
        case.parties = await case.desk.parties(case.reference)
    if discloses:
        case.recipients = _recipients(case, decided_at)
    subject = next(p for p in case.parties if p.role == "subject")
    await case.step(RecordDecision(
        forum=forum, decided_at=decided_at, chair=case.decider[1],
        attendees=[Attendee(name=f"{a.replace('_', ' ').capitalize()} representative", agency=a)
                   for a in ATTENDEES[forum]],
        decision_maker_role=RANKS[case.decider[0].split(".")[0]],
        decision=decision,
        no_disclosure_reason=reason,
        referred_to=rng.choice(REFERRED_TO) if decision == "refer" else None,
        legal_test=_legal_test(reason or decision),
        presumption_applies=bool(subject.registered_sex_offender) if fate.scheme == "csods"
        else None,
        recipients=case.recipients,
        subject_views_sought=fate.scheme == "mappa",
        subject_views_reason=None if fate.scheme == "mappa"
        else "Seeking them would alert the subject and put the person at risk in danger",
        subject_to_be_told=fate.scheme == "mappa",
        safeguarding_actions=(["childrens_social_care"] if fate.scheme == "csods" else ["idva"])
        if discloses else [],
    ), by=case.decider, at=decided_at)


def _recipients(case: _Case, decided_at: datetime) -> list[RecipientIn]:
    """Who the forum names: the person at risk, or the one better placed; now and then both."""
    rng, fate = case.rng, case.fate
    eligible = case.eligible()
    at_risk = [p for p in eligible if p.role == "person_at_risk"]
    others = [p for p in eligible if p.role != "person_at_risk"]
    if fate.outcome == "disclosed_to_person_at_risk" or not others:
        chosen = at_risk[:1] + (others[:1] if others and rng.random() < 0.15 else [])
    else:
        chosen = others[:1] + (at_risk[:1] if at_risk and rng.random() < 0.15 else [])
    subject = next(p.name for p in case.parties if p.role == "subject")
    return [
        RecipientIn(
            party_id=p.id,
            rationale="The person at risk" if p.role == "person_at_risk"
            else "Best placed to protect the person at risk",
            better_placed_reason="The person at risk is young and lives with her; she is"
            " best placed to keep her safe" if case.exceptional(p) else None,
            wording=rng.choice(WORDING[fate.scheme]).format(subject=subject),
            discloser=case.officer[1],
            method=rng.choice(("In person at home, with an IDVA",
                               "In person at the police station"))
            if p.kind == "person" else "In person to the manager responsible for safeguarding",
            deliver_by=decided_at + timedelta(days=rng.randint(5, 14)),
        )
        for p in chosen
    ]


async def _amend(case: _Case, role: str, changes: dict[str, Any], reason: str, *,
                 at: datetime) -> None:
    await case.step(AmendParty(
        party_id=case.party(role), changes=msgspec.convert(changes, PartyChanges),
        reason=reason,
    ), by=case.officer, at=at)


def _legal_test(basis: str) -> LegalTest:
    def answer(met: bool, why: str) -> Answer:
        return Answer(met=met, rationale=why)

    need = {
        "disclose": "Recent relevant offending and current access to the person at risk",
        "no_information": "Nothing held that shows a risk",
        "not_necessary_proportionate": "What is held is old and unlike the present concern",
        "refer": "The risk is better met by a multi-agency plan",
    }[basis]
    met = basis == "disclose"
    return LegalTest(
        lawful=answer(True, "Common law police power to disclose to prevent crime"),
        pressing_need=answer(met, need),
        necessary=answer(met, "Disclosure is needed to protect the person at risk" if met
                         else "Safety advice alone meets the risk"),
        proportionate=answer(met, "The risk outweighs the subject's Article 8 rights" if met
                             else "Disclosure would interfere too far with the subject's rights"),
        data_protection_considered=True, rehabilitation_of_offenders_considered=True,
    )


async def _deliveries(case: _Case) -> None:
    """Each recipient settled: delivered, or now and then not; a disclosure meant to be lost
    is lost for every recipient."""
    rng = case.rng
    lost = case.fate.outcome == "disclosure_not_delivered"
    for number, recipient in enumerate(case.recipients):
        at = case.later(working_days=rng.randint(1, 6))
        # A second recipient now and then declines, or cannot be found.
        if lost or (number and rng.random() < 0.25):
            reason = _pick(rng, NON_DELIVERY)
            await case.step(RecordNonDelivery(
                recipient_party_id=recipient.party_id, reason=reason,
                at=at, decided_by=case.decider[1] if reason == "undertaking_refused" else None,
                notes={"declined": "Did not want to hear what the police hold",
                       "not_found": "Moved away; no forwarding address found",
                       "undertaking_refused": "Would not keep it confidential; not told",
                       "stopped": "New information: the relationship has ended"}[reason],
            ), by=case.decider if reason == "stopped" else case.officer, at=at)
            continue
        drifted = rng.random() < 0.1
        refused = rng.random() < 0.08
        await case.step(RecordDelivery(
            delivered_at=at, location=rng.choice(("At home", "The police station",
                                                  "The IDVA service office")),
            delivered_by=case.officer[1], recipient_party_id=recipient.party_id,
            others_present="IDVA" if rng.random() < 0.6 else None,
            # Now and then the words used drift from the approved wording, as reviews find.
            words_used=f"In short: {recipient.wording}" if drifted else recipient.wording,
            different_words_reason="The recipient asked for it in plain words" if drifted
            else None,
            confidentiality_explained=True,
            undertaking="refused" if refused else "signed",
            undertaking_decided_by=case.decider[1] if refused else None,
            safety_plan_made=True,
            referrals=["childrens_social_care"] if case.fate.scheme == "csods" else ["idva"],
        ), by=case.officer, at=at)


def _channel(rng: random.Random, fate: _Fate) -> Channel:
    if fate.scheme == "mappa":
        return "mapp_meeting"
    if fate.route == "right_to_ask":
        return _pick(rng, ASK_CHANNELS)
    return _pick(rng, KNOW_CHANNELS)


def _summary(rng: random.Random, fate: _Fate, applicant: str | None) -> str:
    if fate.scheme == "mappa":
        return rng.choice(SUMMARIES["mappa"])
    if fate.route == "right_to_know":
        return rng.choice(SUMMARIES[f"{fate.scheme}_know"])
    if fate.scheme == "csods":
        return rng.choice(SUMMARIES["csods_ask"])
    if applicant == "self":
        return rng.choice(SUMMARIES["dvds_ask_self"])
    return f"{(applicant or 'applicant').capitalize()} {rng.choice(SUMMARIES['dvds_ask_other'])}"


def _parties(case: _Case) -> tuple[list[PartyIn], str | None]:
    """The people in the request, and how the applicant (if any) stands to the person at risk."""
    rng, fate = case.rng, case.fate
    on = case.at.astimezone(LONDON).date()
    home = f"{rng.randint(1, 120)} {rng.choice(STREETS)}, {AREAS[case.area][case.division]}"
    subject_sex: Sex = "male" if rng.random() < (0.88 if fate.scheme == "dvds" else 0.96) else (
        "female")
    subject = _person(rng, "subject", subject_sex, _pick(rng, AGE_BANDS), on,
                      relationship=_pick(rng, SUBJECT_RELATIONSHIPS[fate.scheme]))
    if fate.repeat:
        # The small demo's three are about the same man.
        subject = _serial(case.area, 0 if fate.area else rng.randrange(SERIAL_SUBJECTS))
    # The CSODS return counts applications about registered sex offenders.
    if fate.scheme != "dvds":
        subject = msgspec.structs.replace(
            subject, registered_sex_offender=rng.random() < RSO_SHARE[fate.scheme])
    parties = [subject]
    family, kin = rng.choice(SURNAMES), _pick(rng, ETHNICITY)
    if fate.scheme == "csods":
        parties += [_person(rng, "child", rng.choice(("female", "male")), "under_18", on,
                            surname=family, address=home, ethnicity=kin)
                    for _ in range(rng.choice((1, 1, 2, 2, 3)))]
    else:
        at_risk_sex: Sex = ("female" if subject_sex == "male" else "male") if (
            rng.random() < 0.92) else subject_sex
        parties.append(_person(rng, "person_at_risk", at_risk_sex, _pick(rng, AGE_BANDS), on,
                               surname=family, address=home, ethnicity=kin,
                               relationship="partner" if rng.random() < 0.7 else "ex-partner"))
    relationship: str | None = None
    if fate.route == "right_to_ask":
        if fate.scheme == "csods":
            relationship = _pick(rng, CSODS_APPLICANTS)
        else:
            relationship = "self" if rng.random() < 0.6 else _pick(rng, THIRD_PARTIES)
        parties.append(_applicant(rng, relationship, parties[-1], family, kin, on))
    else:
        name, agency = _referrer(rng, fate, case.officer[1])
        parties.append(PartyIn(role="referrer", name=name, relationship=agency))
    rule = eligibility(fate.scheme, case.at)
    code = RELATIONSHIP_CODES.get(relationship or "")
    if fate.outcome in ("disclosed_to_other", "disclosure_not_delivered") and (
        code not in rule.relationships
    ):
        if fate.scheme == "mappa":
            named = _pick(rng, MAPPA_RECIPIENTS)
            parties.append(
                _person(rng, "recipient", "female", _pick(rng, AGE_BANDS), on,
                        relationship="new partner", code=named) if named == "partner"
                else PartyIn(role="recipient", kind="organisation", relationship_code=named,
                             name=MAPPA_ORGANISATIONS[named],
                             relationship=named.replace("_", " ")))
        else:
            recipient = _person(rng, "recipient", "female", _pick(rng, PARENT_AGE_BANDS), on,
                                surname=family, address=home, ethnicity=kin,
                                relationship=RECIPIENTS[fate.scheme], code="parent")
            if rng.random() < RECIPIENT_FOUND_LATE:
                case.late_recipient = recipient
            else:
                parties.append(recipient)
    return parties, relationship


def _serial(area: str, number: int) -> PartyIn:
    """One of the few men each area's requests name again and again, with new partners."""
    rng = random.Random(f"{area}:{number}")
    born = date(1975, 1, 1) + timedelta(days=rng.randrange(20 * 365))
    return PartyIn(
        role="subject", name=f"{rng.choice(MALE)} {rng.choice(SURNAMES)}",
        date_of_birth=born.isoformat(), relationship="partner", sex="male",
        age_band=_band(born), ethnicity=_pick(rng, ETHNICITY),
    )


def _band(born: date) -> AgeBand:
    age = (date(2026, 1, 1) - born).days // 365
    return next(band for band, (low, high) in AGE_RANGE.items() if low <= age <= high)


def _applicant(
    rng: random.Random, relationship: str, at_risk: PartyIn, family: str,
    kin: Ethnicity | None, on: date,
) -> PartyIn:
    if relationship == "self":
        applicant = msgspec.structs.replace(at_risk, role="applicant", relationship="self",
                                            relationship_code="self")
    else:
        sex: Sex = ("female" if relationship in ("mother", "grandparent", "aunt")
                    else "male" if relationship == "father" else rng.choice(("female", "male")))
        related = relationship in ("mother", "father", "sibling", "grandparent", "aunt")
        band = _pick(rng, PARENT_AGE_BANDS if related and relationship != "sibling"
                     else AGE_BANDS)
        # A relative shares the family's name, home and ethnicity; a friend or neighbour not.
        applicant = _person(
            rng, "applicant", sex, band, on, relationship=relationship,
            code=RELATIONSHIP_CODES[relationship],
            surname=family if related else None,
            address=at_risk.address if related else None, ethnicity=kin if related else None,
        )
    name = applicant.name or "applicant"
    return msgspec.structs.replace(applicant, safe_contact=_safe_contact(rng, name))


def _person(
    rng: random.Random, role: PartyRole, sex: Sex, age_band: AgeBand, on: date, *,
    surname: str | None = None, relationship: str | None = None, address: str | None = None,
    ethnicity: Ethnicity | None = None, code: Relationship | None = None,
) -> PartyIn:
    low, high = AGE_RANGE[age_band]
    born = on - timedelta(days=rng.randint(low * 365 + 1, high * 365 + 364))
    first = rng.choice(FEMALE if sex == "female" else MALE)
    return PartyIn(
        role=role, name=f"{first} {surname or rng.choice(SURNAMES)}",
        date_of_birth=born.isoformat(), address=address, relationship=relationship, sex=sex,
        age_band=age_band, ethnicity=ethnicity or _pick(rng, ETHNICITY),
        relationship_code=code,
    )


def _safe_contact(rng: random.Random, name: str) -> SafeContact:
    method = _pick(rng, {"phone": 80, "email": 14, "via_agency": 6})
    if method == "phone":
        return SafeContact(
            method="phone", details=f"07700 900{rng.randrange(1000):03d}",
            times=rng.choice(("After 6pm", "Weekday mornings", "Any time", "School hours only")),
            notes=rng.choice(("", "Do not leave a voicemail", "Withhold the police number")),
        )
    if method == "email":
        return SafeContact(method="email", details=f"{name.lower().replace(' ', '.')}@example.org")
    return SafeContact(method="via_agency", details="Through the local IDVA service")


def _referrer(rng: random.Random, fate: _Fate, officer: str) -> tuple[str, str]:
    if fate.scheme == "mappa":
        return "Offender manager, Probation Service", "probation"
    if fate.scheme == "csods":
        return rng.choice((("Children's social care duty team", "childrens_social_care"),
                           (officer, "officer")))
    return rng.choice(((officer, "officer"), ("Local IDVA service", "idva"),
                       ("MARAC coordinator", "marac"), ("Health visitor", "health")))
