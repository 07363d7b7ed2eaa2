"""The tables: requests, their parties and stage records, and the event trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every engine (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        # asyncpg already gives a timestamptz as an aware datetime in UTC: nothing to do for
        # each value read.
        if dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)


# BIGINT keys on PostgreSQL; SQLite only autoincrements a column declared INTEGER.
Key = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it from the class as a dict
        datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON,
    }


class Request(Base):
    """A disclosure request: one application or one proactive consideration."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    scheme: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(16))
    area: Mapped[str] = mapped_column(String(64))
    division: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(40))
    immediate_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    policy_version: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    # The due date of the stage the request is in, if its policy sets that stage a target.
    stage_due_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    idempotency_digest: Mapped[str | None] = mapped_column(String(64))
    # The right-to-ask request this right-to-know request carries on, if any.
    continued_from_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    # The MAPP meeting that agreed this disclosure, for a request a meeting started.
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), index=True)



# An open request. 'closed' is written into the SQL rather than bound, so that the partial
# indexes below serve a prepared statement's generic plan too.
OPEN = Request.state != literal_column("'closed'")

# Every listing is of one area, so each index leads with it; each then follows the listing's
# filter and order (see `Workflow.search` and `timeliness.queue`).
Index("ix_requests_area", Request.area, Request.created_at, Request.id)
Index("ix_requests_area_state", Request.area, Request.state, Request.created_at, Request.id)
Index(
    "ix_requests_open", Request.area, Request.created_at, Request.id,
    postgresql_where=OPEN, sqlite_where=OPEN,
)
Index(
    "ix_requests_queue", Request.area, Request.immediate_risk.desc(), Request.due_at, Request.id,
    postgresql_where=OPEN, sqlite_where=OPEN,
)
Index(
    "ix_requests_stage_queue", Request.area, Request.state, Request.immediate_risk.desc(),
    Request.stage_due_at, Request.id,
)


class Party(Base):
    """A person or organisation in a request, in one role; personal data lives here only."""

    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    role: Mapped[str] = mapped_column(String(24))
    name: Mapped[str | None] = mapped_column(String(200))
    date_of_birth: Mapped[str | None] = mapped_column(String(10))
    address: Mapped[str | None] = mapped_column(Text)
    relationship: Mapped[str | None] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(16))
    age_band: Mapped[str | None] = mapped_column(String(16))
    ethnicity: Mapped[str | None] = mapped_column(String(40))
    safe_contact: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16), default="person")
    relationship_code: Mapped[str | None] = mapped_column(String(32))
    registered_sex_offender: Mapped[bool | None] = mapped_column(Boolean)


class Check(Base):
    """One check of police systems or a partner agency's records."""

    __tablename__ = "checks"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    information_held: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(64))


class PartnerRequest(Base):
    """Checks asked of another agency, with their own due date and the answer when it comes."""

    __tablename__ = "partner_requests"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    agency: Mapped[str] = mapped_column(String(60))
    asked: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime]
    due_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    information_held: Mapped[bool | None] = mapped_column(Boolean)
    response: Mapped[str | None] = mapped_column(Text)


