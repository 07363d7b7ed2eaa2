"""The repeat-subject alert queue and its reviews.

A review that starts a right-to-know request receives it through the workflow, in the same
transaction as the alert's change, and links it to every request the alert was raised on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure import cursors
from disclosure.alerts.repeats import AT_RISK_ROLES, REVIEW_CHANNEL
from disclosure.errors import NotFound, StaleVersion
from disclosure.models import Alert, AlertRequest, Party, Request
from disclosure.reads import Visit
from disclosure.references import request_id
from disclosure.schemas import Code, Input, NewRequest, PartyIn, Text
from disclosure.search import links, names
from disclosure.workflow import Workflow
from statemachines.alerts import fire

Clock = Callable[[], datetime]


class AlertNotFound(NotFound):
    def __init__(self, alert_id: int) -> None:
        super().__init__(str(alert_id))
        self.args = (f"no alert {alert_id}",)


class AlertEventIn(Input, tag_field="event", kw_only=True):
    """Base of the two outcomes of a review."""


class StartRightToKnow(AlertEventIn, tag="start_right_to_know", kw_only=True):
    """Start a right-to-know request about the subject, linked to every request alerted on."""

    summary: Text
    division: Code | None = None


class RecordNoAction(AlertEventIn, tag="record_no_action", kw_only=True):
    reason: Text


AlertEvent = StartRightToKnow | RecordNoAction


class AlertedRequest(msgspec.Struct, kw_only=True):
    reference: str
    scheme: str
    route: str
    state: str
    received_at: datetime


class AlertView(msgspec.Struct, kw_only=True):
    id: int
    kind: str
    state: str
    subject: str
    raised_at: datetime
    reviewed_at: datetime | None
    reviewed_by: str | None
    review: str | None
    reason: str | None
    started_request: str | None
    requests: list[AlertedRequest]
    version: int


class AlertPage(msgspec.Struct, kw_only=True):
    items: list[AlertView]
    next_cursor: str | None


class Alerts:
    """Lists an area's alerts and records their reviews."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.db = workflow.db

    async def list(
        self, *, area: str, state: Literal["open", "reviewed"] | None, limit: int,
        cursor: str | None, visit: Visit | None = None,
    ) -> AlertPage:
        """Oldest first: the queue is worked from the front. An alert names its subject, so
        with `visit` every request shown goes on the read trail in the same transaction."""
        statement = select(Alert).where(Alert.area == area).order_by(Alert.id).limit(limit + 1)
        if state is not None:
            statement = statement.where(Alert.state == state)
        if cursor is not None:
            (last_id,) = cursors.decode(cursor, int)
            statement = statement.where(Alert.id > last_id)
        async with self.workflow.reading(visit) as session:
            alerts = (await session.scalars(statement)).all()
            more = len(alerts) > limit
            alerts = alerts[:limit]
            views = [await self._view(session, a) for a in alerts]
            await self._log(session, views, visit)
        return AlertPage(
            items=views, next_cursor=cursors.encode(alerts[-1].id) if more and alerts else None
        )

    async def get(self, alert_id: int, *, area: str, visit: Visit | None = None) -> AlertView:
        async with self.workflow.reading(visit) as session:
            view = await self._view(session, await self._find(session, alert_id, area))
            await self._log(session, [view], visit)
            return view

    async def _log(
        self, session: AsyncSession, shown: Sequence[AlertView], visit: Visit | None
    ) -> None:
        """Each request the alerts show (those alerted on, and any a review started) on the
        read trail, locked in the order of their references."""
        if visit is None:
            return
        references = sorted(
            {r.reference for view in shown for r in view.requests}
            | {view.started_request for view in shown if view.started_request}
        )
        for reference in references:
            rid = await request_id(session, reference, lock=True)
            await self.workflow.log(session, rid, reference, visit)
        visit.logged = True

    async def _find(self, session: AsyncSession, alert_id: int, area: str) -> Alert:
        alert = await session.scalar(
            select(Alert).where(Alert.id == alert_id, Alert.area == area)
        )
        if alert is None:
            raise AlertNotFound(alert_id)
        return alert

    async def _view(self, session: AsyncSession, alert: Alert) -> AlertView:
        rows = await session.execute(
            select(Request.reference, Request.scheme, Request.route, Request.state,
                   Request.received_at)
            .join(AlertRequest, AlertRequest.request_id == Request.id)
            .where(AlertRequest.alert_id == alert.id)
            .order_by(Request.received_at, Request.id)
        )
        started = None
        if alert.started_request_id is not None:
            started = await session.scalar(
                select(Request.reference).where(Request.id == alert.started_request_id)
            )
        return AlertView(
            id=alert.id, kind=alert.kind, state=alert.state, subject=alert.subject,
            raised_at=alert.raised_at, reviewed_at=alert.reviewed_at,
            reviewed_by=alert.reviewed_by, review=alert.review, reason=alert.reason,
            started_request=started,
            requests=[AlertedRequest(reference=r.reference, scheme=r.scheme, route=r.route,
                                     state=r.state, received_at=r.received_at) for r in rows],
            version=alert.version,
        )

    async def apply(
        self, alert_id: int, payload: AlertEvent, *, actor: str, area: str,
        expected_version: int, visit: Visit | None = None,
    ) -> AlertView:
        """Review an alert; the review and any request it starts commit together. The answer
        is the alert as reviewed, read as `get` reads it."""
        event = type(payload).__struct_config__.tag
        assert isinstance(event, str)
        async with self.db.write() as session, session.begin():
            alert = await self._find(session, alert_id, area)
            if alert.version != expected_version:
                raise StaleVersion(f"alert {alert_id}", expected_version, alert.version)
            state = fire(alert.state, event)
            now = self.workflow.now()
            changes: dict[str, object] = {
                "state": state, "reviewed_at": now, "reviewed_by": actor,
                "version": alert.version + 1,
            }
            match payload:
                case RecordNoAction():
                    changes |= {"review": "no_action", "reason": payload.reason}
                case StartRightToKnow():
                    started = await self._start(session, alert, payload, actor=actor, at=now)
                    changes |= {"review": "right_to_know_started",
                                "started_request_id": started}
            await session.execute(
                update(Alert)
                .where(Alert.id == alert.id, Alert.version == expected_version)
                .values(**changes)
            )
        return await self.get(alert_id, area=area, visit=visit)

    async def _start(
        self, session: AsyncSession, alert: Alert, payload: StartRightToKnow, *, actor: str,
        at: datetime,
    ) -> int:
        """Receive the right-to-know request and link it to every request alerted on."""
        requests = (await session.scalars(
            select(Request)
            .join(AlertRequest, AlertRequest.request_id == Request.id)
            .where(AlertRequest.alert_id == alert.id)
            .order_by(Request.received_at, Request.id)
        )).all()
        newest = requests[-1]
        parties = (await session.scalars(
            select(Party).where(Party.request_id.in_([r.id for r in requests]))
            .order_by(Party.request_id, Party.id)
        )).all()
        at_risk_role = {"dvds": "person_at_risk", "csods": "child"}.get(newest.scheme)
        subject = next(p for p in parties if p.request_id == newest.id and p.role == "subject")
        chosen = [subject]
        seen: set[str] = set()
        for party in parties:
            if party.role in AT_RISK_ROLES and at_risk_role is not None and party.name:
                key = names.name(party.name)
                if key not in seen:
                    seen.add(key)
                    chosen.append(party)
        new = msgspec.convert({
            "scheme": newest.scheme, "route": "right_to_know", "area": alert.area,
            "division": payload.division or newest.division, "received_at": at,
            "channel": REVIEW_CHANNEL, "summary": payload.summary,
            "parties": [
                msgspec.to_builtins(PartyIn(
                    role=p.role if p.role == "subject" else at_risk_role,  # type: ignore[arg-type]
                    name=p.name, date_of_birth=p.date_of_birth, address=p.address,
                    sex=p.sex,  # type: ignore[arg-type]
                    age_band=p.age_band,  # type: ignore[arg-type]
                    ethnicity=p.ethnicity,  # type: ignore[arg-type]
                ))
                for p in chosen
            ],
        }, NewRequest)
        request = await self.workflow.receive_within(session, new, actor=actor)
        conn = await session.connection()
        for other in requests:
            await links.link(conn, kind="repeat_subject_review", from_id=request.id,
                             to_id=other.id, at=at, actor=actor)
        return request.id
