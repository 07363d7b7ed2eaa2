"""What the Strategic Management Board sees: decisions with every person taken out.

Its counts of requests are kept by `disclosure.statistics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure.models import Decision, DecisionRecipient, Division, Request


class AnonymisedDecision(msgspec.Struct, kw_only=True):
    """A decision record with no names, addresses, wording or free-text reasoning.

    Every field is a code from a fixed vocabulary, a flag, a count or a time, never text someone
    typed: ranks and agencies are codes of disclosure/vocabularies.py, and a division is shown
    only when it is one of the area's registered divisions. An urgent disclosure made outside the
    forum is listed too, with forum `urgent`.
    """

    decision_id: int
    scheme: str
    route: str
    area: str
    division: str | None
    state: str
    outcome: str | None
    urgent: bool
    forum: str
    decided_at: datetime
    decision_maker_role: str
    attendee_agencies: list[str]
    decision: str
    no_disclosure_reason: str | None
    referred_to: str | None
    presumption_applies: bool | None
    legal_test: dict[str, bool]
    recipients: int
    delivered: int
    subject_views_sought: bool | None
    subject_to_be_told: bool | None
    safeguarding_actions: list[str]
    dissent_recorded: bool
    deviation_recorded: bool


class DecisionPage(msgspec.Struct, kw_only=True):
    items: list[AnonymisedDecision]
    next_before: int | None = None


def _answers(legal_test: dict[str, Any]) -> dict[str, bool]:
    # Each part keeps whether it was met; the rationale is free text and may name people.
    return {
        part: bool(value.get("met")) if isinstance(value, dict) else bool(value)
        for part, value in legal_test.items()
    }


def _query(area: str) -> Any:
    settled = (
        select(
            DecisionRecipient.decision_id,
            func.count().label("recipients"),
            func.count(DecisionRecipient.settled_at).filter(
                DecisionRecipient.settlement == "delivered"
            ).label("delivered"),
        )
        .group_by(DecisionRecipient.decision_id)
        .subquery()
    )
    return (
        select(Decision, Request, settled.c.recipients, settled.c.delivered, Division.code)
        .join(Request, Request.id == Decision.request_id)
        .outerjoin(settled, settled.c.decision_id == Decision.id)
        .outerjoin(Division, and_(Division.area == Request.area,
                                  Division.code == Request.division))
        .where(Request.area == area)
    )


def _anonymised(rows: Sequence[Any]) -> list[AnonymisedDecision]:
    return [
        AnonymisedDecision(
            decision_id=d.id, scheme=r.scheme, route=r.route, area=r.area, division=division,
            state=r.state, outcome=r.outcome, urgent=d.urgent, forum=d.forum,
            decided_at=d.decided_at,
            decision_maker_role=d.decision_maker_role,
            attendee_agencies=sorted(
                {str(a.get("agency")) for a in d.attendees if a.get("agency")}
            ),
            decision=d.decision, no_disclosure_reason=d.no_disclosure_reason,
            referred_to=d.referred_to, presumption_applies=d.presumption_applies,
            legal_test=_answers(d.legal_test), recipients=recipients or 0,
            delivered=delivered or 0, subject_views_sought=d.subject_views_sought,
            subject_to_be_told=d.subject_to_be_told,
            safeguarding_actions=[str(a) for a in d.safeguarding_actions],
            dissent_recorded=bool(d.dissent), deviation_recorded=bool(d.deviation),
        )
        for d, r, recipients, delivered, division in rows
    ]


async def decisions(
    session: AsyncSession, *, area: str, limit: int, before: int | None = None
) -> DecisionPage:
    query = _query(area).order_by(Decision.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(Decision.id < before)
    rows = (await session.execute(query)).all()
    items = _anonymised(rows[:limit])
    more = len(rows) > limit
    return DecisionPage(items=items, next_before=items[-1].decision_id if more and items else None)


async def anonymised(
    session: AsyncSession, *, area: str, decision_ids: Sequence[int]
) -> dict[int, AnonymisedDecision]:
    """These decisions of the area, anonymised, by id."""
    rows = (await session.execute(_query(area).where(Decision.id.in_(decision_ids)))).all()
    return {item.decision_id: item for item in _anonymised(rows)}
