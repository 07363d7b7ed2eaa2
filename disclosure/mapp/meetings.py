"""MAPP meetings: recording one as a draft, its events (the disclosure consideration, action
points, finalising, amending), and reading and listing them.

Every event goes on the nominal's trail in the transaction that makes it. The requests an
agreed disclosure starts are received by the workflow service in that same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Table,
    and_,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from disclosure import cursors, seals
from disclosure.errors import InvalidInput, NotFound, StaleVersion
from disclosure.mapp import consideration, trail
from disclosure.mapp.schemas import (
    ActionPointIn,
    ActionPointView,
    AddActionPoints,
    Amend,
    DisclosureLink,
    MeetingEvent,
    MeetingPage,
    MeetingSummary,
    MeetingTrailEntry,
    MeetingView,
    NewMeeting,
    RecordConsideration,
)
from disclosure.models import OPEN, ActionPoint, Base, Meeting, Request
from disclosure.schemas import Attendee, Input
from disclosure.workflow import Workflow
from statemachines.meeting import MeetingFacts, fire


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


MEETINGS = _table(Meeting)
ACTION_POINTS = _table(ActionPoint)
REQUESTS = _table(Request)
NOMINALS = trail.NOMINALS
_LATER = MEETINGS.alias("later")
# A meeting about the same nominal held after this one: this one's review date is answered.
_SUPERSEDED = exists().where(
    _LATER.c.nominal_id == MEETINGS.c.nominal_id,
    or_(_LATER.c.held_at > MEETINGS.c.held_at,
        and_(_LATER.c.held_at == MEETINGS.c.held_at, _LATER.c.id > MEETINGS.c.id)),
)
SUMMARY_COLUMNS = (
    MEETINGS.c.id, MEETINGS.c.nominal_id, MEETINGS.c.area, MEETINGS.c.level, MEETINGS.c.kind,
    MEETINGS.c.held_at, MEETINGS.c.state, MEETINGS.c.consideration, MEETINGS.c.review_due_at,
    MEETINGS.c.held_late, MEETINGS.c.version,
)


def review_overdue(now: datetime) -> ColumnElement[bool]:
    """A meeting whose review date has passed with no meeting since, about a nominal still at
    Level 2 or 3: the one rule behind the flag and the `overdue_review` filter."""
    return and_(MEETINGS.c.review_due_at < now, ~_SUPERSEDED, NOMINALS.c.level >= 2)


def _summaries(now: datetime) -> Select[Any]:
    return select(*SUMMARY_COLUMNS, review_overdue(now).label("review_overdue")).join(
        NOMINALS, NOMINALS.c.id == MEETINGS.c.nominal_id
    )


def _summary(row: Any) -> MeetingSummary:
    return MeetingSummary(
        id=row.id, nominal_id=row.nominal_id, area=row.area, level=row.level, kind=row.kind,
        held_at=row.held_at, state=row.state, consideration=row.consideration,
        review_due_at=row.review_due_at, review_overdue=bool(row.review_overdue),
        held_late=row.held_late, version=row.version,
    )


async def of_nominal(conn: AsyncConnection, nominal: Any, *, now: datetime) -> list[MeetingSummary]:
    """A nominal's meetings, oldest first."""
    rows = await conn.execute(
        _summaries(now).where(MEETINGS.c.nominal_id == nominal.id)
        .order_by(MEETINGS.c.held_at, MEETINGS.c.id)
    )
    return [_summary(row) for row in rows]


async def disclosures(
    conn: AsyncConnection, meeting_ids: Sequence[int], *, now: datetime
) -> list[DisclosureLink]:
    """The requests these meetings' considerations started, in the order they were made."""
    if not meeting_ids:
        return []
    rows = await conn.execute(
        select(REQUESTS.c.reference, REQUESTS.c.scheme, REQUESTS.c.state,
               REQUESTS.c.meeting_id, REQUESTS.c.due_at,
               and_(OPEN, REQUESTS.c.due_at < now).label("overdue"))
        .where(REQUESTS.c.meeting_id.in_(meeting_ids)).order_by(REQUESTS.c.id)
    )
    return [
        DisclosureLink(reference=r.reference, scheme=r.scheme, state=r.state,
                       meeting_id=r.meeting_id, due_at=r.due_at, overdue=bool(r.overdue))
        for r in rows
    ]


