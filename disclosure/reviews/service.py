"""Drawing a review's sample, the anonymised records reviewers read, findings, releases."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure.errors import InvalidInput, NotFound, StaleVersion
from disclosure.models import (
    Closure,
    Decision,
    DecisionRecipient,
    DecisionReview,
    Request,
    ReviewFinding,
    ReviewItem,
)
from disclosure.oversight import AnonymisedDecision, anonymised
from disclosure.reads import ReadLog
from disclosure.reports.periods import BadPeriod, parse
from disclosure.schemas import Input, Text
from disclosure.workflow import Workflow
from statemachines.lifecycle import GuardRefused
from statemachines.reviews import fire

# The outcomes a decision leads to: each is a stratum of the sample.
DECIDED = ("no_information", "not_necessary_proportionate", "disclosed_to_person_at_risk",
           "disclosed_to_other", "disclosure_not_delivered", "referred_safeguarding")
Finding = Literal["defensible", "concerns", "learning_point"]


class NewReview(Input, kw_only=True):
    """Draw a sample: up to `per_outcome` decisions of each outcome closed in the period,
    chosen at random from `seed` (the same seed over the same records draws the same)."""

    period: Annotated[str, Meta(max_length=32)]
    seed: Annotated[int, Meta(ge=0, le=2**62)]
    per_outcome: Annotated[int, Meta(ge=1, le=100)] = 5


class ReviewEventIn(Input, tag_field="event", kw_only=True):
    """Base of a review's events."""


class RecordFinding(ReviewEventIn, tag="record_finding", kw_only=True):
    item: Annotated[int, Meta(ge=1, le=2**62)]
    finding: Finding
    notes: Text


class ReleaseRecord(ReviewEventIn, tag="release_record", kw_only=True):
    """An auditor releases one sampled decision's names and free text to the reviewers."""

    item: Annotated[int, Meta(ge=1, le=2**62)]


class Complete(ReviewEventIn, tag="complete", kw_only=True):
    """Every sampled decision has a finding: the review is done."""


ReviewEvent = RecordFinding | ReleaseRecord | Complete


class FindingView(msgspec.Struct, kw_only=True):
    reviewer: str
    finding: str
    notes: str
    recorded_at: datetime


class ItemView(msgspec.Struct, kw_only=True):
    """One sampled decision as reviewers see it: codes, answers, times; never a name."""

    id: int
    outcome: str
    received_at: datetime
    closed_at: datetime | None
    days_to_decision: float
    decision: AnonymisedDecision
    # Whether an auditor released its names and free text (GET .../decisions/{reference}).
    released: bool
    # Only once released: the request to read the released record by.
    reference: str | None
    findings: list[FindingView]


class ReviewView(msgspec.Struct, kw_only=True):
    id: int
    area: str
    period: str
    seed: int
    per_outcome: int
    state: str
    drawn_at: datetime
    drawn_by: str
    completed_at: datetime | None
    version: int
    items: list[ItemView]


class ReviewSummary(msgspec.Struct, kw_only=True):
    id: int
    period: str
    state: str
    drawn_at: datetime
    version: int


class ReleasedRecord(msgspec.Struct, kw_only=True):
    """A released decision in full: the names and the words, for the reviewers."""

    reference: str
    chair: str
    attendees: list[Any]
    decision_maker: str
    legal_test: dict[str, Any]
    subject_views_reason: str | None
    subject_representations: str | None
    dissent: str | None
    deviation: str | None
    deviation_justification: str | None
    recipients: list[dict[str, Any]]


def sample(candidates: list[tuple[int, str]], *, seed: int, per_outcome: int
           ) -> list[tuple[int, str]]:
    """Up to `per_outcome` decisions from each outcome's stratum, the same for the same seed."""
    strata: dict[str, list[int]] = defaultdict(list)
    for decision_id, outcome in candidates:
        strata[outcome].append(decision_id)
    chance = random.Random(seed)
    drawn = []
    for outcome in sorted(strata):
        pool = sorted(set(strata[outcome]))
        drawn += [(d, outcome) for d in sorted(chance.sample(pool, min(per_outcome, len(pool))))]
    return drawn


