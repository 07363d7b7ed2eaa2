"""Payloads for tests: a request and every event, with realistic defaults."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from disclosure.schemas import PAYLOADS, EventIn, NewRequest

AT = "2026-11-02T09:00:00Z"


def new_request(
    scheme: str = "dvds", route: str = "right_to_ask", **overrides: Any
) -> dict[str, Any]:
    """A DVDS right-to-ask application by the person at risk's mother, unless told otherwise."""
    at_risk = "child" if scheme == "csods" else "person_at_risk"
    parties: list[dict[str, Any]] = [
        {"role": "subject", "name": "Mark Sample", "sex": "male", "age_band": "35_44"},
    ]
    if scheme != "mappa":
        parties.append({"role": at_risk, "name": "Amy Sample", "sex": "female",
                        "age_band": "25_34", "address": "1 Example Street, Derby"})
    if route == "right_to_ask":
        parties.append({
            "role": "applicant", "name": "Jane Sample", "relationship": "mother",
            "relationship_code": "parent",
            "safe_contact": {"method": "phone", "details": "07700 900123", "times": "after 6pm"},
        })
    else:
        parties.append({"role": "referrer", "name": "PC 1234 Example", "relationship": "officer"})
    body: dict[str, Any] = {
        "scheme": scheme, "route": route, "area": "derbyshire",
        "received_at": AT, "channel": "online" if route == "right_to_ask" else "partner_agency",
        "summary": "Concern about a new partner's history", "parties": parties,
    }
    body.update(overrides)
    return body


def new(scheme: str = "dvds", route: str = "right_to_ask", **overrides: Any) -> NewRequest:
    return msgspec.convert(new_request(scheme, route, **overrides), NewRequest)


def body(event: str, **overrides: Any) -> dict[str, Any]:
    """A valid JSON body for an event; overrides replace fields."""
    defaults = DEFAULTS.get(event, {})
    if event == "record_decision" and overrides.get("decision") in ("no_disclosure", "refer"):
        defaults = _decision(overrides["decision"])
    base: dict[str, Any] = {"event": event, **defaults}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def payload(event: str, **overrides: Any) -> EventIn:
    return msgspec.convert(body(event, **overrides), PAYLOADS[event])


WORDING = "Mark Sample has a conviction for assaulting a former partner."


def recipient(party_id: int = 2, **overrides: Any) -> dict[str, Any]:
    """One recipient of a decision to disclose: party 2 is the person at risk of `new()`."""
    return {
        "party_id": party_id, "rationale": "She is the person at risk", "wording": WORDING,
        "discloser": "PC Example", "method": "In person at her home, with an IDVA",
        "deliver_by": "2026-11-20T17:00:00Z", **overrides,
    }


def _decision(decision: str) -> dict[str, Any]:
    met = decision == "disclose"
    answer = {"met": met, "rationale": "Recorded reasoning"}
    fields: dict[str, Any] = {
        "forum": "dvds_panel", "decided_at": "2026-11-05T10:00:00Z", "chair": "DI Example",
        "attendees": [{"name": "IDVA Example", "agency": "idva_service"}],
        "decision_maker_role": "inspector", "decision": decision,
        "legal_test": {"lawful": {"met": True, "rationale": "Common law power"},
                       "pressing_need": answer, "necessary": answer, "proportionate": answer,
                       "data_protection_considered": True,
                       "rehabilitation_of_offenders_considered": True},
        "subject_views_sought": False,
        "subject_views_reason": "Seeking them would put the person at risk in danger",
        "subject_to_be_told": False,
    }
    if decision == "disclose":
        fields |= {"recipients": [recipient()], "safeguarding_actions": ["idva"]}
    elif decision == "refer":
        fields["referred_to"] = "marac"
    else:
        fields["no_disclosure_reason"] = "not_necessary_proportionate"
    return fields


