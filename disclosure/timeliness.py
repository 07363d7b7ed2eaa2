"""Each request's clocks from its records, and the queues of open work in order of urgency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar, get_args

import msgspec
from sqlalchemy import ColumnElement, Select, and_, bindparam, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.util import find_tables

from disclosure import clocks, cursors
from disclosure.models import OPEN, Decision, DecisionRecipient, Event, Extension, Request
from disclosure.policy import STAGES, PolicySettings, Stage
from disclosure.schemas import (
    ClockView,
    DeadlineView,
    ExtensionView,
    HolidayView,
    StageDeadlineView,
)
from statemachines.lifecycle import GuardRefused

Queue = Literal["due_soon", "overdue"]

# The stage whose work is pending in each state; awaiting_notice and closed have none.
STAGE_OF_STATE: dict[str, Stage] = {
    "received": "initial_checks",
    "awaiting_meeting": "meeting",
    "checks": "checks",
    "awaiting_decision": "decision",
    "awaiting_delivery": "delivery",
}
STATE_OF_STAGE: dict[Stage, str] = {stage: state for state, stage in STAGE_OF_STATE.items()}

_BATCH = 500
_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def stage_starts(
    received_at: datetime, entered: Iterable[tuple[str, datetime]]
) -> dict[str, datetime]:
    """When each stage last started: initial checks on receipt (or on reopening), others on
    entering their state.

    `entered` is the request's state changes in order, as (state entered, when it happened).
    """
    starts: dict[str, datetime] = {"initial_checks": received_at}
    for state, at in entered:
        if state in STAGE_OF_STATE:
            starts[STAGE_OF_STATE[state]] = at
    return starts


def reopened_at(entered: Iterable[tuple[str, datetime]]) -> datetime | None:
    """When the request was last reopened: the last time it went back to `received`."""
    return max((at for state, at in entered if state == "received"), default=None)


def stage_due_at(clock: clocks.Clock, state: str) -> datetime | None:
    """The due date of the stage a request in `state` is in, if its policy sets one."""
    stage = STAGE_OF_STATE.get(state)
    deadline = clock.stages.get(stage) if stage else None
    return deadline.due_at if deadline else None


def receipt_clock(
    policy: PolicySettings, *, code: str, route: str, received_at: datetime
) -> clocks.Clock:
    """The clock of a request just received: nothing has happened to it yet."""
    return clocks.request_clock(
        policy.book.by_code(code), received_at=received_at,
        stage_starts=stage_starts(received_at, []), extensions=[], nation=policy.nation,
        route=route,
    )


class Dated(Protocol):
    """What a request's clock is worked out from, besides its records."""

    @property
    def id(self) -> int: ...
    @property
    def scheme(self) -> str: ...
    @property
    def route(self) -> str: ...
    @property
    def policy_version(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...


# Built once, so their cache keys are too; `ids` expands to the requests asked about. Receipt
# has no from_state, so the only way into `received` this finds is a reopening.
_STAGE_CHANGES = (
    select(Event.request_id, Event.to_state, Event.occurred_at)
    .where(
        Event.request_id.in_(bindparam("ids", expanding=True)),
        Event.to_state.in_(tuple(STAGE_OF_STATE)),
        Event.from_state != Event.to_state,
    )
    .order_by(Event.request_id, Event.seq)
)
_EXTENSIONS = select(
    Extension.request_id, Extension.days, Extension.category, Extension.reason,
    Extension.granted_at,
).where(Extension.request_id.in_(bindparam("ids", expanding=True)))
# The latest decision's agreed date: the last of its recipients' deliver-by dates.
_AGREED = (
    select(
        DecisionRecipient.request_id, Decision.decided_at, func.max(DecisionRecipient.deliver_by)
    )
    .join(Decision, Decision.id == DecisionRecipient.decision_id)
    .where(DecisionRecipient.request_id.in_(bindparam("ids", expanding=True)),
           Decision.urgent.is_(False), DecisionRecipient.deliver_by.is_not(None))
    .group_by(DecisionRecipient.request_id, DecisionRecipient.decision_id, Decision.decided_at)
    .order_by(DecisionRecipient.decision_id)
)
# The tables besides the trail that a clock is worked out from. An event that writes none of
# their rows and leaves the state where it was cannot move the clock.
INPUTS: frozenset[str] = frozenset(
    table.name for query in (_EXTENSIONS, _AGREED) for table in find_tables(query)
)


async def request_clocks(
    session: AsyncSession | AsyncConnection, requests: Sequence[Dated], policy: PolicySettings
) -> dict[int, clocks.Clock]:
    """The clocks of some requests from their events, extensions and agreed MAPPA dates."""
    ids = [r.id for r in requests]
    entered: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for rid, state, at in await session.execute(_STAGE_CHANGES, {"ids": ids}):
        entered[rid].append((state, at))
    extensions: dict[int, list[clocks.Extension]] = defaultdict(list)
    for rid, days, category, reason, granted_at in await session.execute(
        _EXTENSIONS, {"ids": ids}
    ):
        extensions[rid].append(clocks.Extension(days, category, reason, granted_at))
    agreed: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    mappa = [r.id for r in requests if r.scheme == "mappa"]
    if mappa:
        for rid, at, due in await session.execute(_AGREED, {"ids": mappa}):
            agreed[rid].append((at, due))
    return {
        r.id: clock_of(r, entered[r.id], extensions[r.id], agreed[r.id], policy)
        for r in requests
    }


def clock_of(
    request: Dated,
    entered: Sequence[tuple[str, datetime]],
    extensions: Sequence[clocks.Extension],
    agreed: Sequence[tuple[datetime, datetime | None]],
    policy: PolicySettings,
) -> clocks.Clock:
    """A request's clock from its state changes into a stage's state (in order), the
    extensions granted, and each decision's (decided_at, agreed date) in order.

    A reopened request's clock is a fresh one: the extensions granted and the MAPPA date agreed
    before its last reopening belong to the clock that ended with its closure.
    """
    since = reopened_at(entered)

    def current(at: datetime) -> bool:
        return since is None or at >= since

    due = None
    if request.scheme == "mappa":
        for at, date in agreed:
            if date is not None and current(at):
                due = date
    return clocks.request_clock(
        policy.book.by_code(request.policy_version),
        received_at=request.received_at,
        stage_starts=stage_starts(request.received_at, entered),
        extensions=[e for e in extensions if current(e.granted_at)],
        nation=policy.nation,
        route=request.route,
        agreed_due_at=due,
        reopened_at=since,
    )


async def request_clock(
    session: AsyncSession | AsyncConnection, request: Dated, policy: PolicySettings
) -> clocks.Clock:
    return (await request_clocks(session, [request], policy))[request.id]


def extend(
    clock: clocks.Clock, extension: clocks.Extension, policy: PolicySettings
) -> clocks.Deadline:
    """The overall deadline moved by `extension`, refused with the reason the policy gives."""
    try:
        if clock.overall is None:
            raise clocks.ExtensionRefused(
                "there is no due date to extend until the MAPP meeting agrees one"
            )
        version = policy.book.by_code(clock.policy_code)
        return clocks.extend(
            clock.overall, extension, cap_days=version.extension_cap_days,
            policy_code=version.code,
        )
    except clocks.ExtensionRefused as refused:
        raise GuardRefused("extend_deadline", refused.reason) from None


def _view(
    deadline: clocks.Deadline, *, running: bool, now: datetime, policy: PolicySettings
) -> dict[str, Any]:
    return {
        "due_at": deadline.due_at,
        "status": clocks.status(deadline, now, policy.due_soon) if running else None,
        "start_event": deadline.start_event,
        "start": deadline.start,
        "limit": deadline.limit,
        "calendar": deadline.calendar,
        "holidays_skipped": [HolidayView(day=d, name=n) for d, n in deadline.holidays_skipped],
        "weekend_days_skipped": deadline.weekend_days_skipped,
        "base_due_at": deadline.base_due_at,
        "extensions": [
            ExtensionView(days=e.days, category=e.category, reason=e.reason,
                          granted_at=e.granted_at)
            for e in deadline.extensions
        ],
        "explanation": deadline.explanation,
    }


def clock_view(
    reference: str, state: str, clock: clocks.Clock, policy: PolicySettings, now: datetime
) -> ClockView:
    current = STAGE_OF_STATE.get(state)
    open_ = state != "closed"
    return ClockView(
        reference=reference,
        state=state,
        stage=current,
        policy_version=clock.policy_code,
        policy_source=policy.book.by_code(clock.policy_code).source,
        nation=policy.nation,
        overall=(
            DeadlineView(**_view(clock.overall, running=open_, now=now, policy=policy))
            if clock.overall
            else None
        ),
        stages=[
            StageDeadlineView(
                stage=stage, current=stage == current,
                **_view(clock.stages[stage], running=stage == current, now=now, policy=policy),
            )
            for stage in STAGES
            if stage in clock.stages
        ],
    )


# Queues --------------------------------------------------------------------------------------


def _due(stage: Stage | None) -> InstrumentedAttribute[datetime | None]:
    return Request.stage_due_at if stage else Request.due_at


def in_queue(
    queue: Queue, *, now: datetime, policy: PolicySettings, stage: Stage | None = None
) -> ColumnElement[bool]:
    """Whether an open request is in `queue`, by its overall due date or its stage's."""
    due = _due(stage)
    if queue == "overdue":
        return due < now
    return and_(due >= now, due <= now + policy.due_soon)


class Workload(msgspec.Struct, kw_only=True, frozen=True):
    """Open requests of one area, scheme and state, and how many of them are in each queue."""

    area: str
    scheme: str
    state: str
    open: int
    queues: dict[str, int]


async def workload(
    session: AsyncSession, *, now: datetime, policy: PolicySettings
) -> list[Workload]:
    """Every open request counted by area, scheme and state, with the queues, in one query."""
    queues = get_args(Queue)
    in_each = [
        func.count().filter(in_queue(q, now=now, policy=policy)).label(q) for q in queues
    ]
    rows = await session.execute(
        select(Request.area, Request.scheme, Request.state, func.count(), *in_each)
        .where(OPEN)
        .group_by(Request.area, Request.scheme, Request.state)
        .order_by(Request.area, Request.scheme, Request.state)
    )
    return [
        Workload(
            area=row[0], scheme=row[1], state=row[2], open=row[3],
            queues=dict(zip(queues, row[4:], strict=True)),
        )
        for row in rows
    ]


class Queued(Protocol):
    """What a queue's cursor is made of: a request, or a row of its summary."""

    @property
    def id(self) -> int: ...
    @property
    def immediate_risk(self) -> bool: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def stage_due_at(self) -> datetime | None: ...


def queue(
    query: _Query,
    *,
    queue: Queue | None,
    stage: Stage | None,
    now: datetime,
    policy: PolicySettings,
    cursor: str | None,
) -> _Query:
    """Open requests in a queue, immediate risk first, then the soonest due, then the oldest.

    In a stage's queue the due date is the stage's own; otherwise it is the overall one.
    Requests without a due date come last. The order is the columns of an index
    (`ix_requests_queue` or `ix_requests_stage_queue`), compared as they are stored.
    """
    due = _due(stage)
    query = query.where(Request.state == STATE_OF_STAGE[stage] if stage else OPEN)
    if queue is not None:
        query = query.where(in_queue(queue, now=now, policy=policy, stage=stage))
    if cursor is not None:
        risk, at, rid = _decode(cursor)
        after = (
            and_(due.is_(None), Request.id > rid) if at is None
            else or_(due > at, and_(due == at, Request.id > rid), due.is_(None))
        )
        same_risk = and_(Request.immediate_risk == risk, after)
        later = or_(Request.immediate_risk == false(), same_risk) if risk else same_risk
        query = query.where(later)
    return query.order_by(Request.immediate_risk.desc(), due.asc().nulls_last(), Request.id)


def next_cursor(last: Queued, stage: Stage | None) -> str:
    due = last.stage_due_at if stage else last.due_at
    return cursors.encode(
        last.immediate_risk, cursors.instant(due) if due is not None else None, last.id
    )


def _decode(cursor: str) -> tuple[bool, datetime | None, int]:
    risk, at, rid = cursors.decode(cursor, bool, (int, type(None)), int)
    return risk, cursors.from_instant(at) if at is not None else None, rid


# Recomputing under another policy ------------------------------------------------------------


class Recomputed(msgspec.Struct, frozen=True, kw_only=True):
    """An open request whose stored due dates differ from what a policy gives."""

    reference: str
    version: int
    due_at: datetime | None
    new_due_at: datetime | None
    stage_due_at: datetime | None
    new_stage_due_at: datetime | None


async def recompute(
    session: AsyncSession, policy: PolicySettings, *, reference: str | None = None
) -> list[Recomputed]:
    """Open requests whose overall or stage due date `policy` would change; writes nothing.

    With `reference`, only that request: how it stands now, for a writer that lost a race.
    """
    changed: list[Recomputed] = []
    after = 0
    while True:
        query = select(Request).where(OPEN, Request.id > after)
        if reference is not None:
            query = query.where(Request.reference == reference)
        batch = (await session.scalars(query.order_by(Request.id).limit(_BATCH))).all()
        if not batch:
            return changed
        computed = await request_clocks(session, batch, policy)
        for request in batch:
            clock = computed[request.id]
            new_due = clock.overall.due_at if clock.overall else None
            new_stage_due = stage_due_at(clock, request.state)
            if (new_due, new_stage_due) != (request.due_at, request.stage_due_at):
                changed.append(Recomputed(
                    reference=request.reference, version=request.version,
                    due_at=request.due_at, new_due_at=new_due,
                    stage_due_at=request.stage_due_at, new_stage_due_at=new_stage_due,
                ))
        after = batch[-1].id
