"""Who may receive a disclosure: the recipient rules of each scheme, by version.

The table is the only place the rule is written; the decision's guard and the urgent
disclosure's guard read it through `eligibility`, and docs/lifecycle.md describes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from disclosure.policy import LONDON, PolicyError
from disclosure.vocabularies import ORGANISATION_RELATIONSHIPS, PERSON_RELATIONSHIPS
from statemachines.lifecycle import Eligibility

# Never a recipient, whatever the scheme: the person the information is about, whoever
# referred the case, and a child.
NEVER: Final = frozenset({"subject", "referrer", "child"})


@dataclass(frozen=True)
class RecipientRule:
    """One scheme's recipients from one effective date (London local)."""

    scheme: str
    effective_from: date
    eligibility: Eligibility


def _rule(scheme: str, since: date, words: str, *, by_role: frozenset[str],
          usual: tuple[str, ...] = (), exceptional: tuple[str, ...] = ()) -> RecipientRule:
    return RecipientRule(scheme, since, Eligibility(
        rule=words, never=NEVER, by_role=by_role,
        relationships={**dict.fromkeys(usual, False), **dict.fromkeys(exceptional, True)},
    ))


_DVDS = (
    "DVDS: the person at risk; exceptionally a parent or guardian of a young person at risk, or"
    " the carer of a vulnerable adult, who is better placed to protect them, with the reason"
    " recorded"
)
_CSODS = "CSODS: only a parent, carer or guardian of the child, who is best placed to protect them"
_MAPPA = (
    "MAPPA: a third party the meeting names, a person or an organisation (employer, school,"
    " college, faith group, sports club, landlord, accommodation provider)"
)
_MAPPA_NAMED = tuple(
    code for code in (*PERSON_RELATIONSHIPS, *ORGANISATION_RELATIONSHIPS) if code != "self"
)

RULES: Final[tuple[RecipientRule, ...]] = (
    # The DVDS rule is the same in the 2016 guidance and the 2023 statutory guidance.
    _rule("dvds", date(2014, 3, 8), _DVDS, by_role=frozenset({"person_at_risk"}),
          exceptional=("parent", "guardian", "carer")),
    _rule("csods", date(2010, 8, 1), _CSODS, by_role=frozenset(),
          usual=("parent", "carer", "guardian")),
    _rule("mappa", date(2009, 1, 1), _MAPPA, by_role=frozenset({"person_at_risk"}),
          usual=_MAPPA_NAMED),
)


def eligibility(scheme: str, received_at: datetime) -> Eligibility:
    """The recipient rule in force for a request of `scheme` received at `received_at`."""
    day = received_at.astimezone(LONDON).date()
    found = [r for r in RULES if r.scheme == scheme and r.effective_from <= day]
    if not found:
        raise PolicyError(f"no {scheme} recipient rule was in force on {day.isoformat()}")
    return max(found, key=lambda r: r.effective_from).eligibility