class Decision(Base):
    """The necessity-and-proportionality decision, field by field; or an urgent disclosure
    made outside the forum, marked `urgent`, so that both are listed and counted together."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    forum: Mapped[str] = mapped_column(String(20))
    decided_at: Mapped[datetime]
    chair: Mapped[str] = mapped_column(String(200))
    attendees: Mapped[list[Any]] = mapped_column(JSON)
    # The username of the decision-maker who signed in and sent it (or who authorised it).
    decision_maker: Mapped[str] = mapped_column(String(200))
    # A rank code from disclosure/vocabularies.py.
    decision_maker_role: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(16))
    no_disclosure_reason: Mapped[str | None] = mapped_column(String(40))
    referred_to: Mapped[str | None] = mapped_column(String(40))
    legal_test: Mapped[dict[str, Any]] = mapped_column(JSON)
    presumption_applies: Mapped[bool | None] = mapped_column(Boolean)
    subject_views_sought: Mapped[bool | None] = mapped_column(Boolean)
    subject_views_reason: Mapped[str | None] = mapped_column(Text)
    subject_representations: Mapped[str | None] = mapped_column(Text)
    subject_to_be_told: Mapped[bool | None] = mapped_column(Boolean)
    safeguarding_actions: Mapped[list[Any]] = mapped_column(JSON)
    dissent: Mapped[str | None] = mapped_column(Text)
    deviation: Mapped[str | None] = mapped_column(Text)
    deviation_justification: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))


class DecisionRecipient(Base):
    """One recipient of a decision to disclose, and how it was settled: delivered, or a
    recorded non-delivery (declined, not_found, undertaking_refused, stopped)."""

    __tablename__ = "decision_recipients"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    rationale: Mapped[str] = mapped_column(Text)
    better_placed_reason: Mapped[str | None] = mapped_column(Text)
    wording: Mapped[str] = mapped_column(Text)
    discloser: Mapped[str] = mapped_column(String(200))
    # The discloser's agency, where a MAPP meeting names one.
    discloser_agency: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(Text)
    others_present: Mapped[str | None] = mapped_column(Text)
    deliver_by: Mapped[datetime | None]
    settlement: Mapped[str | None] = mapped_column(String(24))
    settled_at: Mapped[datetime | None]
    # Who delivered it, or who decided a refused undertaking stopped it.
    settled_by: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    """How an agreed disclosure was actually given."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    delivered_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(Text)
    delivered_by: Mapped[str] = mapped_column(String(200))
    recipient_party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    others_present: Mapped[str | None] = mapped_column(Text)
    words_used: Mapped[str] = mapped_column(Text)
    matches_approved_wording: Mapped[bool] = mapped_column(Boolean)
    different_words_reason: Mapped[str | None] = mapped_column(Text)
    confidentiality_explained: Mapped[bool] = mapped_column(Boolean)
    confidentiality_reason: Mapped[str | None] = mapped_column(Text)
    undertaking: Mapped[str] = mapped_column(String(16))
    undertaking_decided_by: Mapped[str | None] = mapped_column(String(200))
    safety_plan_made: Mapped[bool] = mapped_column(Boolean)
    referrals: Mapped[list[Any]] = mapped_column(JSON)
    subject_informed_at: Mapped[datetime | None]
    recorded_by: Mapped[str] = mapped_column(String(64))


class Notice(Base):
    """The applicant told of a non-disclosure, with safety advice."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    given_at: Mapped[datetime]
    given_by: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(40))
    # What the applicant was told: by default only that the process has ended.
    told: Mapped[str] = mapped_column(String(16), default="process_ended")
    safety_advice_given: Mapped[bool] = mapped_column(Boolean)
    safety_advice: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))


class SubjectTold(Base):
    """The subject told that a disclosure was made about them."""

    __tablename__ = "subject_told"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    told_at: Mapped[datetime]
    told_by: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(40))
    what: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))


class Event(Base):
    """One entry of the tamper-evident trail; the payload can be erased, its digest stays."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    # When it happened, as the person recording it says; `recorded_at` is when it was entered.
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    policy_version: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    payload_salt: Mapped[str | None] = mapped_column(String(32))
    payload_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Which trail key the hash is a MAC under (None: written before the trail was keyed).
    key_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("request_id", "seq", name="uq_events_request_seq"),)


class Closure(Base):
    """One closing of a request with its outcome, and its reopening if it was reopened.

    A reopened request's earlier closures stay here, so reports can count every outcome ever
    reached, not only the request's current one.
    """

    __tablename__ = "closures"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # the closing event's
    event: Mapped[str] = mapped_column(String(40))
    # Unknown only for a closure before outcomes were kept whose payload has been erased.
    outcome: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[datetime]
    closed_by: Mapped[str] = mapped_column(String(64))
    reopened_seq: Mapped[int | None] = mapped_column(Integer)
    reopened_at: Mapped[datetime | None]
    reopened_by: Mapped[str | None] = mapped_column(String(64))
    # Null for a reopening recorded before reasons had categories.
    reopen_category: Mapped[str | None] = mapped_column(String(40))
    reopen_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("request_id", "seq", name="uq_closures_request_seq"),)


