"""A decided, closed request of an area, sampled into a review and released by an auditor."""

from __future__ import annotations

from typing import Any

from disclosure.reads import ReadLog
from disclosure.reviews.service import NewReview, ReleaseRecord, Reviews
from disclosure.workflow import Workflow
from tests import factories

PERIOD = "2026-27"


async def decided(workflow: Workflow, area: str) -> str:
    """A DVDS request walked to a delivered disclosure (closed in November 2026)."""
    view = await workflow.create(factories.new(area=area), actor="officer.seed")
    version = view.version
    at_risk = next(p.id for p in view.parties if p.role == "person_at_risk")
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("complete_initial_checks", "officer.seed", {}), ("record_meeting", "officer.seed", {}),
        ("record_check", "officer.seed", {}), ("complete_checks", "officer.seed", {}),
        ("record_decision", "inspector.seed", {"recipients": [factories.recipient(at_risk)]}),
        ("record_delivery", "officer.seed", {"recipient_party_id": at_risk}),
        ("record_notice", "officer.seed", {}),
    ]
    for event, actor, fields in steps:
        done = await workflow.apply(view.reference, factories.payload(event, **fields),
                                    actor=actor, expected_version=version)
        version = done.version
    return view.reference


async def released(workflow: Workflow, area: str) -> tuple[int, str]:
    """A review of the area holding one decided request, its record released."""
    reference = await decided(workflow, area)
    reviews = Reviews(workflow, ReadLog(workflow.db, now=workflow.now))
    review = await reviews.draw(NewReview(period=PERIOD, seed=1), area=area,
                                actor="smb.seed")
    for item in review.items:
        review = await reviews.apply(review.id, ReleaseRecord(item=item.id),
                                     actor="auditor.seed", area=area,
                                     expected_version=review.version)
        if any(i.reference == reference for i in review.items):
            return review.id, reference
    raise AssertionError(f"{reference} was not sampled")
