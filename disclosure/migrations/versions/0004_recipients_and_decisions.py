"""recipients per decision, organisations as parties, urgent disclosures, notices, subject told

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 16:50:00

Existing data is carried forward: each decision's single recipient becomes one row of
`decision_recipients`, settled as delivered where a delivery to that party was recorded; the
decision-maker becomes the user who sent the decision, and ranks and attendees' agencies become
codes of the fixed vocabularies (`other` where the words match none).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AGENCIES = {
    "police", "probation", "prisons", "youth_justice", "childrens_social_care",
    "adult_social_care", "health", "mental_health", "education", "housing", "idva_service",
    "specialist_domestic_abuse_service", "jobcentre_plus", "other",
}
# Most specific first: "chief inspector" also contains "inspector".
RANK_WORDS = (
    ("assistant chief constable", "assistant_chief_constable"),
    ("chief superintendent", "chief_superintendent"),
    ("superintendent", "superintendent"),
    ("chief inspector", "chief_inspector"),
    ("inspector", "inspector"),
    ("sergeant", "sergeant"),
    ("governor", "prison_governor"),
    ("probation", "probation_senior_manager"),
)


def _agency(text: str) -> str:
    code = text.strip().lower().replace("'", "").replace("-", " ").replace(" ", "_")
    if code in AGENCIES:
        return code
    if code in ("idva", "idva_services"):
        return "idva_service"
    return "other"


def upgrade() -> None:
    with op.batch_alter_table("parties") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False,
                                   server_default="person"))
        batch.add_column(sa.Column("relationship_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("registered_sex_offender", sa.Boolean(), nullable=True))
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("continued_from_id", Key, nullable=True))
        batch.create_foreign_key("fk_requests_continued_from", "requests",
                                 ["continued_from_id"], ["id"])
        batch.create_index("ix_requests_continued_from_id", ["continued_from_id"])
    op.create_table(
        "decision_recipients",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("decision_id", Key, nullable=False),
        sa.Column("request_id", Key, nullable=False),
        sa.Column("party_id", Key, nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("better_placed_reason", sa.Text(), nullable=True),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.Column("discloser", sa.String(200), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("others_present", sa.Text(), nullable=True),
        sa.Column("deliver_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settlement", sa.String(24), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_by", sa.String(200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_decision_recipients_decision_id", "decision_recipients", ["decision_id"])
    op.create_index("ix_decision_recipients_request_id", "decision_recipients", ["request_id"])
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("referred_to", sa.String(40), nullable=True))
        batch.add_column(sa.Column("presumption_applies", sa.Boolean(), nullable=True))
        batch.alter_column("subject_views_sought", existing_type=sa.Boolean(), nullable=True)
        batch.alter_column("subject_to_be_told", existing_type=sa.Boolean(), nullable=True)

    op.execute("""
        INSERT INTO decision_recipients (decision_id, request_id, party_id, rationale, wording,
            discloser, method, others_present, deliver_by)
        SELECT id, request_id, recipient_party_id, COALESCE(recipient_rationale, ''),
            COALESCE(wording, ''), COALESCE(discloser, ''), COALESCE(delivery_method, ''),
            others_present, deliver_by
        FROM decisions WHERE decision = 'disclose' AND recipient_party_id IS NOT NULL
    """)
    op.execute("""
        UPDATE decision_recipients SET settlement = 'delivered',
            settled_at = (SELECT MIN(d.delivered_at) FROM deliveries d
                          WHERE d.request_id = decision_recipients.request_id
                            AND d.recipient_party_id = decision_recipients.party_id),
            settled_by = (SELECT MIN(d.delivered_by) FROM deliveries d
                          WHERE d.request_id = decision_recipients.request_id
                            AND d.recipient_party_id = decision_recipients.party_id)
        WHERE EXISTS (SELECT 1 FROM deliveries d
                      WHERE d.request_id = decision_recipients.request_id
                        AND d.recipient_party_id = decision_recipients.party_id)
    """)
    rank = "CASE " + " ".join(
        f"WHEN LOWER(decision_maker_role) LIKE '%{words}%' THEN '{code}'"
        for words, code in RANK_WORDS
    ) + " ELSE 'other' END"
    op.execute(f"UPDATE decisions SET decision_maker = recorded_by, decision_maker_role = {rank}")
    decisions = sa.table("decisions", sa.column("id", Key), sa.column("attendees", sa.JSON()))
    conn = op.get_bind()
    for decision_id, attendees in conn.execute(sa.select(decisions.c.id, decisions.c.attendees)):
        coded = [a | {"agency": _agency(str(a.get("agency", "")))} for a in attendees or []]
        if coded != attendees:
            conn.execute(decisions.update().where(decisions.c.id == decision_id)
                         .values(attendees=coded))

    with op.batch_alter_table("decisions") as batch:
        for column in ("wording", "recipient_party_id", "recipient_rationale", "discloser",
                       "delivery_method", "others_present", "deliver_by"):
            batch.drop_column(column)
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("different_words_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("confidentiality_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("undertaking_decided_by", sa.String(200), nullable=True))
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("told", sa.String(16), nullable=False,
                                   server_default="process_ended"))
        batch.add_column(sa.Column("safety_advice", sa.Text(), nullable=True))
    op.create_table(
        "subject_told",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("request_id", Key, nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("told_by", sa.String(200), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_subject_told_request_id", "subject_told", ["request_id"])


def downgrade() -> None:
    raise NotImplementedError("0004 carries data forward into new shapes; restore a backup")
