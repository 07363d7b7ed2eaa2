"""What the Strategic Management Board sees: counts, and decisions with every person taken out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure.models import Decision, Division, Request


class Count(msgspec.Struct, kw_only=True):
    scheme: str
    route: str
    state: str
    outcome: str | None
    requests: int


class Statistics(msgspec.Struct, kw_only=True):
    area: str
    total: int
    counts: list[Count]


class AnonymisedDecision(msgspec.Struct, kw_only=True):
    """A decision record with no names, addresses, wording or free-text reasoning.

    Every field is a code from a fixed vocabulary, a flag, a count or a time: never text someone
    typed. The decision-maker's role and the attendees' agencies are typed text today, so they
    are left out; a division is shown only when it is one of the area's registered divisions.
    """

    decision_id: int
    scheme: str
    route: str
    area: str
    division: str | None
    state: str
    outcome: str | None
    forum: str
    decided_at: datetime
    attendees: int
    decision: str
    no_disclosure_reason: str | None
    legal_test: dict[str, bool]
    subject_views_sought: bool
    subject_to_be_told: bool
    safeguarding_actions: list[str]
    dissent_recorded: bool
    deviation_recorded: bool


class DecisionPage(msgspec.Struct, kw_only=True):
    items: list[AnonymisedDecision]
    next_before: int | None = None


async def statistics(session: AsyncSession, *, area: str) -> Statistics:
    """Requests in an area counted by scheme, route, state and outcome."""
    rows = (
        await session.execute(
            select(Request.scheme, Request.route, Request.state, Request.outcome, func.count())
            .where(Request.area == area)
            .group_by(Request.scheme, Request.route, Request.state, Request.outcome)
            .order_by(Request.scheme, Request.route, Request.state, Request.outcome)
        )
    ).all()
    counts = [
        Count(scheme=s, route=r, state=st, outcome=o, requests=n) for s, r, st, o, n in rows
    ]
    return Statistics(area=area, total=sum(c.requests for c in counts), counts=counts)


def _answers(legal_test: dict[str, Any]) -> dict[str, bool]:
    # Each part keeps whether it was met; the rationale is free text and may name people.
    return {
        part: bool(value.get("met")) if isinstance(value, dict) else bool(value)
        for part, value in legal_test.items()
    }


async def decisions(
    session: AsyncSession, *, area: str, limit: int, before: int | None = None
) -> DecisionPage:
    query = (
        select(Decision, Request, Division.code)
        .join(Request, Request.id == Decision.request_id)
        .outerjoin(Division, and_(Division.area == Request.area,
                                  Division.code == Request.division))
        .where(Request.area == area)
        .order_by(Decision.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(Decision.id < before)
    rows = (await session.execute(query)).all()
    items = [
        AnonymisedDecision(
            decision_id=d.id, scheme=r.scheme, route=r.route, area=r.area, division=division,
            state=r.state, outcome=r.outcome, forum=d.forum, decided_at=d.decided_at,
            attendees=len(d.attendees), decision=d.decision,
            no_disclosure_reason=d.no_disclosure_reason,
            legal_test=_answers(d.legal_test), subject_views_sought=d.subject_views_sought,
            subject_to_be_told=d.subject_to_be_told,
            safeguarding_actions=[str(a) for a in d.safeguarding_actions],
            dissent_recorded=bool(d.dissent), deviation_recorded=bool(d.deviation),
        )
        for d, r, division in rows[:limit]
    ]
    more = len(rows) > limit
    return DecisionPage(items=items, next_before=items[-1].decision_id if more and items else None)
