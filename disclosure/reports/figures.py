"""The report's figures: set-based SQL over the trail, one statement per group of figures.

Every statement covers the period and the one before it together, each row carrying its
`bucket` ('current' or 'previous'), so a report reads each table once. With `as_at`, only
what had been recorded by then counts: a request entered later, an event recorded later (a
back-dated withdrawal, a closure entered late) and the stage records of such events are left
out, so the figures are those the records gave at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

from disclosure.models import (
    REGISTERED,
    THIRD_PARTY,
    Closure,
    ClosureTime,
    Decision,
    DecisionRecipient,
    DecisionReview,
    Event,
    Extension,
    Party,
    Request,
    ReviewFinding,
    ReviewItem,
    StageTime,
)
from disclosure.reports.periods import Period

Figures = list[tuple[Any, ...]]


class days_between(GenericFunction[float]):
    """Days from the first time to the second, as a fraction, on either engine."""

    type = Float()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    first, second = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({second}) - julianday({first}))"


@compiles(days_between, "postgresql")
def _days_postgresql(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    first, second = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({second} - {first})) / 86400.0)"


@dataclass(frozen=True)
class Scope:
    """One area, a period and the one before it, as the records stood at `as_at` (None: now)."""

    area: str
    current: Period
    previous: Period
    as_at: datetime | None = None
    # The area's registered divisions; a request in none of them is `unassigned`.
    divisions: tuple[str, ...] = ()

    def place(self, division: Any) -> ColumnElement[str]:
        if not self.divisions:
            return literal("unassigned")
        return case((division.in_(self.divisions), division), else_=literal("unassigned"))

    def within(self, at: Any) -> ColumnElement[bool]:
        return and_(at >= self.previous.start, at < self.current.end)

    def bucket(self, at: Any) -> ColumnElement[str]:
        return case((at >= self.current.start, literal("current")), else_=literal("previous"))

    def active(self) -> ColumnElement[bool]:
        """Requests that can have closed or changed state in either period: received before
        its end and, as they stand now, open or last closed since its start. A request closed
        before then and never reopened has done nothing since; one reopened is open now or
        closed again later. It lets an index on the area lead to the few such requests."""
        return and_(Request.received_at < self.current.end,
                    or_(Request.closed_at.is_(None), Request.closed_at >= self.previous.start))

    def request_known(self) -> ColumnElement[bool]:
        return Request.created_at <= self.as_at if self.as_at is not None else true()

    def event_known(self, request_id: Any, events: Sequence[str], at: Any) -> ColumnElement[bool]:
        """The event that wrote a stage record (matched by when it happened) was recorded."""
        if self.as_at is None:
            return true()
        return exists().where(
            Event.request_id == request_id, Event.event.in_(events), Event.occurred_at == at,
            Event.recorded_at <= self.as_at,
        )

    def closure_known(self) -> ColumnElement[bool]:
        if self.as_at is None:
            return true()
        return exists().where(
            Event.request_id == Closure.request_id, Event.seq == Closure.seq,
            Event.recorded_at <= self.as_at,
        )


def _in_area(scope: Scope) -> ColumnElement[bool]:
    return and_(Request.area == scope.area, scope.request_known())


async def fetch(session: AsyncSession, query: Executable) -> Figures:
    """The rows of one statement, sent on the session's connection as Core (no ORM layer)."""
    conn = await session.connection()
    return [tuple(row) for row in (await conn.execute(query)).all()]


async def applications(session: AsyncSession, scope: Scope) -> Figures:
    """(bucket, scheme, route, division, applications, third party, about a registered sex
    offender) for requests received in either period."""
    # Written as the partial indexes are, so the planner uses them.
    third_party = exists().where(Party.request_id == Request.id, THIRD_PARTY)
    offender = exists().where(Party.request_id == Request.id, REGISTERED)
    when = scope.bucket(Request.received_at).label("bucket")
    keys = (when, Request.scheme, Request.route, Request.division)
    return await fetch(session, select(
        *keys, func.count(),
        func.count(case((third_party, 1))), func.count(case((offender, 1))),
    ).where(_in_area(scope), scope.within(Request.received_at)).group_by(*keys))