class Reviews:
    """The board's decision reviews, through the workflow's database and clock."""

    def __init__(self, workflow: Workflow, reads: ReadLog) -> None:
        self.db = workflow.db
        self.now = workflow.now
        self.reads = reads

    async def draw(self, data: NewReview, *, area: str, actor: str) -> ReviewView:
        try:
            period = parse(data.period)
        except BadPeriod as bad:
            raise InvalidInput("period", str(bad)) from None
        decided = (
            select(func.max(Decision.id))
            .where(Decision.request_id == Closure.request_id, Decision.urgent.is_(False),
                   Decision.decided_at <= Closure.closed_at)
            .scalar_subquery()
        )
        async with self.db.write() as session, session.begin():
            candidates = [
                (int(d), str(o)) for d, o in (await session.execute(
                    select(decided, Closure.outcome)
                    .join(Request, Request.id == Closure.request_id)
                    .where(Request.area == area, Closure.outcome.in_(DECIDED),
                           Closure.closed_at >= period.start, Closure.closed_at < period.end)
                )).all() if d is not None
            ]
            drawn = sample(candidates, seed=data.seed, per_outcome=data.per_outcome)
            review_id = (await session.execute(insert(DecisionReview).values(
                area=area, period=period.key, seed=data.seed, per_outcome=data.per_outcome,
                state="drawn", drawn_at=self.now(), drawn_by=actor, version=1,
            ).returning(DecisionReview.id))).scalar_one()
            requests = dict((await session.execute(
                select(Decision.id, Decision.request_id)
                .where(Decision.id.in_([d for d, _ in drawn]))
            )).all())
            if drawn:
                await session.execute(insert(ReviewItem), [
                    {"review_id": review_id, "decision_id": d, "request_id": requests[d],
                     "outcome": outcome, "position": n}
                    for n, (d, outcome) in enumerate(drawn, start=1)
                ])
        return await self.get(review_id, area=area)

    async def list(self, *, area: str) -> list[ReviewSummary]:
        async with self.db.read() as session:
            rows = await session.scalars(
                select(DecisionReview).where(DecisionReview.area == area)
                .order_by(DecisionReview.id.desc())
            )
            return [msgspec.convert(r, ReviewSummary, from_attributes=True) for r in rows]

    async def get(self, review_id: int, *, area: str) -> ReviewView:
        async with self.db.read() as session:
            review = await _find(session, review_id, area)
            items = (await session.execute(
                select(ReviewItem, Request.reference, Request.received_at, Closure.closed_at)
                .join(Request, Request.id == ReviewItem.request_id)
                .outerjoin(Closure, and_(Closure.request_id == ReviewItem.request_id,
                                         Closure.outcome == ReviewItem.outcome))
                .where(ReviewItem.review_id == review_id)
                .order_by(ReviewItem.position, Closure.seq)
            )).all()
            records = await anonymised(session, area=area,
                                       decision_ids=[i.decision_id for i, *_ in items])
            findings: dict[int, list[FindingView]] = defaultdict(list)
            for f in await session.scalars(
                select(ReviewFinding)
                .join(ReviewItem, ReviewItem.id == ReviewFinding.item_id)
                .where(ReviewItem.review_id == review_id).order_by(ReviewFinding.id)
            ):
                findings[f.item_id].append(msgspec.convert(f, FindingView,
                                                           from_attributes=True))
        seen: set[int] = set()
        views = []
        for item, reference, received_at, closed_at in items:
            if item.id in seen:
                continue
            seen.add(item.id)
            record = records[item.decision_id]
            views.append(ItemView(
                id=item.id, outcome=item.outcome, received_at=received_at, closed_at=closed_at,
                days_to_decision=round(
                    (record.decided_at - received_at).total_seconds() / 86400, 1),
                decision=record, released=item.released_at is not None,
                reference=reference if item.released_at is not None else None,
                findings=findings[item.id],
            ))
        return ReviewView(
            id=review.id, area=review.area, period=review.period, seed=review.seed,
            per_outcome=review.per_outcome, state=review.state, drawn_at=review.drawn_at,
            drawn_by=review.drawn_by, completed_at=review.completed_at,
            version=review.version, items=views,
        )

    async def apply(self, review_id: int, payload: ReviewEvent, *, actor: str, area: str,
                    expected_version: int) -> ReviewView:
        event = type(payload).__struct_config__.tag
        assert isinstance(event, str)
        released: str | None = None
        async with self.db.write() as session, session.begin():
            review = await _find(session, review_id, area, lock=True)
            if review.version != expected_version:
                raise StaleVersion(f"review {review_id}", expected_version, review.version)
            unreviewed = 0
            if isinstance(payload, Complete):
                unreviewed = await session.scalar(
                    select(func.count()).select_from(ReviewItem).where(
                        ReviewItem.review_id == review_id,
                        ~select(ReviewFinding.id).where(
                            ReviewFinding.item_id == ReviewItem.id).exists(),
                    )
                ) or 0
            state = fire(review.state, event, unreviewed=unreviewed)
            if state is None:
                raise GuardRefused("complete", f"{unreviewed} sampled decisions have no finding"
                                               " yet")
            now = self.now()
            changes: dict[str, Any] = {"state": state, "version": review.version + 1}
            match payload:
                case RecordFinding():
                    await _item(session, review_id, payload.item)
                    done = await session.scalar(select(ReviewFinding.id).where(
                        ReviewFinding.item_id == payload.item, ReviewFinding.reviewer == actor))
                    if done is not None:
                        raise InvalidInput("item", f"{actor} has already recorded a finding on"
                                                   f" item {payload.item}")
                    await session.execute(insert(ReviewFinding).values(
                        item_id=payload.item, reviewer=actor, finding=payload.finding,
                        notes=payload.notes, recorded_at=now))
                case ReleaseRecord():
                    item = await _item(session, review_id, payload.item)
                    if item.released_at is not None:
                        raise InvalidInput("item", f"item {payload.item} is released already")
                    await session.execute(update(ReviewItem).where(ReviewItem.id == item.id)
                                          .values(released_at=now, released_by=actor))
                    released = await session.scalar(
                        select(Request.reference).where(Request.id == item.request_id))
                case Complete():
                    changes["completed_at"] = now
            await session.execute(
                update(DecisionReview)
                .where(DecisionReview.id == review_id,
                       DecisionReview.version == expected_version)
                .values(**changes)
            )
        if released is not None:
            # The release is on the request's read trail, as a read by the auditor.
            await self.reads.record(released, viewer=actor, endpoint="release_record")
        return await self.get(review_id, area=area)

    async def released(self, review_id: int, reference: str, *, area: str) -> ReleasedRecord:
        """The full decision of a sampled request an auditor released; otherwise not found."""
        async with self.db.read() as session:
            await _find(session, review_id, area)
            row = (await session.execute(
                select(Decision, Request.reference)
                .join(ReviewItem, ReviewItem.decision_id == Decision.id)
                .join(Request, Request.id == ReviewItem.request_id)
                .where(ReviewItem.review_id == review_id, Request.reference == reference,
                       ReviewItem.released_at.is_not(None))
            )).first()
            if row is None:
                raise NotFound(reference)
            decision, ref = row
            recipients = (await session.scalars(
                select(DecisionRecipient).where(DecisionRecipient.decision_id == decision.id)
                .order_by(DecisionRecipient.id)
            )).all()
        return ReleasedRecord(
            reference=ref, chair=decision.chair, attendees=list(decision.attendees),
            decision_maker=decision.decision_maker, legal_test=dict(decision.legal_test),
            subject_views_reason=decision.subject_views_reason,
            subject_representations=decision.subject_representations,
            dissent=decision.dissent, deviation=decision.deviation,
            deviation_justification=decision.deviation_justification,
            recipients=[{"rationale": r.rationale, "wording": r.wording,
                         "discloser": r.discloser, "method": r.method,
                         "deliver_by": r.deliver_by, "settlement": r.settlement}
                        for r in recipients],
        )


async def _find(session: AsyncSession, review_id: int, area: str, *, lock: bool = False
                ) -> DecisionReview:
    query = select(DecisionReview).where(DecisionReview.id == review_id)
    if lock:
        query = query.with_for_update()
    review = await session.scalar(query)
    if review is None or review.area != area:
        raise NotFound(f"review {review_id}")
    return review


async def _item(session: AsyncSession, review_id: int, item_id: int) -> ReviewItem:
    item = await session.scalar(select(ReviewItem).where(
        ReviewItem.id == item_id, ReviewItem.review_id == review_id))
    if item is None:
        raise InvalidInput("item", f"item {item_id} is not in review {review_id}")
    return item
