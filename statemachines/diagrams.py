"""The lifecycle documentation, drawn from the machines so it cannot drift from them."""

from __future__ import annotations

from pathlib import Path

from statemachine.contrib.diagram import MermaidGraphMachine

from statemachines import alerts, meeting, reviews
from statemachines.lifecycle import (
    EVENTS,
    ROUTE_STATES,
    ROUTES,
    TRANSITIONS,
    Guards,
    Route,
    allowed_events,
    lifecycle,
)

TITLES: dict[Route, str] = {"right_to_ask": "Right to ask", "right_to_know": "Right to know"}

INTRO = """\
# Request lifecycles

Generated from `statemachines/lifecycle.py`, `statemachines/alerts.py` and
`statemachines/meeting.py` and `statemachines/reviews.py` by `disclosure diagrams`; do not
edit by hand (`disclosure diagrams --check` fails when this file is out of date).

Each route has its own machine. An arrow is labelled with its event; a name in brackets is the
condition that picks that arrow (`!` means the condition is false), and the unlabelled arrow of
the same event is taken otherwise. Guards that refuse an event outright are not drawn: they are
listed under [Guards](#guards), and a refused event (409, naming the rule) leaves the request
where it was. The extension cap is the clock policy's ([clocks.md](clocks.md)); who may receive
a disclosure is the recipient policy's ([decisions.md](decisions.md)).

`add_party` and `amend_party` change the people in a request while it is open; the trail keeps
each amendment's old values. `reopen` takes a reason category and keeps the earlier closure and
its outcome; see [clocks.md](clocks.md) for the times every event carries and the fresh clock of
a reopened request.
"""


def _diagram(route: Route) -> str:
    # python-statemachine ships its diagram helpers without type hints.
    graph = MermaidGraphMachine(lifecycle(route))  # type: ignore[no-untyped-call]
    return str(graph()).strip()


def _allowed_in(route: Route) -> str:
    states = ROUTE_STATES[route]
    rows = ["| event | allowed in |", "|---|---|"]
    for event in EVENTS:
        where = [s for s in states if event in allowed_events(route, s)]
        if where:
            names = ", ".join(f"`{s}`" for s in where)
            rows.append(f"| `{event}` | {names} |")
    return "\n".join(rows)


ALERT_INTRO = """\
## Repeat-subject alert

Drawn from `statemachines/alerts.py`. An alert is raised open when a subject is named in enough
requests within the policy's window ([search.md](search.md)); a review closes it either by
starting a right-to-know request linked to every request alerted on, or by recording that no
action is needed, with the reason.
"""


def _alert_diagram() -> str:
    graph = MermaidGraphMachine(alerts.AlertLifecycle)  # type: ignore[no-untyped-call]
    rows = ["| event | allowed in |", "|---|---|"]
    for event in alerts.EVENTS:
        where = [s for s in alerts.STATES if event in alerts.allowed_events(s)]
        rows.append(f"| `{event}` | {', '.join(f'`{s}`' for s in where)} |")
    return f"```mermaid\n{str(graph()).strip()}\n```\n\n" + "\n".join(rows) + "\n"


MEETING_INTRO = """\
## MAPP meeting

Drawn from `statemachines/meeting.py`. A Level 2 or 3 MAPP meeting is recorded as a draft; its
minutes take the disclosure consideration (once: the disclosures it agrees become right-to-know
requests awaiting delivery at once, each receiving `record_panel_decision`) and action points,
and are finalised only once the consideration is recorded. After that only an amendment with a
reason changes them; every event goes on the nominal's trail ([mapp.md](mapp.md)).
"""


def _meeting_diagram() -> str:
    graph = MermaidGraphMachine(meeting.MeetingLifecycle)  # type: ignore[no-untyped-call]
    rows = ["| event | allowed in |", "|---|---|"]
    for event in meeting.EVENTS:
        where = [s for s in meeting.STATES if event in meeting.allowed_events(s)]
        rows.append(f"| `{event}` | {', '.join(f'`{s}`' for s in where)} |")
    guards = ["| guard | checked on | refuses unless |", "|---|---|---|"]
    guards += [f"| `{name}` | `{event}` | {doc} |" for name, event, doc in meeting.guards()]
    return (f"```mermaid\n{str(graph()).strip()}\n```\n\n" + "\n".join(rows) + "\n\n"
            + "\n".join(guards) + "\n")


REVIEW_INTRO = """\
## Decision review

Drawn from `statemachines/reviews.py`. The Strategic Management Board draws a sample of an
area's decisions of a period (`POST /api/reviews`), stratified by outcome and reproducible from
its seed. Each reviewer records one finding per decision (`defensible`, `concerns` or
`learning_point`) with notes; an auditor may release a decision's names and free text to the
board's members, a release that goes on the request's read trail; the review is completed once
every sampled decision has a finding. Who may send each event is the permission table's
(`REVIEW_EVENTS` in disclosure/access.py).
"""


def _review_diagram() -> str:
    graph = MermaidGraphMachine(reviews.ReviewLifecycle)  # type: ignore[no-untyped-call]
    rows = ["| event | allowed in |", "|---|---|"]
    for event in reviews.EVENTS:
        where = [s for s in reviews.STATES if event in reviews.allowed_events(s)]
        rows.append(f"| `{event}` | {', '.join(f'`{s}`' for s in where)} |")
    return f"```mermaid\n{str(graph()).strip()}\n```\n\n" + "\n".join(rows) + "\n"


def _guards() -> str:
    rows = ["| guard | checked on | refuses unless |", "|---|---|---|"]
    seen: dict[str, list[str]] = {}
    for row in TRANSITIONS:
        for name in row.validators:
            events = seen.setdefault(name, [])
            if row.event not in events:
                events.append(row.event)
    for name, events in seen.items():
        doc = " ".join((getattr(Guards, name).__doc__ or "").split())
        rows.append(f"| `{name}` | {', '.join(f'`{e}`' for e in events)} | {doc} |")
    return "## Guards\n\n" + "\n".join(rows) + "\n"


def render() -> str:
    """The whole text of docs/lifecycle.md."""
    sections = [INTRO]
    for route in ROUTES:
        sections.append(
            f"## {TITLES[route]}\n\n```mermaid\n{_diagram(route)}\n```\n\n"
            f"### Events and the states that take them\n\n{_allowed_in(route)}\n"
        )
    sections.append(_guards())
    sections.append(f"{ALERT_INTRO}\n{_alert_diagram()}")
    sections.append(f"{MEETING_INTRO}\n{_meeting_diagram()}")
    sections.append(f"{REVIEW_INTRO}\n{_review_diagram()}")
    return "\n".join(sections)


def write(path: Path) -> bool:
    """Write the document to path; whether the file changed."""
    text = render()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def check(path: Path) -> bool:
    """Whether the file at path is exactly what render() gives."""
    return path.exists() and path.read_text(encoding="utf-8") == render()
