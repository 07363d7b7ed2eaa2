"""Raising repeat-subject alerts when a request is received or a subject is added to one, and
the alerts a request is on.

Policy (`FindingPolicy`, from the settings): a subject named in `repeat_requests` requests of
the area received within `repeat_window_days`, about at least `repeat_persons_at_risk` different
persons at risk or children, raises an alert. While an alert about the subject is open, further
requests join it instead of raising another. Requests started by a review, and right-to-know
requests carrying a right-to-ask one on, are never counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import msgspec
from sqlalchemy import Float, String, Subquery, func, insert, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from disclosure.models import Alert, AlertRequest, Request, SearchTerm
from disclosure.search import matching, names

# Requests a review starts carry this channel; they never count towards another alert.
REVIEW_CHANNEL: Final = "repeat_subject_review"
AT_RISK_ROLES: Final = ("person_at_risk", "child")


class AlertBrief(msgspec.Struct, kw_only=True):
    """An alert a request is on, as the request view shows it."""

    id: int
    kind: str
    state: str
    raised_at: datetime


async def raise_on_receive(
    conn: AsyncConnection,
    dialect: str,
    policy: matching.FindingPolicy,
    *,
    request_id: int,
    area: str,
    received_at: datetime,
    channel: str,
    continued: bool,
    parties: Sequence[matching.Named],
    at: datetime,
) -> None:
    """Raise (or extend) an alert for each subject of a newly received request who is now a
    repeat subject; runs in the receiving transaction, after the parties are indexed.

    A request started by a review, or carrying a right-to-ask request on as right to know, is
    not a new application about the subject: it neither raises an alert nor counts.

    Only requests received before it (a lower id) and itself count: those a request received
    alone would find, whether it is received alone or in a batch already written.
    """
    if channel == REVIEW_CHANNEL or continued:
        return
    await matching.prepare(conn, dialect, policy.same_person_name)
    for party in parties:
        if party.role == "subject" and party.name:
            await _raise_as_of(conn, dialect, policy, name=party.name,
                               date_of_birth=party.date_of_birth, area=area,
                               request_id=request_id, received_at=received_at, at=at)


async def raise_on_subject_added(
    conn: AsyncConnection,
    dialect: str,
    policy: matching.FindingPolicy,
    *,
    request_id: int,
    area: str,
    received_at: datetime,
    channel: str,
    continued: bool,
    party: matching.Named,
    at: datetime,
    latest: int | None = None,
) -> None:
    """A subject added to a request (`add_party`) counts as if named when it was received:
    the request is checked as its receipt would have been, and so is every later request
    naming him (up to `latest`, if given) whose window reaches back to it, as each of their
    receipts would have been had he been named already. Runs after the party is indexed."""
    if channel == REVIEW_CHANNEL or continued or party.role != "subject" or not party.name:
        return
    await matching.prepare(conn, dialect, policy.same_person_name)
    name, date_of_birth = party.name, party.date_of_birth
    same = _same_subject(dialect, policy, name, date_of_birth, area)
    later = select(Request.id, Request.received_at).distinct().join(
        same, same.c.request_id == Request.id
    ).where(
        Request.id > request_id,
        Request.received_at <= received_at + timedelta(days=policy.repeat_window_days),
        *_COUNTED,
    ).order_by(Request.id)
    if latest is not None:
        later = later.where(Request.id <= latest)
    anchors = [(request_id, received_at), *(await conn.execute(later)).all()]
    for anchor, anchor_received in anchors:
        await _raise_as_of(conn, dialect, policy, name=name, date_of_birth=date_of_birth,
                           area=area, request_id=anchor, received_at=anchor_received, at=at)


# The requests that count towards an alert: new applications, not reviews or continuations.
_COUNTED = (Request.channel != REVIEW_CHANNEL, Request.continued_from_id.is_(None))


def _same_subject(
    dialect: str, policy: matching.FindingPolicy, name: str, date_of_birth: str | None,
    area: str,
) -> Subquery:
    normalised = names.name(name)
    fts = names.fts_query(normalised) if dialect != "postgresql" else None
    return union_all(*matching.same_person(
        dialect, name=literal(normalised, String),
        fts=None if fts is None else literal(fts, String),
        born=literal(date_of_birth, String), area=literal(area, String),
        roles=[literal("subject", String)],
        same_name=literal(policy.same_person_name, Float),
        with_dob=literal(policy.same_person_with_dob, Float),
    )).subquery()


async def _raise_as_of(
    conn: AsyncConnection,
    dialect: str,
    policy: matching.FindingPolicy,
    *,
    name: str,
    date_of_birth: str | None,
    area: str,
    request_id: int,
    received_at: datetime,
    at: datetime,
) -> None:
    """Raise or extend the alert about this subject as the receipt of `request_id` would:
    counting it and the requests before it naming him, received within the window."""
    since = received_at - timedelta(days=policy.repeat_window_days)
    same = _same_subject(dialect, policy, name, date_of_birth, area)
    named_in = list(await conn.scalars(
        select(Request.id).distinct()
        .join(same, same.c.request_id == Request.id)
        .where(Request.id <= request_id, Request.received_at >= since, *_COUNTED)
    ))
    if len(named_in) < policy.repeat_requests:
        return
    at_risk = await conn.scalar(
        select(func.count(SearchTerm.term.distinct())).where(
            SearchTerm.request_id.in_(named_in), SearchTerm.field == "name",
            SearchTerm.role.in_(AT_RISK_ROLES),
        )
    )
    if (at_risk or 0) < policy.repeat_persons_at_risk:
        return
    alert_id = await conn.scalar(
        select(Alert.id)
        .join(AlertRequest, AlertRequest.alert_id == Alert.id)
        .where(Alert.area == area, Alert.state == "open",
               AlertRequest.request_id.in_(named_in))
        .limit(1)
    )
    if alert_id is None:
        alert_id = (await conn.execute(insert(Alert).returning(Alert.id), {
            "kind": "repeat_subject", "area": area, "state": "open",
            "subject": names.name(name), "raised_at": at, "version": 1,
        })).scalar_one()
    already = set(await conn.scalars(
        select(AlertRequest.request_id).where(AlertRequest.alert_id == alert_id)
    ))
    joining = [rid for rid in named_in if rid not in already]
    if joining:
        await conn.execute(insert(AlertRequest), [
            {"alert_id": alert_id, "request_id": rid} for rid in joining
        ])


async def on_request(session: AsyncSession | AsyncConnection, request_id: int) -> list[AlertBrief]:
    """The alerts this request is on, oldest first."""
    rows = await session.execute(
        select(Alert.id, Alert.kind, Alert.state, Alert.raised_at)
        .join(AlertRequest, AlertRequest.alert_id == Alert.id)
        .where(AlertRequest.request_id == request_id)
        .order_by(Alert.id)
    )
    return [AlertBrief(id=r.id, kind=r.kind, state=r.state, raised_at=r.raised_at) for r in rows]