class ReferenceCounter(Base):
    """The last reference number issued per scheme and year."""

    __tablename__ = "reference_counters"

    scheme: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Extension(Base):
    """A granted extension of the overall due date."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime]
    old_due_at: Mapped[datetime | None]
    new_due_at: Mapped[datetime | None]
    granted_by: Mapped[str] = mapped_column(String(64))


# People, credentials and the read trail --------------------------------------------------


class Area(Base):
    """A police force or MAPPA area; every request and every user belongs to one."""

    __tablename__ = "areas"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Division(Base):
    """A division or local policing area within an area."""

    __tablename__ = "divisions"

    area: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class User(Base):
    """A person who signs in; the username is what the trail records as the actor."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(ForeignKey("areas.code"), index=True)
    roles: Mapped[list[Any]] = mapped_column(JSON)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    disabled_at: Mapped[datetime | None]


class Credential(Base):
    """A bearer token or a web session: only the SHA-256 of the secret is kept."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_hash: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # When it was last used (to the minute): a web session idle for too long has ended.
    last_used_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """One password attempt; rate limits and lockouts are counted from these rows."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime]
    # checking (the password is being checked: counts as a failure until it is known), ok, or
    # bad (wrong password or unknown user). Attempts refused unchecked are not recorded.
    outcome: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_login_attempts_username", "username", "attempted_at"),
        Index("ix_login_attempts_source", "source", "attempted_at"),
        Index("ix_login_attempts_attempted_at", "attempted_at"),
    )


class View(Base):
    """One person's read of a request's details or parties, chained per request."""

    __tablename__ = "views"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    seq: Mapped[int] = mapped_column(Integer)
    viewer: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(100))
    viewed_at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("request_id", "seq", name="uq_views_request_seq"),)


class Seal(Base):
    """The keyed MAC of one casework row, written with every change to it, so that an edit
    made behind the service's back does not verify."""

    __tablename__ = "seals"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=False)
    # The request the row belongs to (a request's own seal: itself); none for a nominal's row.
    request_id: Mapped[int | None] = mapped_column(Key, index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    mac: Mapped[str] = mapped_column(String(64))
    # A MAPPA nominal's rows are sealed under their nominal instead of a request.
    nominal_id: Mapped[int | None] = mapped_column(Key, index=True)
    # A request's seal only: the digest of its rows' seals, which its MAC covers too.
    rows: Mapped[str | None] = mapped_column(String(64))


class RequestCount(Base):
    """How many of an area's requests stand at each scheme, route, state and outcome.

    Kept by `disclosure.statistics` in the transaction of every change, so reading the counts
    never scans the requests. A request with no outcome counts under the outcome ''.
    """

    __tablename__ = "request_counts"

    area: Mapped[str] = mapped_column(String(64), primary_key=True)
    scheme: Mapped[str] = mapped_column(String(16), primary_key=True)
    route: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(32), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(40), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)


# Finding people: the search index, the search log, links and repeat-subject alerts -------


class SearchTerm(Base):
    """One normalised value a party can be found by: a name, an organisation, a date of birth,
    a safe contact's phone number or email. Written by `search.index` beside every party."""

    __tablename__ = "search_terms"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    area: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(24))
    # name, organisation, date_of_birth, phone or email
    field: Mapped[str] = mapped_column(String(16))
    term: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        # A name search reads the parties of each name matched from this index alone
        # (migration 0018).
        Index("ix_search_terms_exact", "area", "field", "term",
              postgresql_include=["request_id", "party_id", "role"]),
        Index("ix_search_terms_request", "request_id"),
    )


class Search(Base):
    """One search by one person: the terms are for auditors' eyes only."""

    __tablename__ = "searches"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    searcher: Mapped[str] = mapped_column(String(64))
    area: Mapped[str] = mapped_column(String(64))
    searched_at: Mapped[datetime]
    terms: Mapped[str] = mapped_column(String(200))
    results: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_searches_area", "area", "id"),)


class SearchResult(Base):
    """A request a search showed, in the order it was shown."""

    __tablename__ = "search_results"

    search_id: Mapped[int] = mapped_column(ForeignKey("searches.id"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)


class RequestLink(Base):
    """A link between two requests, of one kind: `duplicate_of`, `repeat_subject_review`."""

    __tablename__ = "request_links"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    from_request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    to_request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("kind", "from_request_id", "to_request_id", name="uq_request_links"),
    )


