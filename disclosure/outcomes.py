"""How a closing event and the records behind it give the request's outcome code."""

from __future__ import annotations

from collections.abc import Iterable

from disclosure.schemas import (
    CloseNoEngagement,
    CompleteInitialChecks,
    ContinueAsRightToKnow,
    EventIn,
    RecordDecision,
    RecordDelivery,
    RecordMeeting,
    RecordNonDelivery,
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
    "disclosure_not_delivered",
    "referred_safeguarding",
)
_FINDINGS = {
    "out_of_scope": "not_progressed_criteria",
    "duplicate": "not_progressed_duplicate",
    "referred_safeguarding": "referred_safeguarding",
}
# A right-to-ask request carried on as right to know closes for the reason its applicant went.
_CONTINUED = {
    "applicant_withdrew": "withdrawn",
    "identity_not_verified": "identity_not_verified",
    "no_engagement": "no_engagement",
}


def decided_outcome(
    decision: str, *, no_disclosure_reason: str | None, delivered_to: Iterable[str] = ()
) -> str:
    """The outcome a decision leads to once it is settled.

    `delivered_to` is the roles of the parties a disclosure was delivered to: the person at
    risk first, anyone else next; a disclosure delivered to no one was not made.
    """
    if decision == "no_disclosure" and no_disclosure_reason is not None:
        return no_disclosure_reason
    if decision == "refer":
        return "referred_safeguarding"
    roles = set(delivered_to)
    if "person_at_risk" in roles:
        return "disclosed_to_person_at_risk"
    return "disclosed_to_other" if roles else "disclosure_not_delivered"


def outcome_of(payload: EventIn, *, decided: str | None) -> str:
    """The outcome of a request closed by this event.

    `decided` is what the request's decision came to (`decided_outcome`), for the events that
    close a request on its decision: the decision itself, the last delivery or non-delivery,
    the notice.
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
        case ContinueAsRightToKnow(reason=reason):
            return _CONTINUED[reason]
        case CloseNoEngagement():
            return "no_engagement"
        case RecordDecision() | RecordNotice() | RecordDelivery() | RecordNonDelivery() if (
            decided is not None
        ):
            return decided
    raise ValueError(f"{type(payload).__name__} does not close a request")
