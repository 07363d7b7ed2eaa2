"""Who may do what: the permission table for every endpoint and every event, and its checks.

Everything is denied unless a row below allows it. The API refuses an endpoint that has no row,
and the test suite fails when a registered endpoint or a lifecycle event is missing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

Role = Literal[
    "disclosure_officer",
    "decision_maker",
    "mapp_coordinator",
    "smb_member",
    "lay_adviser",
    "auditor",
    "admin",
]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

ROLE_DESCRIPTIONS: Final[dict[Role, str]] = {
    "disclosure_officer": "prepares cases: receives requests, meets applicants, runs checks,"
    " delivers disclosures and notices",
    "decision_maker": "decides: the only role that may record a decision, stop a disclosure,"
    " and reopen; never on a request they prepared",
    "mapp_coordinator": "runs MAPP meetings: records nominals, meetings and the disclosures they"
    " agree (the chair decides); receives MAPPA right-to-know requests and prepares them like an"
    " officer",
    "smb_member": "Strategic Management Board: statistics and anonymised decisions only",
    "lay_adviser": "SMB lay adviser: statistics and anonymised decisions only",
    "auditor": "checks the trail and who viewed what; never reads names or addresses",
    "admin": "manages user accounts; reads no cases",
}

CASEWORK: Final = frozenset({"disclosure_officer", "decision_maker", "mapp_coordinator"})
# Who receives and prepares requests.
PREPARE: Final = frozenset({"disclosure_officer", "mapp_coordinator"})
OVERSIGHT: Final = frozenset({"smb_member", "lay_adviser", "auditor"})
ANYONE: Final = frozenset(ROLES)
REPORTS: Final = frozenset({"smb_member", "lay_adviser", "auditor", "admin"})
REVIEWERS: Final = frozenset({"smb_member", "lay_adviser", "auditor"})
# Roles who always get a report with small counts suppressed, whatever they ask for.
ALWAYS_SUPPRESSED: Final = frozenset({"lay_adviser"})


@dataclass(frozen=True)
class Rule:
    """Who may call one endpoint.

    `public` endpoints take no credential (signing in, the probes). `scoped` endpoints address
    one request: a request of another area answers 404, as if it did not exist. `personal`
    marks endpoints whose answers carry personal data (names, addresses or free text): every such
    answer is put on the read trail (api/reading.py), and no oversight role may call them (but
    an auditor the search log). `own_log` marks a personal endpoint that logs its answers itself
    rather than through the read trail's middleware: a search goes on the search log, the alert
    queue puts each request it shows on that request's read trail, and a page form sent back
    with its errors shows its case again and puts that view on the read trail itself (its
    success is a redirect that shows nothing).
    `scrape` endpoints are public unless the deployment sets a scrape token
    (DISCLOSURE_METRICS_TOKEN_FILE); then they need that token.
    """

    roles: frozenset[str]
    public: bool = False
    scoped: bool = False
    personal: bool = False
    own_log: bool = False
    scrape: bool = False


# Keyed by route handler name (the function name of the handler).
ENDPOINTS: Final[dict[str, Rule]] = {
    # Signing in and out.
    "open_session": Rule(frozenset(), public=True),
    "issue_token": Rule(frozenset(), public=True),
    "close_session": Rule(ANYONE),
    "whoami": Rule(ANYONE),
    "end_other_sessions": Rule(ANYONE),
    # Casework.
    "receive": Rule(PREPARE, personal=True),
    "list_requests": Rule(CASEWORK | {"auditor"}),
    "read": Rule(CASEWORK, scoped=True, personal=True),
    "timeline": Rule(CASEWORK, scoped=True, personal=True),
    "clock": Rule(CASEWORK, scoped=True, personal=True),
    "actions": Rule(CASEWORK, scoped=True),
    "send": Rule(CASEWORK, scoped=True),
    # Finding people: a search names many requests, so it goes on the search log (its terms
    # and the requests shown) rather than one request's read trail.
    "search": Rule(CASEWORK, personal=True, own_log=True),
    # An alert names its subject: each request an answer shows goes on its read trail.
    "list_alerts": Rule(CASEWORK, personal=True, own_log=True),
    # A review is recorded on the alert (who, when, why), as an event is on its request.
    "review_alert": Rule(CASEWORK, scoped=True, personal=True, own_log=True),
    # MAPP panels: a coordinator records nominals and meetings (the chair decides, docs/mapp.md);
    # casework reads them. Nominals and meetings are personal data: every answer naming them is
    # logged on the nominal's read trail. A listing of meetings carries no names or free text.
    "create_nominal": Rule(frozenset({"mapp_coordinator"}), personal=True),
    "read_nominal": Rule(CASEWORK, scoped=True, personal=True),
    "change_nominal": Rule(frozenset({"mapp_coordinator"}), scoped=True, personal=True),
    "create_meeting": Rule(frozenset({"mapp_coordinator"}), scoped=True, personal=True),
    "list_meetings": Rule(CASEWORK),
    "read_meeting": Rule(CASEWORK, scoped=True, personal=True),
    "send_meeting_event": Rule(frozenset({"mapp_coordinator"}), scoped=True, personal=True),
    # Oversight.
    "statistics": Rule(CASEWORK | OVERSIGHT),
    "decisions": Rule(frozenset({"decision_maker", "smb_member", "lay_adviser", "auditor"})),
    "views": Rule(frozenset({"auditor"}), scoped=True),
    # The one place an auditor sees personal data: the words of each search, to check it was
    # justified. Listing the log is not itself logged.
    "list_searches": Rule(frozenset({"auditor"}), personal=True, own_log=True),
    "verify_trail": Rule(frozenset({"auditor", "admin"})),
    # The board's report of its area: figures only (lay advisers always see it suppressed).
    "annual_report": Rule(REPORTS, scoped=True),
    # Decision reviews: the board draws samples; reviewers read anonymised decisions; an
    # auditor releases one decision's names and words (on the read trail), which the board's
    # members (never lay advisers) may then read, each read on the read trail.
    "draw_review": Rule(frozenset({"smb_member"})),
    "list_reviews": Rule(REVIEWERS),
    "read_review": Rule(REVIEWERS, scoped=True),
    "review_event": Rule(REVIEWERS, scoped=True),
    "released_decision": Rule(frozenset({"smb_member"}), scoped=True, personal=True),
    # Accounts.
    "list_users": Rule(frozenset({"admin"})),
    # Operations: probes for the load balancer, and counts with no personal data or references.
    "healthz": Rule(frozenset(), public=True),
    "readyz": Rule(frozenset(), public=True),
    "metrics": Rule(frozenset(), public=True, scrape=True),
    # The web pages (api/pages/): each page calls the services its API twin does and has the
    # same rule, so the pages show no one anything the API would not.
    # Front-end assets under /assets (the static files router's handler): public, no data.
    "get_handler": Rule(frozenset(), public=True),
    "page_home": Rule(frozenset(), public=True),
    "page_sign_in": Rule(frozenset(), public=True),
    "page_sign_in_submit": Rule(frozenset(), public=True),
    "page_sign_out": Rule(ANYONE),
    "page_queue": Rule(CASEWORK),
    "page_search": Rule(CASEWORK, personal=True, own_log=True),
    "page_case": Rule(CASEWORK, scoped=True, personal=True),
    # A form sent back with its errors shows the case again: that view is logged by the page.
    "page_case_action": Rule(CASEWORK, scoped=True, personal=True, own_log=True),
    "page_new_request": Rule(PREPARE),
    # Possible duplicates shown before saving go on the search log, as a search does.
    "page_new_request_submit": Rule(PREPARE, personal=True, own_log=True),
    # The public application form: anyone, with no sign-in; it shows no request.
    "page_apply": Rule(frozenset(), public=True),
    "page_apply_submit": Rule(frozenset(), public=True),
    "page_apply_received": Rule(frozenset(), public=True),
    "page_audit": Rule(frozenset({"auditor", "admin"})),
    "page_views": Rule(frozenset({"auditor"}), scoped=True),
    "page_searches": Rule(frozenset({"auditor"}), personal=True, own_log=True),
    "page_admin": Rule(frozenset({"admin"})),
    "page_admin_add_user": Rule(frozenset({"admin"})),
    "page_admin_disable_user": Rule(frozenset({"admin"})),
    "page_admin_add_division": Rule(frozenset({"admin"})),
    "page_admin_add_area": Rule(frozenset({"admin"})),
    # Drawn from the machines: no data, for anyone signed in.
    "page_lifecycle": Rule(ANYONE),
    # MAPP panels, with the rules of the API's nominals and meetings: casework reads them, the
    # coordinator records them. A form sent back shows its nominal or meeting again and logs
    # that view itself.
    "page_mapp": Rule(CASEWORK),
    "page_new_nominal": Rule(frozenset({"mapp_coordinator"})),
    "page_new_nominal_submit": Rule(frozenset({"mapp_coordinator"})),
    "page_nominal": Rule(CASEWORK, scoped=True, personal=True),
    "page_nominal_event": Rule(frozenset({"mapp_coordinator"}), scoped=True, personal=True,
                               own_log=True),
    "page_new_meeting": Rule(frozenset({"mapp_coordinator"}), scoped=True),
    "page_new_meeting_submit": Rule(frozenset({"mapp_coordinator"}), scoped=True),
    "page_meeting": Rule(CASEWORK, scoped=True, personal=True),
    "page_meeting_event": Rule(frozenset({"mapp_coordinator"}), scoped=True, personal=True,
                               own_log=True),
    # The board's dashboard and decision reviews, with the rules of the report and review
    # endpoints: figures and anonymised decisions only.
    "page_dashboard": Rule(REPORTS),
    "page_draw_review": Rule(frozenset({"smb_member"})),
    "page_review": Rule(REVIEWERS, scoped=True),
    "page_review_event": Rule(REVIEWERS, scoped=True),
}


# Keyed by event name, or `event:variant` where the payload changes who may send it.
EVENTS: Final[dict[str, frozenset[str]]] = {
    "complete_initial_checks": PREPARE,
    "record_meeting": PREPARE,
    "record_check": PREPARE,
    "record_partner_request": PREPARE,
    "record_partner_response": PREPARE,
    "complete_checks": PREPARE,
    # Four eyes: only a decision-maker decides, whatever the decision, and the lifecycle
    # refuses anyone who prepared the request, whatever roles they hold.
    "record_decision:disclose": frozenset({"decision_maker"}),
    "record_decision:no_disclosure": frozenset({"decision_maker"}),
    "record_decision:refer": frozenset({"decision_maker"}),
    # Sent only by the service, to the request a MAPP meeting's consideration starts: the
    # coordinator records the meeting (POST /api/meetings/{id}/events), its chair decides.
    "record_panel_decision": frozenset(),
    "record_delivery": PREPARE,
    "record_non_delivery": PREPARE,
    # Only a decision-maker stops a disclosure that was decided.
    "record_non_delivery:stopped": frozenset({"decision_maker"}),
    "record_notice": PREPARE,
    "record_subject_told": PREPARE | {"decision_maker"},
    "take_immediate_action": CASEWORK,
    "extend_deadline": PREPARE | {"decision_maker"},
    # Only `disclosure clocks recompute` sends it, after a policy change; no one over HTTP.
    "recompute_clock": frozenset(),
    "withdraw": PREPARE,
    "continue_as_right_to_know": PREPARE,
    "close_no_engagement": PREPARE,
    "reopen": frozenset({"decision_maker"}),
    # Parties found or corrected during a case: casework, whoever finds it.
    "add_party": CASEWORK,
    "amend_party": CASEWORK,
}

# A decision review's events, keyed by event: findings by the board's reviewers, releases by
# an auditor, completion by a board member.
REVIEW_EVENTS: Final[dict[str, frozenset[str]]] = {
    "record_finding": frozenset({"smb_member", "lay_adviser"}),
    "release_record": frozenset({"auditor"}),
    "complete": frozenset({"smb_member"}),
}

# Who may authorise erasing an event's payload for retention (`disclosure audit erase`).
AUTHORISES_ERASURE: Final = frozenset({"admin"})

# The two outcomes of a repeat-subject alert's review, keyed by event. Starting a right-to-know
# request is receiving one; deciding that no action is needed is a decision-maker's call too.
ALERT_EVENTS: Final[dict[str, frozenset[str]]] = {
    "start_right_to_know": PREPARE | {"decision_maker"},
    "record_no_action": PREPARE | {"decision_maker"},
}

# Events no role may send over HTTP: the service's own commands send them.
SYSTEM_EVENTS: Final = frozenset(key for key, roles in EVENTS.items() if not roles)


class Denied(Exception):
    """The caller's roles do not allow this."""