class Alert(Base):
    """A subject named in several requests, raised for a right-to-know review."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    area: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    # The subject's name as the index keeps it (normalised), for the queue.
    subject: Mapped[str] = mapped_column(String(200))
    raised_at: Mapped[datetime]
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    # right_to_know_started or no_action
    review: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    started_request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_alerts_queue", "area", "state", "id"),)


class AlertRequest(Base):
    """A request an alert was raised on."""

    __tablename__ = "alert_requests"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)


# Oversight: the board's decision reviews, and the indexes its reports read by -------------

# A report reads each period by when things happened, within one area.
Index("ix_requests_area_received", Request.area, Request.received_at)
Index("ix_requests_area_closed", Request.area, Request.closed_at)
Index("ix_closures_closed_at", Closure.closed_at, Closure.request_id)
Index("ix_events_occurred_at", Event.occurred_at, Event.request_id)
Index("ix_decision_recipients_settled", DecisionRecipient.settled_at,
      DecisionRecipient.request_id)
Index("ix_extensions_granted_at", Extension.granted_at, Extension.request_id)
# The returns count third-party applications and applications about registered sex offenders.
THIRD_PARTY = and_(Party.role == literal_column("'applicant'"),
                   Party.relationship_code.is_not(None),
                   Party.relationship_code != literal_column("'self'"))
REGISTERED = and_(Party.role == literal_column("'subject'"),
                  Party.registered_sex_offender.is_(True))
Index("ix_parties_third_party", Party.request_id,
      postgresql_where=THIRD_PARTY, sqlite_where=THIRD_PARTY)
Index("ix_parties_registered_subject", Party.request_id,
      postgresql_where=REGISTERED, sqlite_where=REGISTERED)
Index("ix_closures_reopened", Closure.request_id,
      postgresql_where=Closure.reopened_seq.is_not(None),
      sqlite_where=Closure.reopened_seq.is_not(None))


class StageTime(Base):
    """How long a request stood in a state: from the event that moved it in to the one that
    moved it out, as the trail says. The workflow writes it with the event that leaves the
    state, so a report reads each stage left as one row instead of pairing events up; it
    holds nothing the trail does not (migration 0016 made it from the trail), and is not
    sealed. The request's area, scheme and route are kept with it, as they never change, so
    a report reads an area's stages by when they were left from one index."""

    __tablename__ = "stage_times"

    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    # The event that left the state.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    area: Mapped[str] = mapped_column(String(64))
    scheme: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32))
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime]
    # When the event that left it was recorded: a report as at an earlier moment leaves it out.
    recorded_at: Mapped[datetime]
    # The due date the policy set the stage, as it stood when the stage was left (None: no
    # target for this stage under the request's policy).
    due_at: Mapped[datetime | None]


Index("ix_stage_times_left", StageTime.area, StageTime.left_at)


class ClosureTime(Base):
    """How long a request took to close: from its receipt, or from the reopening before, to
    each closing, with the closure's event and outcome and the overall due date it closed
    against. As `StageTime` is to stages, this is to closures: the workflow writes it with the
    closing event, it holds nothing the trail does not (migration 0019 made it from the
    closures), and it is not sealed. The request's area, scheme, route and division are kept
    with it, as they never change, so a report reads an area's closures by when they happened
    from one index, without reading the requests."""

    __tablename__ = "closure_times"

    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    # The closing event.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    area: Mapped[str] = mapped_column(String(64))
    scheme: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(16))
    division: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str | None] = mapped_column(String(40))
    # The receipt, or the reopening before this closing: when its clock started.
    started_at: Mapped[datetime]
    closed_at: Mapped[datetime]
    # When the closing event was recorded: a report as at an earlier moment leaves it out.
    recorded_at: Mapped[datetime]
    # The request's overall due date when it closed (None: its policy set none).
    due_at: Mapped[datetime | None]


Index("ix_closure_times_closed", ClosureTime.area, ClosureTime.closed_at)


class DecisionReview(Base):
    """A sample of an area's decisions of one period, drawn for the board to review."""

    __tablename__ = "decision_reviews"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    area: Mapped[str] = mapped_column(String(64), index=True)
    # The period's written form (2025-26, 2025-26-Q3, or first..last dates).
    period: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(BigInteger)
    per_outcome: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    drawn_at: Mapped[datetime]
    drawn_by: Mapped[str] = mapped_column(String(64))
    completed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer)


class ReviewItem(Base):
    """One decision in a review's sample, in the outcome stratum it was drawn from."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("decision_reviews.id"), index=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    outcome: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)
    # An auditor's release of the record's names and free text to the reviewers.
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("review_id", "decision_id", name="uq_review_items"),)


class ReviewFinding(Base):
    """One reviewer's finding on one sampled decision."""

    __tablename__ = "review_findings"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    # defensible, concerns or learning_point
    finding: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("item_id", "reviewer", name="uq_review_findings"),)


