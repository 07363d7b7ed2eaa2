"""Fixed vocabularies of codes: ranks, agencies and relationships.

Oversight roles are shown only these codes, never the words a person typed, so a code list is
the whole of what a lay adviser can read about who decided and who attended.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

# The grade of whoever makes a decision or authorises an urgent disclosure. Police ranks first;
# MAPP meetings are also chaired by probation and prison managers of equivalent seniority.
Rank = Literal[
    "sergeant",
    "inspector",
    "chief_inspector",
    "superintendent",
    "chief_superintendent",
    "assistant_chief_constable",
    "probation_senior_manager",
    "prison_governor",
    "other",
]
RANKS: Final[tuple[Rank, ...]] = get_args(Rank)

# The agencies that sit on a DVDS panel, a MARAC or a MAPP meeting.
Agency = Literal[
    "police",
    "probation",
    "prisons",
    "youth_justice",
    "childrens_social_care",
    "adult_social_care",
    "health",
    "mental_health",
    "education",
    "housing",
    "idva_service",
    "specialist_domestic_abuse_service",
    "jobcentre_plus",
    "other",
]
AGENCIES: Final[tuple[Agency, ...]] = get_args(Agency)

# How a party stands to the person at risk or the child: the recipient rules are written in
# these codes. A person's codes come first, then an organisation's.
PersonRelationship = Literal[
    "self",
    "parent",
    "guardian",
    "carer",
    "partner",
    "ex_partner",
    "sibling",
    "grandparent",
    "other_relative",
    "friend",
    "neighbour",
    "professional",
    "other_person",
]
OrganisationRelationship = Literal[
    "employer",
    "school",
    "college",
    "faith_group",
    "sports_club",
    "landlord",
    "accommodation_provider",
    "other_organisation",
]
Relationship = Literal[PersonRelationship, OrganisationRelationship]
PERSON_RELATIONSHIPS: Final[tuple[PersonRelationship, ...]] = get_args(PersonRelationship)
ORGANISATION_RELATIONSHIPS: Final[tuple[OrganisationRelationship, ...]] = get_args(
    OrganisationRelationship
)

PartyKind = Literal["person", "organisation"]