def _field(payload: Any, name: str) -> Any:
    if isinstance(payload, dict):
        return payload.get(name)
    return getattr(payload, name, None)


def event_key(event: str, payload: Any = None) -> str:
    """The EVENTS row an event falls under, given its payload."""
    if event == "record_decision":
        return f"record_decision:{_field(payload, 'decision') or 'disclose'}"
    if event == "record_non_delivery" and _field(payload, "reason") == "stopped":
        return "record_non_delivery:stopped"
    return event


def endpoint_rule(handler: str) -> Rule | None:
    return ENDPOINTS.get(handler)


def may_call(roles: frozenset[str] | set[str], handler: str) -> bool:
    rule = ENDPOINTS.get(handler)
    if rule is None:
        return False
    return rule.public or bool(rule.roles & set(roles))


def may_send(roles: frozenset[str] | set[str], event: str, payload: Any = None) -> bool:
    allowed = EVENTS.get(event_key(event, payload))
    return allowed is not None and bool(allowed & set(roles))


def _some_form() -> dict[str, frozenset[str]]:
    """Each event with the roles that may send some form of it, from `EVENTS`."""
    found: dict[str, frozenset[str]] = {}
    for key, allowed in EVENTS.items():
        event = key.partition(":")[0]
        found[event] = found.get(event, frozenset()) | allowed
    return found


