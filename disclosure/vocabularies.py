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

# Ethnic group, in the categories of the ONS 2021 Census of England and Wales: the nineteen
# detailed groups, then a group-level code for where only the high-level group was recorded,
# then `not_stated` for a person who did not say.
Ethnicity = Literal[
    "asian_bangladeshi",
    "asian_chinese",
    "asian_indian",
    "asian_pakistani",
    "asian_other",
    "black_african",
    "black_caribbean",
    "black_other",
    "mixed_white_and_asian",
    "mixed_white_and_black_african",
    "mixed_white_and_black_caribbean",
    "mixed_other",
    "white_british",
    "white_irish",
    "white_gypsy_or_irish_traveller",
    "white_roma",
    "white_other",
    "other_arab",
    "other_any_other",
    "asian",
    "black",
    "mixed",
    "white",
    "other",
    "not_stated",
]
ETHNICITIES: Final[tuple[Ethnicity, ...]] = get_args(Ethnicity)

# The five high-level groups of the census, which the equality tables count by, with their
# census names.
ETHNIC_GROUPS: Final[dict[str, str]] = {
    "asian": "Asian, Asian British or Asian Welsh",
    "black": "Black, Black British, Black Welsh, Caribbean or African",
    "mixed": "Mixed or Multiple ethnic groups",
    "white": "White",
    "other": "Other ethnic group",
    "not_stated": "Not stated",
}

# The census name of each detailed group: what the migration from free text matches.
ETHNICITY_NAMES: Final[dict[str, str]] = {
    "asian_bangladeshi": "Bangladeshi",
    "asian_chinese": "Chinese",
    "asian_indian": "Indian",
    "asian_pakistani": "Pakistani",
    "asian_other": "Other Asian",
    "black_african": "African",
    "black_caribbean": "Caribbean",
    "black_other": "Other Black",
    "mixed_white_and_asian": "White and Asian",
    "mixed_white_and_black_african": "White and Black African",
    "mixed_white_and_black_caribbean": "White and Black Caribbean",
    "mixed_other": "Other Mixed or Multiple ethnic groups",
    "white_british": "English, Welsh, Scottish, Northern Irish or British",
    "white_irish": "Irish",
    "white_gypsy_or_irish_traveller": "Gypsy or Irish Traveller",
    "white_roma": "Roma",
    "white_other": "Other White",
    "other_arab": "Arab",
    "other_any_other": "Any other ethnic group",
}


def ethnic_group(code: str | None) -> str | None:
    """The high-level census group of a code (None: not recorded)."""
    if code is None:
        return None
    return code.partition("_")[0] if code != "not_stated" else code
