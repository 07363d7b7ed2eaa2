"""The words the pages show for the codes the domain uses: `dvds_panel` is "DVDS panel"."""

from __future__ import annotations

from typing import Final

# Initialisms and names a plain "replace underscores" would spell wrong.
WORDS: Final[dict[str, str]] = {
    "dvds": "DVDS", "csods": "CSODS", "mappa": "MAPPA", "mapp": "MAPP", "pnc": "PNC",
    "pnd": "PND", "visor": "ViSOR", "idva": "IDVA", "marac": "MARAC", "mash": "MASH",
    "smb": "SMB", "id": "ID", "dob": "date of birth", "uk": "UK",
}
# Whole codes whose words are not their parts'.
PHRASES: Final[dict[str, str]] = {
    "right_to_ask": "Right to ask",
    "right_to_know": "Right to know",
    "person_at_risk": "Person at risk",
    "mapp_level_2": "MAPP level 2 meeting",
    "mapp_level_3": "MAPP level 3 meeting",
    "18_24": "18 to 24", "25_34": "25 to 34", "35_44": "35 to 44", "45_54": "45 to 54",
    "55_64": "55 to 64", "65_plus": "65 or over", "under_18": "Under 18",
    "party_id": "Party", "recipient_party_id": "Recipient",
    "partner_request_id": "Partner request",
    "occurred_at": "When it happened (leave blank for now)",
    "notes": "Notes",
}


def option_label(code: str) -> str:
    """A code as words, first letter capital: `not_necessary_proportionate` →
    "Not necessary proportionate"."""
    if code in PHRASES:
        return PHRASES[code]
    words = [WORDS.get(part, part) for part in code.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


label_of = option_label


def event_title(event: str) -> str:
    """An event's name as a heading: `record_decision` → "Record decision"."""
    return option_label(event)


# Questions whose field name alone reads badly, by field name or by whole path.
LABELS: Final[dict[str, str]] = {
    "met": "Is this part of the test met?",
    "rationale": "Why",
    "lawful": "Lawful",
    "pressing_need": "Pressing need",
    "necessary": "Necessary to protect the person from harm",
    "proportionate": "Proportionate interference with the subject's Article 8 rights",
    "data_protection_considered": "Data protection considered",
    "rehabilitation_of_offenders_considered": "Rehabilitation of Offenders Act considered",
    "wording": "Exact wording to disclose",
    "discloser": "Who will disclose it",
    "method": "How",
    "deliver_by": "Deliver by",
    "decision_maker_role": "Your rank",
    "subject_views_sought": "Were the subject's views sought?",
    "subject_to_be_told": "Will the subject be told a disclosure was made?",
    "legal_test": "The legal test",
    "recipients": "Recipient",
    "attendees": "Attendee",
    "finding": "Finding of the initial checks",
    "immediate_risk": "Is there an immediate risk?",
    "identity_verified": "Was the applicant's identity verified?",
    "information_held": "Is relevant information held?",
    "safe_contact": "Safe contact",
    "safe_contact.method": "How to contact them safely",
    "safe_contact.details": "Contact details (number, email or address)",
    "safe_contact.times": "Safe times to contact",
    "safe_contact.notes": "What must never be used",
    "kind": "Person or organisation",
    "relationship": "Relationship (in words)",
    "relationship_code": "Relationship",
    "registered_sex_offender": "Is the subject a registered sex offender?",
}