DEFAULTS: dict[str, dict[str, Any]] = {
    # Events without a time of their own say when they happened, so that the events after
    # them, each with its own time, follow in order.
    "complete_initial_checks": {"finding": "in_scope", "immediate_risk": False,
                                "occurred_at": "2026-11-02T12:00:00Z"},
    "record_meeting": {"held_at": "2026-11-03T10:00:00Z", "held_by": "PC Example",
                       "identity_verified": True, "documents_seen": ["passport", "utility_bill"]},
    "record_check": {"source": "pnc", "information_held": True, "summary": "One conviction",
                     "checked_at": "2026-11-04T10:00:00Z"},
    "record_partner_request": {"agency": "probation", "asked": "Any history held?",
                               "asked_at": "2026-11-04T10:00:00Z",
                               "due_at": "2026-11-11T10:00:00Z"},
    "record_partner_response": {"partner_request_id": 1, "responded_at": "2026-11-05T10:00:00Z",
                                "information_held": False, "response": "Nothing held"},
    "complete_checks": {"summary": "Checks complete", "occurred_at": "2026-11-04T12:00:00Z"},
    "record_decision": _decision("disclose"),
    "record_panel_decision": _decision("disclose") | {"forum": "mapp_level_3",
                                                      "chair": "Ch Supt Example",
                                                      "decision_maker_role":
                                                      "chief_superintendent"},
    "record_delivery": {"delivered_at": "2026-11-06T15:00:00Z", "location": "Her home",
                        "delivered_by": "PC Example", "recipient_party_id": 2,
                        "words_used": WORDING, "confidentiality_explained": True,
                        "undertaking": "signed", "safety_plan_made": True, "referrals": ["idva"]},
    "record_non_delivery": {"recipient_party_id": 2, "reason": "declined",
                            "at": "2026-11-06T15:00:00Z",
                            "notes": "Did not want to hear it"},
    "record_notice": {"given_at": "2026-11-06T15:00:00Z", "given_by": "PC Example",
                      "method": "in_person", "safety_advice_given": True,
                      "safety_advice": "How to contact the police and the IDVA service"},
    "record_subject_told": {"told_at": "2026-11-07T10:00:00Z", "told_by": "PC Example",
                            "method": "in_person",
                            "what": "That a disclosure about him was made to protect someone"},
    "take_immediate_action": {"action": "Officers attended", "taken_at": "2026-11-02T13:00:00Z",
                              "leaves_scheme": False},
    "extend_deadline": {"days": 7, "category": "partner_agency_delay",
                        "reason": "Probation have not answered"},
    "recompute_clock": {"reason": "policy override policy.toml"},
    "withdraw": {"reason": "Applicant asked to stop"},
    "continue_as_right_to_know": {"reason": "applicant_withdrew",
                                  "risk": "The subject's history still puts her at risk"},
    "close_no_engagement": {"attempts": 3, "reason": "No answer on the safe number"},
    "reopen": {"category": "new_information", "reason": "New information received"},
    "add_party": {"party": {"role": "recipient", "name": "Mary Sample", "sex": "female",
                            "relationship": "grandmother and guardian of the person at risk",
                            "relationship_code": "guardian"},
                  "reason": "Better placed to protect her than the applicant"},
    "amend_party": {"party_id": 1, "changes": {"date_of_birth": "1988-04-01"},
                    "reason": "Date of birth corrected from his passport"},
}

NO_DISCLOSURE = _decision("no_disclosure")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# MAPPA --------------------------------------------------------------------------------------

LEGAL_TEST = _decision("disclose")["legal_test"]


def new_nominal(**overrides: Any) -> dict[str, Any]:
    """A Level 3 category 1 nominal in the community, managed since January."""
    return {
        "area": "derbyshire", "reference": "VISOR-18-004711", "name": "Darren Cole",
        "category": 1, "level": 3, "lead_agency": "probation", "rosh": "very_high",
        "location": "community", "managed_from": "2026-01-05T09:00:00Z", **overrides,
    }


def new_meeting(nominal_id: int, **overrides: Any) -> dict[str, Any]:
    """A Level 3 review meeting held on 1 October 2026."""
    return {
        "nominal_id": nominal_id, "kind": "review", "held_at": "2026-10-01T10:00:00Z",
        "chair": "Ch Supt Ann Ward", "chair_rank": "chief_superintendent",
        "attendees": [{"name": "DS Kay Lowe", "agency": "police"},
                      {"name": "Sam Reid", "agency": "probation"},
                      {"name": "Pat Moss", "agency": "housing"}],
        "confidentiality_statement_read": True,
        "action_points": [{"action": "Home visit to check the address", "owner_agency": "police",
                           "owner": "DS Kay Lowe", "due_at": "2026-10-15T17:00:00Z"}],
        **overrides,
    }


def agreed_recipient(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Lisa Grant", "relationship": "new partner", "relationship_code": "partner",
        "rationale": "She lives with him and has two children",
        "wording": "Darren Cole has convictions for sexual offences against children.",
        "deliverer": "DS Kay Lowe", "deliverer_agency": "police", "method": "in_person",
        "deliver_by": "2026-11-10T17:00:00Z", **overrides,
    }


def consideration(**overrides: Any) -> dict[str, Any]:
    """The meeting agrees two disclosures: to his new partner, by the police, and to her
    employer (a nursery), by probation, with different dates."""
    partner = {"recipients": [agreed_recipient()], "legal_test": LEGAL_TEST}
    employer = {"recipients": [agreed_recipient(
        name="Little Acorns Nursery", kind="organisation", relationship="her employer",
        relationship_code="employer", rationale="She works with children there",
        wording="Lisa Grant's partner is a registered sex offender who may collect children.",
        deliverer="Sam Reid", deliverer_agency="probation", method="letter",
        deliver_by="2026-11-20T17:00:00Z",
    )], "legal_test": LEGAL_TEST}
    return {
        "event": "record_consideration", "decision": "disclose",
        "disclosures": [partner, employer], "representations_sought": True,
        "representations": "He says she knows about his past", **overrides,
    }
