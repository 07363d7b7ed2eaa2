"""A request's stage records as people read them: its checks, the checks asked of partner
agencies, its decisions with their legal test and recipients, the deliveries, the notices and
the subject being told. The timeline holds the same facts as events; these are the rows the
workflow wrote for each stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure.models import (
    Check,
    Decision,
    DecisionRecipient,
    Delivery,
    Notice,
    PartnerRequest,
    SubjectTold,
)


class CheckView(msgspec.Struct, kw_only=True):
    id: int
    source: str
    information_held: bool
    summary: str
    checked_at: datetime
    recorded_by: str


class PartnerRequestView(msgspec.Struct, kw_only=True):
    id: int
    agency: str
    asked: str
    asked_at: datetime
    due_at: datetime
    responded_at: datetime | None
    information_held: bool | None
    response: str | None


class RecipientView(msgspec.Struct, kw_only=True):
    party_id: int
    rationale: str
    better_placed_reason: str | None
    wording: str
    discloser: str
    method: str
    others_present: str | None
    deliver_by: datetime | None
    settlement: str | None
    settled_at: datetime | None
    settled_by: str | None


class DecisionView(msgspec.Struct, kw_only=True):
    id: int
    urgent: bool
    forum: str
    decided_at: datetime
    chair: str
    attendees: list[Any]
    decision_maker: str
    decision_maker_role: str
    decision: str
    no_disclosure_reason: str | None
    referred_to: str | None
    legal_test: dict[str, Any]
    presumption_applies: bool | None
    subject_views_sought: bool | None
    subject_views_reason: str | None
    subject_representations: str | None
    subject_to_be_told: bool | None
    safeguarding_actions: list[Any]
    dissent: str | None
    deviation: str | None
    deviation_justification: str | None
    recipients: list[RecipientView] = []


class DeliveryView(msgspec.Struct, kw_only=True):
    delivered_at: datetime
    location: str
    delivered_by: str
    recipient_party_id: int
    others_present: str | None
    words_used: str
    matches_approved_wording: bool
    different_words_reason: str | None
    confidentiality_explained: bool
    undertaking: str
    safety_plan_made: bool
    referrals: list[Any]
    subject_informed_at: datetime | None


class NoticeView(msgspec.Struct, kw_only=True):
    given_at: datetime
    given_by: str
    method: str
    told: str
    safety_advice_given: bool
    safety_advice: str | None


class SubjectToldView(msgspec.Struct, kw_only=True):
    told_at: datetime
    told_by: str
    method: str
    what: str


class StageRecords(msgspec.Struct, kw_only=True):
    checks: list[CheckView]
    partner_requests: list[PartnerRequestView]
    decisions: list[DecisionView]
    deliveries: list[DeliveryView]
    notices: list[NoticeView]
    subject_told: list[SubjectToldView]


async def of(session: AsyncSession, request_id: int) -> StageRecords:
    """Every stage record of one request, oldest first."""

    async def rows(model: Any, view: type[Any]) -> list[Any]:
        found = await session.scalars(
            select(model).where(model.request_id == request_id).order_by(model.id)
        )
        return [msgspec.convert(row, view, from_attributes=True) for row in found]

    decisions: list[DecisionView] = await rows(Decision, DecisionView)
    recipients: list[tuple[int, RecipientView]] = [
        (row.decision_id, msgspec.convert(row, RecipientView, from_attributes=True))
        for row in await session.scalars(
            select(DecisionRecipient).where(DecisionRecipient.request_id == request_id)
            .order_by(DecisionRecipient.id)
        )
    ]
    for decision in decisions:
        decision.recipients = [r for owner, r in recipients if owner == decision.id]
    return StageRecords(
        checks=await rows(Check, CheckView),
        partner_requests=await rows(PartnerRequest, PartnerRequestView),
        decisions=decisions,
        deliveries=await rows(Delivery, DeliveryView),
        notices=await rows(Notice, NoticeView),
        subject_told=await rows(SubjectTold, SubjectToldView),
    )
