"""What the payloads refuse before the lifecycle sees them: each with the field it names."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from disclosure.schemas import PAYLOADS, PartyIn
from tests.factories import body, recipient


def refused(event: str, **fields: Any) -> str:
    with pytest.raises(msgspec.ValidationError) as error:
        msgspec.convert(body(event, **fields), PAYLOADS[event])
    return str(error.value)


def test_a_disclosure_names_its_recipients_once_each() -> None:
    assert refused("record_decision", recipients=[]).startswith(
        "recipients: a disclosure names at least one recipient")
    assert refused("record_decision", recipients=[recipient(), recipient()]).startswith(
        "recipients: each party is named once")
    assert refused("record_decision", decision="no_disclosure",
                   recipients=[recipient()]).startswith(
        "recipients: a no_disclosure decision discloses nothing")


def test_a_referral_names_where_it_goes() -> None:
    assert refused("record_decision", decision="refer", referred_to=None).startswith(
        "referred_to: required for a refer decision")


def test_rank_and_agency_are_codes() -> None:
    assert "decision_maker_role" in refused("record_decision",
                                            decision_maker_role="Detective Inspector")
    assert "attendees[0].agency" in refused(
        "record_decision", attendees=[{"name": "A. Patel", "agency": "IDVA service"}])
    assert "decision_maker" in refused("record_decision", decision_maker="DI Typed")


def test_delivery_reasons_are_recorded() -> None:
    assert refused("record_delivery", confidentiality_explained=False).startswith(
        "confidentiality_reason: say why confidentiality was not explained")
    assert refused("record_delivery", undertaking="refused").startswith(
        "undertaking_decided_by: who decided to go ahead")
    assert refused("record_non_delivery", reason="undertaking_refused").startswith(
        "decided_by: who decided not to go ahead")


def test_a_notice_says_what_safety_advice_was_given() -> None:
    assert refused("record_notice", safety_advice=None).startswith(
        "safety_advice: say what safety advice was given")
    assert "told" in refused("record_notice", told="everything")


def test_an_urgent_disclosure_names_its_authoriser_as_a_username() -> None:
    urgent = {"recipient_party_id": 2, "wording": "He has hurt a partner.",
              "delivered_by": "PC Example", "delivered_at": "2026-11-02T12:30:00Z",
              "authorised_by": "Supt Redfern", "authoriser_rank": "superintendent"}
    assert "urgent_disclosure.authorised_by" in refused(
        "take_immediate_action", urgent_disclosure=urgent)


@pytest.mark.parametrize(("party", "message"), [
    ({"role": "recipient", "kind": "organisation", "name": "Acme Ltd", "sex": "male"},
     "sex: an organisation has none"),
    ({"role": "subject", "kind": "organisation", "name": "Acme Ltd"},
     "kind: only a recipient can be an organisation"),
    ({"role": "recipient", "name": "Jo", "relationship_code": "employer"},
     "relationship_code: employer is not a code for a person"),
    ({"role": "child", "name": "Jo", "registered_sex_offender": True},
     "registered_sex_offender: only a subject carries the flag"),
])
def test_parties_are_people_or_organisations(party: dict[str, Any], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert(party, PartyIn)