SOME_FORM: Final = _some_form()


def may_send_some(roles: frozenset[str] | set[str], event: str) -> bool:
    """Whether these roles may send some form of the event (a variant of record_decision)."""
    return not SOME_FORM.get(event, frozenset()).isdisjoint(roles)


def require_event(roles: frozenset[str] | set[str], event: str, payload: Any = None) -> None:
    if not may_send(roles, event, payload):
        key = event_key(event, payload)
        needed = ", ".join(sorted(EVENTS.get(key, frozenset()))) or "no role"
        raise Denied(f"{key} needs one of: {needed}")


def may_review(roles: frozenset[str] | set[str], event: str) -> bool:
    return bool(ALERT_EVENTS.get(event, frozenset()) & set(roles))


def may_act_on_review(roles: frozenset[str] | set[str], event: str) -> bool:
    return bool(REVIEW_EVENTS.get(event, frozenset()) & set(roles))


def review_event_refusal(event: str) -> str:
    needed = ", ".join(sorted(REVIEW_EVENTS.get(event, frozenset()))) or "no role"
    return f"{event} needs one of: {needed}"


def always_suppressed(roles: frozenset[str] | set[str]) -> bool:
    """Whether every report these roles read has its small counts suppressed: any role that
    is always suppressed wins over one that is not."""
    return bool(ALWAYS_SUPPRESSED & set(roles))


def review_refusal(event: str) -> str:
    needed = ", ".join(sorted(ALERT_EVENTS.get(event, frozenset()))) or "no role"
    return f"{event} needs one of: {needed}"


def trail_scope(roles: frozenset[str] | set[str], area: str) -> str | None:
    """The area whose trail a person verifies: every area (None) for an admin, else their own."""
    return None if "admin" in roles else area


def sees_personal_data(roles: frozenset[str] | set[str]) -> bool:
    """Whether any of these roles may reach an endpoint that answers with personal data."""
    return any(rule.personal and rule.roles & set(roles) for rule in ENDPOINTS.values())