def _delivered(scope: Scope) -> Any:
    """Each recipient a disclosure was delivered to in either period (urgent ones included),
    with its request. As at a moment, only those whose delivery (or urgent action) had been
    recorded by then, which the decision says."""
    delivered = (
        select(
            scope.bucket(DecisionRecipient.settled_at).label("bucket"),
            DecisionRecipient.request_id, Request.scheme, Request.route, Request.division,
        )
        .join(Request, Request.id == DecisionRecipient.request_id)
        .where(
            _in_area(scope), scope.active(), DecisionRecipient.settlement == "delivered",
            scope.within(DecisionRecipient.settled_at),
        )
    )
    if scope.as_at is None:
        return delivered
    return delivered.join(Decision, Decision.id == DecisionRecipient.decision_id).where(or_(
        and_(Decision.urgent.is_(False), scope.event_known(
            DecisionRecipient.request_id, ("record_delivery",), DecisionRecipient.settled_at)),
        and_(Decision.urgent.is_(True), scope.event_known(
            DecisionRecipient.request_id, ("take_immediate_action",), Decision.decided_at)),
    ))


async def disclosures(session: AsyncSession, scope: Scope) -> Figures:
    """(bucket, scheme, route, division, requests with a disclosure delivered)."""
    delivered = _delivered(scope).subquery()
    keys = (delivered.c.bucket, delivered.c.scheme, delivered.c.route, delivered.c.division)
    return await fetch(session, select(
        *keys, func.count(func.distinct(delivered.c.request_id))
    ).group_by(*keys))


def _closures(scope: Scope) -> Select[Any]:
    """Every closure in either period: a request reopened and closed again counts each time,
    in the period where each happened. Days run from receipt, or from the reopening before;
    within the limit is against the due date it closed with. As at a moment, only closings
    recorded by then."""
    known = [] if scope.as_at is None else [ClosureTime.recorded_at <= scope.as_at]
    closed: Select[Any] = select(
        scope.bucket(ClosureTime.closed_at).label("bucket"), ClosureTime.request_id,
        ClosureTime.scheme, ClosureTime.route, scope.place(ClosureTime.division).label("place"),
        ClosureTime.outcome, ClosureTime.event,
        days_between(ClosureTime.started_at, ClosureTime.closed_at).label("days"),
        case((ClosureTime.closed_at <= ClosureTime.due_at, 1), else_=0).label("in_limit"),
    ).where(ClosureTime.area == scope.area, scope.within(ClosureTime.closed_at), *known)
    return closed


async def closures(session: AsyncSession, scope: Scope) -> Figures:
    """(bucket, scheme, route, place, outcome, closing event, closures, within the limit,
    within 35 days)."""
    closed = _closures(scope).subquery()
    keys = (closed.c.bucket, closed.c.scheme, closed.c.route, closed.c.place,
            closed.c.outcome, closed.c.event)
    return await fetch(session, select(
        *keys, func.count(), func.sum(closed.c.in_limit),
        func.count(case((closed.c.days <= 35, 1))),
    ).group_by(*keys))


