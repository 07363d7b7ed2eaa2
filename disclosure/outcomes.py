"""How a closing event and the records behind it give the request's outcome code."""

from __future__ import annotations

from disclosure.schemas import (
    CloseNoEngagement,
    CompleteInitialChecks,
    EventIn,
    RecordDecision,
    RecordDelivery,
    RecordMeeting,
    RecordNotice,
    TakeImmediateAction,
    Withdraw,
)

OUTCOMES = (
    "not_progressed_criteria",
    "not_progressed_duplicate",
    "identity_not_verified",
    "withdrawn",
    "no_engagement",
    "immediate_action",
    "no_information",
    "not_necessary_proportionate",
    "disclosed_to_person_at_risk",
    "disclosed_to_other",
    "referred_safeguarding",
)
_FINDINGS = {
    "out_of_scope": "not_progressed_criteria",
    "duplicate": "not_progressed_duplicate",
    "referred_safeguarding": "referred_safeguarding",
}


def outcome_of(
    payload: EventIn, *, recipient_role: str | None, no_disclosure_reason: str | None
) -> str:
    """The outcome of a request closed by this event.

    recipient_role is the role of the party a delivery went to; no_disclosure_reason comes from
    the decision a notice reports.
    """
    match payload:
        case CompleteInitialChecks(finding=finding):
            return _FINDINGS[finding]
        case RecordMeeting():
            return "identity_not_verified"
        case TakeImmediateAction():
            return "immediate_action"
        case Withdraw():
            return "withdrawn"
        case CloseNoEngagement():
            return "no_engagement"
        case RecordDecision(no_disclosure_reason=reason) if reason is not None:
            return reason
        case RecordNotice() if no_disclosure_reason is not None:
            return no_disclosure_reason
        case RecordDelivery():
            if recipient_role == "person_at_risk":
                return "disclosed_to_person_at_risk"
            return "disclosed_to_other"
    raise ValueError(f"{type(payload).__name__} does not close a request")
