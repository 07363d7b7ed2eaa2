"""Whatever events arrive, in whatever order, a request and its trail stay consistent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from disclosure import audit
from disclosure.errors import EventNotAllowed, GuardRefused, InvalidInput
from disclosure.models import PartnerRequest, Request
from disclosure.outcomes import OUTCOMES
from disclosure.schemas import PAYLOADS, RequestView
from disclosure.workflow import Workflow
from statemachines.lifecycle import ROUTE_STATES, ROUTES, Route
from tests.conftest import FakeClock
from tests.factories import NO_DISCLOSURE, new, payload
from tests.factories import recipient as factory_recipient

ACTORS = ("officer.ann", "inspector.bob", "sergeant.cat")
EVENTS = sorted(PAYLOADS)
# In scope more often than not, as in life, so that most requests go on.
FINDINGS: list[dict[str, Any]] = [
    {"finding": "in_scope"},
    {"finding": "in_scope"},
    {"finding": "in_scope"},
    {"finding": "out_of_scope"},
    {"finding": "duplicate", "duplicate_of": "DVDS-2026-000001"},
    {"finding": "referred_safeguarding", "referred_to": "childrens_social_care"},
]


async def partner_requests(workflow: Workflow, reference: str) -> list[int]:
    async with workflow.db.read() as session:
        return list(
            await session.scalars(
                select(PartnerRequest.id)
                .join(Request, Request.id == PartnerRequest.request_id)
                .where(Request.reference == reference)
            )
        )


async def fields_for(
    data: st.DataObject, workflow: Workflow, event: str, view: RequestView
) -> dict[str, Any]:
    """Overrides that make a valid payload, with the choices that steer its guards and branches."""
    # Any party may be named, but mostly the one at risk, so that disclosures get delivered.
    at_risk = [p.id for p in view.parties if p.role in ("person_at_risk", "child")]
    recipient = st.sampled_from([*at_risk * 3, *(p.id for p in view.parties)])
    match event:
        case "complete_initial_checks":
            return data.draw(st.sampled_from(FINDINGS))
        case "record_meeting":
            return {"identity_verified": data.draw(st.sampled_from([True, True, False]))}
        case "record_decision":
            csods = {"presumption_applies": True} if view.scheme == "csods" else {}
            decision = data.draw(st.sampled_from(["disclose", "disclose", "no_disclosure",
                                                  "refer"]))
            if decision == "disclose":
                return {"recipients": [factory_recipient(data.draw(recipient))], **csods}
            if decision == "refer":
                return {"decision": "refer", **csods}
            reason = data.draw(st.sampled_from(["no_information", "not_necessary_proportionate"]))
            return {**NO_DISCLOSURE, "no_disclosure_reason": reason, **csods}
        case "record_delivery" | "record_non_delivery":
            return {"recipient_party_id": data.draw(recipient)}
        case "record_partner_response":
            # One this request never asked, or one already answered, must be refused.
            known = await partner_requests(workflow, view.reference)
            return {"partner_request_id": data.draw(st.sampled_from([*known, 10_000]))}
        case "take_immediate_action":
            leaves = data.draw(st.sampled_from([False, False, True]))
            if not data.draw(st.booleans()):
                return {"leaves_scheme": leaves}
            # No account exists here, so every authoriser named must be refused.
            return {"leaves_scheme": leaves, "urgent_disclosure": {
                "recipient_party_id": data.draw(recipient), "wording": "He has hurt a partner.",
                "delivered_by": "PC Example", "delivered_at": "2026-11-02T12:30:00Z",
                "authorised_by": data.draw(st.sampled_from(ACTORS)),
                "authoriser_rank": "superintendent"}}
        case "extend_deadline":
            return {"days": data.draw(st.integers(min_value=1, max_value=60))}
    return {}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    route=st.sampled_from(ROUTES),
    scheme=st.sampled_from(["dvds", "csods"]),
    length=st.integers(min_value=0, max_value=25),
    data=st.data(),
)
async def test_any_sequence_of_events_keeps_the_request_consistent(
    workflow: Workflow, clock: FakeClock, route: Route, scheme: str, length: int,
    data: st.DataObject,
) -> None:
    # After the factories' example dates, so that deliveries are not in the future.
    clock.current = datetime(2026, 11, 12, 12, 0, tzinfo=UTC)
    view = await workflow.create(new(scheme, route), actor=ACTORS[0])
    reference = view.reference
    accepted = 0
    for _ in range(length):
        # Mostly the state's own next steps (listed first), so that requests get deep into the
        # lifecycle; else anything the case page offers, or any event at all.
        offered = [a.event for a in (await workflow.actions(reference)).actions]
        choices = data.draw(st.sampled_from([offered[:2], offered[:2], offered, EVENTS]))
        event = data.draw(st.sampled_from(choices))
        fields = await fields_for(data, workflow, event, view)
        try:
            await workflow.apply(reference, payload(event, **fields),
                                 actor=data.draw(st.sampled_from(ACTORS)),
                                 expected_version=accepted + 1)
        except (EventNotAllowed, GuardRefused, InvalidInput):
            continue
        accepted += 1

    after = await workflow.get(reference)
    assert after.state in ROUTE_STATES[route]
    if after.state == "closed":
        assert after.outcome in OUTCOMES
    else:
        assert after.outcome is None
    trail = await workflow.events(reference)
    assert [e.seq for e in trail] == list(range(1, accepted + 2))
    assert after.version == len(trail)
    assert trail[-1].to_state == after.state
    verdict = await audit.verify(workflow.db)
    assert verdict.ok, verdict