def spread(source: Any, keys: Sequence[str], shown: Sequence[str] = (),
           summed: Sequence[str] = (), *, ordered: bool = False) -> Select[Any]:
    """(shown..., count, median, 90th percentile, longest, summed...) of `source.c.days` per
    group of `keys`, with the sum of each column of `summed`; a column of `shown` that is not
    a key is null. The median and percentile are by nearest rank (the ceil(n/2)-th and
    ceil(9n/10)-th shortest), so both engines give the same day. `ordered`: with the ordered-set
    aggregate `percentile_disc` (PostgreSQL), which sorts each group's days alone; otherwise
    by ranking every row with window functions, which SQLite has."""
    median: ColumnElement[Any]
    p90: ColumnElement[Any]
    if ordered:
        median = func.percentile_disc(0.5).within_group(source.c.days)
        p90 = func.percentile_disc(0.9).within_group(source.c.days)
    else:
        part = [source.c[k] for k in keys]
        source = select(
            *part, source.c.days, *(source.c[name] for name in summed),
            func.row_number().over(partition_by=part, order_by=source.c.days).label("rank"),
            func.count().over(partition_by=part).label("n"),
        ).subquery()
        rank, n = source.c.rank, source.c.n
        median = func.max(case((rank == (n + 1) // 2, source.c.days)))
        p90 = func.max(case((rank == (n * 9 + 9) // 10, source.c.days)))
    columns = [source.c[k] if k in keys else null().label(k) for k in shown or keys]
    return select(
        *columns, func.count(), median, p90, func.max(source.c.days),
        *(func.sum(source.c[name]) for name in summed),
    ).group_by(*(source.c[k] for k in keys))


def _ordered(session: AsyncSession) -> bool:
    """Whether the engine has ordered-set aggregates (`percentile_disc`)."""
    return session.get_bind().dialect.name == "postgresql"


# The groupings closure days are spread over: per scheme and route, per division, and all.
GROUPINGS = {"kind": ("bucket", "scheme", "route"), "place": ("bucket", "place"),
             "all": ("bucket",)}


async def closure_days(session: AsyncSession, scope: Scope) -> Figures:
    """(grouping, bucket, scheme, route, place, closures, median, p90, longest days) of the
    closures in either period, for each of GROUPINGS, from one reading of the closures."""
    closed = _closures(scope).cte("closed")
    shown = ("bucket", "scheme", "route", "place")
    ordered = _ordered(session)
    return await fetch(session, union_all(*(
        spread(closed, keys, shown, ordered=ordered).add_columns(literal(name).label("grouping"))
        for name, keys in GROUPINGS.items()
    )))


# The stage a request is in while it stands in a state.
STAGES = {
    "received": "initial_checks",
    "awaiting_meeting": "meeting",
    "checks": "checks",
    "awaiting_decision": "decision",
    "awaiting_delivery": "delivery",
    "awaiting_notice": "notice",
}


async def stage_days(session: AsyncSession, scope: Scope) -> Figures:
    """(bucket, scheme, route, state, stages left, median, p90, longest days, left within the
    stage's target): each stage left in either period, from when the request entered the
    state to the event that moved it out, as the workflow recorded them with that event
    (`StageTime`). Within the target: left on or before the due date the policy set the stage;
    null for a group where it set none. As at a moment, a stage left by an event recorded later
    is left out (the event that entered it was recorded before that one)."""
    known = [] if scope.as_at is None else [StageTime.recorded_at <= scope.as_at]
    left = (
        select(
            scope.bucket(StageTime.left_at).label("bucket"), StageTime.scheme,
            StageTime.route, StageTime.state,
            days_between(StageTime.entered_at, StageTime.left_at).label("days"),
            case((StageTime.left_at <= StageTime.due_at, 1),
                 (StageTime.due_at.is_not(None), 0)).label("in_limit"),
        )
        .where(StageTime.area == scope.area, scope.within(StageTime.left_at),
               StageTime.state.in_(tuple(STAGES)), *known)
        .subquery()
    )
    return await fetch(session, spread(left, ("bucket", "scheme", "route", "state"),
                                       summed=("in_limit",), ordered=_ordered(session)))


async def extensions(session: AsyncSession, scope: Scope) -> Figures:
    """(bucket, scheme, route, category, extensions granted in either period)."""
    when = scope.bucket(Extension.granted_at).label("bucket")
    keys = (when, Request.scheme, Request.route, Extension.category)
    return await fetch(session, select(*keys, func.count())
                      .join(Request, Request.id == Extension.request_id)
                      .where(_in_area(scope), scope.active(),
                             scope.within(Extension.granted_at),
                             scope.event_known(Extension.request_id, ("extend_deadline",),
                                               Extension.granted_at))
                      .group_by(*keys))


async def equality(session: AsyncSession, scope: Scope) -> Figures:
    """(bucket, role, sex, age band, ethnicity, outcome, closures) over the parties of every
    closure in either period: a closure counts once for each applicant, person at risk (or
    child) and subject it had."""
    closed = _closures(scope).subquery()
    keys = (closed.c.bucket, Party.role, Party.sex, Party.age_band, Party.ethnicity,
            closed.c.outcome)
    return await fetch(session, select(*keys, func.count())
                      .join(Party, Party.request_id == closed.c.request_id)
                      .where(Party.role.in_(("applicant", "person_at_risk", "child", "subject")),
                             Party.kind == "person")
                      .group_by(*keys))


async def open_at(session: AsyncSession, scope: Scope, end: datetime) -> Figures:
    """(state, open, overdue) of the requests open at `end`, each in the state its last event
    before then left it in. Overdue: its overall due date had passed by then."""
    # Only these can have been open then: those open now or closed since, read from the
    # index of the area's requests by when they closed. A request closed before `end` is
    # closed since its last closing, which came before `end` (the trail runs in the order
    # things happened), even if it was reopened once; as at a moment, unless it changed after.
    changed = [Request.updated_at > scope.as_at] if scope.as_at is not None else []
    candidate = and_(
        Request.area == scope.area, Request.received_at < end,
        or_(Request.closed_at.is_(None), Request.closed_at >= end, *changed),
    )
    closure_known = [] if scope.as_at is None else [scope.closure_known()]
    reopen_known = [] if scope.as_at is None else [
        exists().where(Event.request_id == Closure.request_id,
                       Event.seq == Closure.reopened_seq, Event.recorded_at <= scope.as_at)
    ]
    # Now, a candidate's closings before `end` can only be ones reopened since (its last
    # closing is later, or it is open): those few are read from their partial index. As at a
    # moment, a request changed since may have closed before `end` for good.
    reopened = [Closure.reopened_seq.is_not(None)] if scope.as_at is None else []
    closed_then = exists().where(
        Closure.request_id == Request.id, Closure.closed_at < end, *reopened, *closure_known,
        or_(Closure.reopened_at.is_(None), Closure.reopened_at >= end,
            *([~and_(*reopen_known)] if reopen_known else [])),
    )
    event_known = [] if scope.as_at is None else [Event.recorded_at <= scope.as_at]
    state = (
        select(Event.to_state)
        .where(Event.request_id == Request.id, Event.occurred_at < end, *event_known)
        .order_by(Event.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    standing = (
        select(state.label("state"),
               case((Request.due_at < end, 1), else_=0).label("overdue"))
        .where(candidate, scope.request_known(), ~closed_then)
        .subquery()
    )
    return await fetch(session, select(
        standing.c.state, func.count(), func.sum(standing.c.overdue)
    ).group_by(standing.c.state))


async def findings(session: AsyncSession, scope: Scope) -> Figures:
    """(bucket, outcome, finding, findings) of the reviews of the period and the one before."""
    periods = {scope.current.key: "current", scope.previous.key: "previous"}
    when = case(*((DecisionReview.period == key, literal(bucket))
                  for key, bucket in periods.items()))
    known = [] if scope.as_at is None else [ReviewFinding.recorded_at <= scope.as_at]
    keys = (when.label("bucket"), ReviewItem.outcome, ReviewFinding.finding)
    return await fetch(session, select(
        *keys, func.count()
    ).select_from(DecisionReview).join(ReviewItem, ReviewItem.review_id == DecisionReview.id)
     .join(ReviewFinding, ReviewFinding.item_id == ReviewItem.id)
     .where(DecisionReview.area == scope.area, DecisionReview.period.in_(periods), *known)
     .group_by(*keys))


async def reviewed(session: AsyncSession, scope: Scope) -> Figures:
    """(bucket, outcome, decisions with at least one finding)."""
    periods = {scope.current.key: "current", scope.previous.key: "previous"}
    when = case(*((DecisionReview.period == key, literal(bucket))
                  for key, bucket in periods.items()))
    known = [] if scope.as_at is None else [ReviewFinding.recorded_at <= scope.as_at]
    found = exists().where(ReviewFinding.item_id == ReviewItem.id, *known)
    keys = (when.label("bucket"), ReviewItem.outcome)
    return await fetch(session, select(*keys, func.count())
                      .select_from(DecisionReview)
                      .join(ReviewItem, ReviewItem.review_id == DecisionReview.id)
                      .where(DecisionReview.area == scope.area,
                             DecisionReview.period.in_(periods), found)
                      .group_by(*keys))