# MAPPA: nominals, their trail, MAPP meetings and their action points ----------------------


class Nominal(Base):
    """A person managed under MAPPA, as they stand now; `nominal_events` keeps how they stood
    at every date (category, level, custody or community, risk of serious harm)."""

    __tablename__ = "nominals"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    area: Mapped[str] = mapped_column(String(64))
    # A ViSOR or case-management number, unique in the area.
    reference: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    lead_agency: Mapped[str] = mapped_column(String(24))
    rosh: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    # The number of events on the nominal's trail (its meetings' included): the ETag.
    version: Mapped[int] = mapped_column(Integer)
    last_event_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("area", "reference", name="uq_nominals_area_reference"),
    )


class NominalEvent(Base):
    """One link of a nominal's trail, hash-chained as a request's events are. Each row also
    says how the nominal stood once the event took effect (`occurred_at`), so a snapshot on
    any date and the changes within a year are counted from this table alone."""

    __tablename__ = "nominal_events"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    nominal_id: Mapped[int] = mapped_column(ForeignKey("nominals.id"))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(40))
    # The meeting an event of a meeting's lifecycle is about.
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    policy_version: Mapped[str] = mapped_column(String(32))
    category: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(16))
    rosh: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    payload_salt: Mapped[str | None] = mapped_column(String(32))
    payload_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        UniqueConstraint("nominal_id", "seq", name="uq_nominal_events_nominal_seq"),
        Index("ix_nominal_events_effective", "nominal_id", "occurred_at"),
    )


class NominalRead(Base):
    """One person's read of a nominal or one of its meetings, chained per nominal."""

    __tablename__ = "nominal_views"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    nominal_id: Mapped[int] = mapped_column(ForeignKey("nominals.id"))
    seq: Mapped[int] = mapped_column(Integer)
    viewer: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(100))
    viewed_at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        UniqueConstraint("nominal_id", "seq", name="uq_nominal_views_nominal_seq"),
    )


class Meeting(Base):
    """A Level 2 or 3 MAPP meeting about one nominal: who sat, what it considered, the review
    it set; draft until its minutes are finalised."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    nominal_id: Mapped[int] = mapped_column(ForeignKey("nominals.id"), index=True)
    area: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    held_at: Mapped[datetime]
    chair: Mapped[str] = mapped_column(String(200))
    chair_rank: Mapped[str] = mapped_column(String(40))
    attendees: Mapped[list[Any]] = mapped_column(JSON)
    confidentiality_statement_read: Mapped[bool] = mapped_column(Boolean)
    # Where the nominal was when the meeting sat: the review interval depends on it.
    location: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    review_due_at: Mapped[datetime | None]
    review_policy: Mapped[str] = mapped_column(String(32))
    # A review held after the date the meeting before it set.
    held_late: Mapped[bool] = mapped_column(Boolean)
    # no_disclosure or disclose, once the disclosure consideration is recorded.
    consideration: Mapped[str | None] = mapped_column(String(16))
    no_disclosure_rationale: Mapped[str | None] = mapped_column(Text)
    representations_sought: Mapped[bool | None] = mapped_column(Boolean)
    representations_not_sought_reason: Mapped[str | None] = mapped_column(Text)
    representations: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    finalised_at: Mapped[datetime | None]
    finalised_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_meetings_area", "area", "held_at", "id"),)


class ActionPoint(Base):
    """One action from a meeting's minutes: what, which agency owns it, who, by when."""

    __tablename__ = "action_points"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    nominal_id: Mapped[int] = mapped_column(ForeignKey("nominals.id"))
    action: Mapped[str] = mapped_column(Text)
    owner_agency: Mapped[str] = mapped_column(String(40))
    owner: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(64))


class OnlineApplication(Base):
    """When an application came in through the public form, and from where (a digest of the
    address, not the address): what the form's rate limits count. No request is named."""

    __tablename__ = "online_applications"

    id: Mapped[int] = mapped_column(Key, primary_key=True, autoincrement=True)
    source_digest: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_online_applications_source", "source_digest", "submitted_at"),
        Index("ix_online_applications_submitted_at", "submitted_at"),
    )
