"""A meeting's agreed disclosure as the right-to-know request it starts: the nominal as its
subject, the recipients as its parties, and the meeting's decision, its chair deciding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import msgspec

from disclosure.errors import InvalidInput
from disclosure.mapp.schemas import AgreedDisclosure, RecordConsideration
from disclosure.schemas import NewRequest, PartyView, RecordPanelDecision

Decide = Callable[[Sequence[PartyView]], RecordPanelDecision]


def request_for(
    meeting: Any, nominal: Any, consideration: RecordConsideration, index: int
) -> tuple[NewRequest, Decide]:
    """The request the meeting's `index`th agreed disclosure starts, received when the meeting
    sat, and the decision to send it once its parties are written."""
    agreed = consideration.disclosures[index]
    field = f"disclosures[{index}]"
    held: datetime = meeting.held_at
    subject = {
        "role": "subject", "name": nominal.name,
        # Category 1 is a registered sexual offender: the CSODS return counts them.
        "registered_sex_offender": nominal.category == 1,
    }
    recipients = [
        {"role": r.role, "name": r.name, "kind": r.kind, "relationship": r.relationship,
         "relationship_code": r.relationship_code, "address": r.address}
        for r in agreed.recipients
    ]
    at_risk = [{"role": p.role, "name": p.name} for p in agreed.at_risk]
    summary = agreed.summary or (
        f"Agreed by the Level {meeting.level} MAPP meeting of {held.date().isoformat()}"
        f" (meeting {meeting.id})"
    )
    try:
        new = msgspec.convert({
            "scheme": agreed.scheme, "route": "right_to_know", "area": meeting.area,
            "received_at": held, "channel": "mapp_meeting", "summary": summary,
            "parties": [subject, *recipients, *at_risk],
        }, NewRequest)
    except msgspec.ValidationError as refused:
        raise InvalidInput(field, str(refused)) from None

    def decide(parties: Sequence[PartyView]) -> RecordPanelDecision:
        # The recipients were written in order, after the subject.
        ids = [p.id for p in parties[1:1 + len(agreed.recipients)]]
        return _decision(meeting, consideration, agreed, ids, field)

    return new, decide


def _decision(
    meeting: Any, consideration: RecordConsideration, agreed: AgreedDisclosure,
    party_ids: list[int], field: str,
) -> RecordPanelDecision:
    try:
        return msgspec.convert({
            "event": "record_panel_decision",
            "forum": f"mapp_level_{meeting.level}", "decided_at": meeting.held_at,
            "chair": meeting.chair, "attendees": meeting.attendees,
            "decision_maker_role": meeting.chair_rank, "decision": "disclose",
            "legal_test": msgspec.to_builtins(agreed.legal_test),
            "presumption_applies": agreed.presumption_applies,
            "recipients": [
                {"party_id": party, "rationale": r.rationale,
                 "better_placed_reason": r.better_placed_reason, "wording": r.wording,
                 "discloser": r.deliverer, "discloser_agency": r.deliverer_agency,
                 "method": r.method, "others_present": r.others_present,
                 "deliver_by": r.deliver_by}
                for party, r in zip(party_ids, agreed.recipients, strict=True)
            ],
            "subject_views_sought": consideration.representations_sought,
            "subject_views_reason": consideration.representations_not_sought_reason,
            "subject_representations": consideration.representations,
            "subject_to_be_told": agreed.subject_to_be_told,
        }, RecordPanelDecision)
    except msgspec.ValidationError as refused:
        raise InvalidInput(field, str(refused)) from None
