"""The lifecycle diagrams, drawn from the machines themselves as SVG (no script, no style
sheet of their own, so the CSP holds), with the same facts as a table beside each."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from html import escape
from typing import Any

from litestar import Request, Response, get

from api.pages.layout import render
from api.pages.words import option_label
from statemachines.lifecycle import ROUTE_STATES, ROUTES, Route, allowed_events, lifecycle

BOX_W, BOX_H, GAP, LEFT, NOTES_X, LINE = 230, 44, 104, 150, 420, 17


@dataclass
class StateFacts:
    """What one state of a route's machine does: events that keep it there, and where the
    others lead."""

    name: str
    stays: list[str] = field(default_factory=list)
    leads: dict[str, list[str]] = field(default_factory=dict)


def facts(route: Route) -> list[StateFacts]:
    machine = lifecycle(route)
    found = {s: StateFacts(s) for s in ROUTE_STATES[route]}
    for state in machine.states:
        for t in state.transitions:
            here = found[t.source.id]
            for event in t.event.split():
                if t.target.id == t.source.id:
                    if event not in here.stays:
                        here.stays.append(event)
                else:
                    leads = here.leads.setdefault(t.target.id, [])
                    if event not in leads:
                        leads.append(event)
    return list(found.values())


def _words(events: list[str]) -> str:
    return ", ".join(option_label(e).lower() for e in events)


def diagram(route: Route) -> str:
    """The route's states top to bottom, the way forward as arrows on the left (labelled
    with their events), and for each state what keeps it there and what closes it."""
    states = facts(route)
    order = {s.name: i for i, s in enumerate(states)}
    height = len(states) * GAP + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="app-diagram" viewBox="0 0 1100 {height}"'
        f' width="1100" height="{height}" font-family="sans-serif" role="img"'
        f' aria-labelledby="title-{route}">',
        f'<title id="title-{route}">{escape(option_label(route))}: the states a request moves'
        " through and the events that move it; the table below says the same</title>",
        '<defs><marker id="arrow-' + route + '" viewBox="0 0 10 10" refX="10" refY="5"'
        ' markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#0b0c0c"/></marker></defs>',
    ]

    def top(i: int) -> int:
        return 20 + i * GAP

    bend = 0
    for s in states:
        i = order[s.name]
        for target, events in s.leads.items():
            j = order[target]
            if target == "closed" and i != len(states) - 2 and s.name != "closed":
                continue
            if j == i + 1:
                x = LEFT + BOX_W // 2
                parts.append(f'<line x1="{x}" y1="{top(i) + BOX_H}" x2="{x}" y2="{top(j)}"'
                             f' stroke="#0b0c0c" stroke-width="2"'
                             f' marker-end="url(#arrow-{route})"/>')
                parts.append(f'<text x="{x + 8}" y="{top(i) + BOX_H + 26}" font-size="13"'
                             f' fill="#0b0c0c">{escape(_words(events))}</text>')
            else:
                bend += 1
                x = LEFT - 18 * bend
                y1, y2 = top(i) + BOX_H // 2, top(j) + BOX_H // 2
                parts.append(f'<path d="M {LEFT} {y1} H {x} V {y2} H {LEFT}" fill="none"'
                             f' stroke="#505a5f" stroke-width="2"'
                             f' marker-end="url(#arrow-{route})"/>')
                parts.append(f'<text x="{max(x - 6, 2)}" y="{(y1 + y2) // 2}" font-size="13"'
                             f' fill="#505a5f" text-anchor="end">'
                             f'{escape(_words(events))}</text>' if x > 60 else
                             f'<text x="4" y="{(y1 + y2) // 2 - 6}" font-size="13"'
                             f' fill="#505a5f">{escape(_words(events))}</text>')
    for s in states:
        i = order[s.name]
        parts.append(f'<rect x="{LEFT}" y="{top(i)}" width="{BOX_W}" height="{BOX_H}" rx="6"'
                     f' fill="#f3f2f1" stroke="#0b0c0c" stroke-width="2"/>')
        parts.append(f'<text x="{LEFT + BOX_W // 2}" y="{top(i) + 28}" font-size="17"'
                     f' font-weight="bold" text-anchor="middle" fill="#0b0c0c">'
                     f'{escape(option_label(s.name))}</text>')
        notes = []
        if s.stays:
            notes.append("stays: " + _words(s.stays))
        closing = s.leads.get("closed", [])
        if closing and s.name != "closed":
            notes.append("closes: " + _words(closing))
        lines = [line for note in notes for line in textwrap.wrap(note, 95)]
        for k, line in enumerate(lines[:5]):
            parts.append(f'<text x="{NOTES_X}" y="{top(i) + 14 + k * LINE}" font-size="13"'
                         f' fill="#0b0c0c">{escape(line)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def table(route: Route) -> list[tuple[str, list[str]]]:
    """Each state with the events it takes."""
    return [(state, list(allowed_events(route, state))) for state in ROUTE_STATES[route]]


@get("/lifecycle")
async def page_lifecycle(request: Request[Any, Any, Any]) -> Response[str]:
    return render(request, "lifecycle.html", routes=[
        {"route": route, "svg": diagram(route), "table": table(route), "facts": facts(route)}
        for route in ROUTES
    ])