class Filters(Input, kw_only=True):
    """What a listing of meetings is narrowed to; times carry an offset (ValueError if not)."""

    level: int | None = None
    held_from: datetime | None = None
    held_to: datetime | None = None
    overdue_review: bool | None = None
    draft_older_than_days: int | None = None
    nominal_id: int | None = None


class Meetings:
    """The service every edge calls to record, change, read and list MAPP meetings."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.db = workflow.db

    # Recording ---------------------------------------------------------------------------

    async def create(self, new: NewMeeting, *, actor: str, area: str | None = None) -> MeetingView:
        """Record a meeting as a draft; its review date follows the policy's interval for its
        level and where the nominal was when it sat."""
        now = self.workflow.now()
        held = new.held_at.astimezone(UTC)
        if held > now:
            raise InvalidInput("held_at", "is in the future")
        review = self.workflow.policy.mapp_review
        async with self.db.write() as session, session.begin():
            conn = await session.connection()
            nominal = await trail.lock(conn, new.nominal_id, area)
            stood = await trail.standing_at(conn, nominal.id, held)
            if stood is None:
                raise InvalidInput("held_at", "is before the nominal was registered")
            if stood.level not in (2, 3):
                raise InvalidInput(
                    "nominal_id", f"the nominal was at level {stood.level} on"
                    f" {held.date().isoformat()}: MAPP meetings are held at levels 2 and 3"
                    " (send change_level to the nominal first)"
                )
            if new.level is not None and new.level != stood.level:
                raise InvalidInput(
                    "level", f"the nominal was at level {stood.level} when the meeting sat"
                )
            if new.next_review_by is not None and new.next_review_by <= held:
                raise InvalidInput("next_review_by", "is not after the meeting")
            previous = await conn.scalar(
                select(MEETINGS.c.review_due_at)
                .where(MEETINGS.c.nominal_id == nominal.id, MEETINGS.c.held_at < held)
                .order_by(MEETINGS.c.held_at.desc(), MEETINGS.c.id.desc()).limit(1)
            )
            sealer = seals.Sealer(conn, self.db.keys)
            meeting = (await sealer.write(insert(MEETINGS), {
                "nominal_id": nominal.id, "area": nominal.area, "level": stood.level,
                "kind": new.kind, "held_at": held, "chair": new.chair,
                "chair_rank": new.chair_rank, "attendees": msgspec.to_builtins(new.attendees),
                "confidentiality_statement_read": new.confidentiality_statement_read,
                "location": stood.location, "state": "draft",
                "review_due_at": review.review_due(
                    held_at=held, level=stood.level, location=stood.location,
                    set_by_meeting=new.next_review_by,
                ),
                "review_policy": review.code,
                "held_late": new.kind == "review" and previous is not None and held > previous,
                "created_at": now, "created_by": actor, "updated_at": now, "version": 1,
            }))[0]
            await self._add_action_points(sealer, meeting, new.action_points, actor, now)
            await trail.append(
                sealer, nominal, event="record_meeting", at=held, now=now, actor=actor,
                payload=msgspec.to_builtins(new), policy_version=review.code,
                meeting_id=meeting.id, to_state="draft",
            )
            await sealer.flush()
        return await self.get(meeting.id)

    async def apply(
        self, meeting_id: int, payload: MeetingEvent, *, actor: str, expected_version: int,
        area: str | None = None,
    ) -> MeetingView:
        """Send one event to a meeting; what it writes, the requests an agreed disclosure
        starts included, commits together or not at all."""
        event = str(type(payload).__struct_config__.tag)
        async with self.db.write() as session, session.begin():
            conn = await session.connection()
            meeting = (await conn.execute(
                select(MEETINGS).where(MEETINGS.c.id == meeting_id).with_for_update()
            )).first()
            if meeting is None or (area is not None and meeting.area != area):
                raise NotFound(str(meeting_id), "meeting")
            if meeting.version != expected_version:
                raise StaleVersion(f"meeting {meeting_id}", expected_version, meeting.version)
            nominal = await trail.lock(conn, meeting.nominal_id, None)
            to_state = fire(
                meeting.state, event, MeetingFacts(considered=meeting.consideration is not None)
            )
            now = self.workflow.now()
            sealer = seals.Sealer(conn, self.db.keys)
            at, changes, recorded = await self._record(conn, sealer, meeting, nominal, payload,
                                                       actor=actor, now=now)
            bumped = await sealer.write(
                update(MEETINGS).where(MEETINGS.c.id == meeting_id,
                                       MEETINGS.c.version == expected_version),
                changes | {"state": to_state, "version": meeting.version + 1, "updated_at": now},
            )
            if len(bumped) != 1:
                raise StaleVersion(f"meeting {meeting_id}", expected_version, meeting.version)
            await trail.append(
                sealer, nominal, event=event, at=at, now=now, actor=actor,
                payload=msgspec.to_builtins(payload) | recorded,
                policy_version=meeting.review_policy, meeting_id=meeting_id,
                from_state=meeting.state, to_state=to_state,
            )
            await sealer.flush()
        return await self.get(meeting_id)

    async def _record(
        self, conn: AsyncConnection, sealer: seals.Sealer, meeting: Row[Any], nominal: Row[Any],
        payload: MeetingEvent, *, actor: str, now: datetime,
    ) -> tuple[datetime, dict[str, Any], dict[str, Any]]:
        """Write what an event carries: when it happened, the meeting's columns it changes, and
        what the trail adds to its payload."""
        match payload:
            case RecordConsideration():
                started = []
                for index in range(len(payload.disclosures)):
                    new, decide = consideration.request_for(meeting, nominal, payload, index)
                    received = await self.workflow.receive_decided(
                        conn, new, decide, actor=actor, meeting_id=meeting.id
                    )
                    started.append(received.reference)
                # Decided when the meeting sat.
                return meeting.held_at, {
                    "consideration": payload.decision,
                    "no_disclosure_rationale": payload.rationale,
                    "representations_sought": payload.representations_sought,
                    "representations_not_sought_reason":
                        payload.representations_not_sought_reason,
                    "representations": payload.representations,
                }, {"requests": started}
            case AddActionPoints():
                await self._add_action_points(sealer, meeting, payload.action_points, actor, now)
            case Amend():
                given = {
                    name: msgspec.to_builtins(value)
                    for name, value in msgspec.structs.asdict(payload.changes).items()
                    if value is not None
                }
                was = meeting._mapping
                changed = {name: value for name, value in given.items() if was[name] != value}
                if given and not changed and not payload.action_points:
                    raise InvalidInput("changes", "every value given is already recorded")
                await self._add_action_points(sealer, meeting, payload.action_points, actor, now)
                return now, changed, {"old": {name: was[name] for name in changed}}
            case _:
                return now, {"finalised_at": now, "finalised_by": actor}, {}
        return now, {}, {}

    async def _add_action_points(
        self, sealer: seals.Sealer, meeting: Any, points: Sequence[ActionPointIn], actor: str,
        now: datetime,
    ) -> None:
        if points:
            await sealer.write(insert(ACTION_POINTS), [
                {"meeting_id": meeting.id, "nominal_id": meeting.nominal_id,
                 "action": p.action, "owner_agency": p.owner_agency, "owner": p.owner,
                 "due_at": p.due_at.astimezone(UTC), "added_at": now, "added_by": actor}
                for p in points
            ])

    # Reading -----------------------------------------------------------------------------

    async def nominal_of(self, meeting_id: int) -> int | None:
        """The nominal a meeting is about, whose read trail its reads go on."""
        async with self.db.read() as session:
            found: int | None = await session.scalar(
                select(MEETINGS.c.nominal_id).where(MEETINGS.c.id == meeting_id)
            )
            return found

    async def get(self, meeting_id: int, *, area: str | None = None) -> MeetingView:
        """One meeting with its action points, the requests it started and its trail."""
        now = self.workflow.now()
        async with self.db.read() as session:
            conn = await session.connection()
            row = (await conn.execute(
                _summaries(now).add_columns(
                    *(MEETINGS.c[name] for name in (
                        "chair", "chair_rank", "attendees", "confidentiality_statement_read",
                        "location", "review_policy", "no_disclosure_rationale",
                        "representations_sought", "representations_not_sought_reason",
                        "representations", "finalised_at", "finalised_by", "created_by",
                    )),
                    NOMINALS.c.reference.label("nominal_reference"),
                ).where(MEETINGS.c.id == meeting_id)
            )).first()
            if row is None or (area is not None and row.area != area):
                raise NotFound(str(meeting_id), "meeting")
            points = (await conn.execute(
                select(ACTION_POINTS).where(ACTION_POINTS.c.meeting_id == meeting_id)
                .order_by(ACTION_POINTS.c.id)
            )).all()
            links = await disclosures(conn, [meeting_id], now=now)
            events = (await conn.execute(
                select(trail.NOMINAL_EVENTS).where(trail.NOMINAL_EVENTS.c.meeting_id == meeting_id)
                .order_by(trail.NOMINAL_EVENTS.c.seq)
            )).all()
        summary = msgspec.structs.asdict(_summary(row))
        return MeetingView(
            **summary,
            nominal_reference=row.nominal_reference, chair=row.chair, chair_rank=row.chair_rank,
            attendees=msgspec.convert(row.attendees, list[Attendee]),
            confidentiality_statement_read=row.confidentiality_statement_read,
            location=row.location, review_policy=row.review_policy,
            no_disclosure_rationale=row.no_disclosure_rationale,
            representations_sought=row.representations_sought,
            representations_not_sought_reason=row.representations_not_sought_reason,
            representations=row.representations,
            action_points=[
                ActionPointView(id=p.id, action=p.action, owner_agency=p.owner_agency,
                                owner=p.owner, due_at=p.due_at, added_at=p.added_at,
                                added_by=p.added_by)
                for p in points
            ],
            requests=links,
            trail=[
                MeetingTrailEntry(seq=e.seq, event=e.event, from_state=e.from_state,
                                  state=e.to_state, actor=e.actor, occurred_at=e.occurred_at,
                                  recorded_at=e.recorded_at, payload=e.payload)
                for e in events
            ],
            finalised_at=row.finalised_at, finalised_by=row.finalised_by,
            created_by=row.created_by,
        )

    async def search(
        self, filters: Filters, *, limit: int, cursor: str | None, area: str | None = None
    ) -> MeetingPage:
        """Meetings, latest held first, filtered; with `area`, only that area's."""
        now = self.workflow.now()
        query = _summaries(now).order_by(MEETINGS.c.held_at.desc(), MEETINGS.c.id.desc())
        query = query.limit(limit + 1)
        if area is not None:
            query = query.where(MEETINGS.c.area == area)
        if filters.level is not None:
            query = query.where(MEETINGS.c.level == filters.level)
        if filters.nominal_id is not None:
            query = query.where(MEETINGS.c.nominal_id == filters.nominal_id)
        if filters.held_from is not None:
            query = query.where(MEETINGS.c.held_at >= filters.held_from)
        if filters.held_to is not None:
            query = query.where(MEETINGS.c.held_at < filters.held_to)
        if filters.overdue_review is not None:
            overdue = review_overdue(now)
            query = query.where(
                overdue if filters.overdue_review
                else or_(~overdue, MEETINGS.c.review_due_at.is_(None))
            )
        if filters.draft_older_than_days is not None:
            query = query.where(
                MEETINGS.c.state == "draft",
                MEETINGS.c.held_at < now - timedelta(days=filters.draft_older_than_days),
            )
        if cursor is not None:
            held, last_id = cursors.decode(cursor, int, int)
            at = cursors.from_instant(held)
            query = query.where(
                MEETINGS.c.held_at <= at,
                or_(MEETINGS.c.held_at < at, MEETINGS.c.id < last_id),
            )
        async with self.db.read() as session:
            rows = (await session.execute(query)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return MeetingPage(
            items=[_summary(r) for r in rows],
            next_cursor=cursors.encode(cursors.instant(rows[-1].held_at), rows[-1].id)
            if more and rows else None,
        )
