"""oversight: decision reviews, the indexes reports read by, ethnicity as census codes

Revision ID: 0013
Revises: 0010
Create Date: 2026-11-21 20:15:00.000000

A party's ethnicity was free text; it becomes a code of the ONS 2021 census groups
(disclosure/vocabularies.py). A value that names a detailed group (by its code or census name)
or only a high-level group ("White", "Asian", ...) is given that code, "not stated" and the
like become `not_stated`; anything else cannot be placed and is cleared (not recorded), so no
free text is left in the column.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from disclosure.vocabularies import ETHNIC_GROUPS, ETHNICITIES, ETHNICITY_NAMES

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
parties = sa.table("parties", sa.column("ethnicity", sa.String))


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z]+", text.lower()))


def codes_by_words() -> dict[str, str]:
    """Every written form the migration recognises, as lower-case words, to its code."""
    known: dict[str, str] = {_words(code.replace("_", " ")): code for code in ETHNICITIES}
    known |= {_words(name): code for code, name in ETHNICITY_NAMES.items()}
    known |= {_words(name): code for code, name in ETHNIC_GROUPS.items()}
    known |= {_words(f"{code} {name}"): code for code, name in ETHNICITY_NAMES.items()}
    known |= {"british": "white_british", "white british": "white_british",
              "prefer not to say": "not_stated", "not known": "not_stated",
              "unknown": "not_stated", "declined": "not_stated"}
    return known


def upgrade() -> None:
    op.create_table(
        "decision_reviews",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("per_outcome", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn_by", sa.String(64), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_decision_reviews_area", "decision_reviews", ["area"])
    op.create_table(
        "review_items",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("review_id", Key, sa.ForeignKey("decision_reviews.id"), nullable=False),
        sa.Column("decision_id", Key, sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("request_id", Key, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id", "decision_id", name="uq_review_items"),
    )
    op.create_index("ix_review_items_review_id", "review_items", ["review_id"])
    op.create_table(
        "review_findings",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("item_id", Key, sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("finding", sa.String(16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "reviewer", name="uq_review_findings"),
    )
    op.create_index("ix_review_findings_item_id", "review_findings", ["item_id"])
    op.create_index("ix_requests_area_received", "requests", ["area", "received_at"])
    op.create_index("ix_requests_area_closed", "requests", ["area", "closed_at"])
    op.create_index("ix_closures_closed_at", "closures", ["closed_at", "request_id"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at", "request_id"])
    op.create_index("ix_decision_recipients_settled", "decision_recipients",
                    ["settled_at", "request_id"])
    op.create_index("ix_extensions_granted_at", "extensions", ["granted_at", "request_id"])
    third_party = sa.text("role = 'applicant' AND relationship_code IS NOT NULL"
                          " AND relationship_code != 'self'")
    registered = sa.text("role = 'subject' AND registered_sex_offender IS true")
    reopened = sa.text("reopened_seq IS NOT NULL")
    op.create_index("ix_parties_third_party", "parties", ["request_id"],
                    postgresql_where=third_party, sqlite_where=third_party)
    op.create_index("ix_parties_registered_subject", "parties", ["request_id"],
                    postgresql_where=registered, sqlite_where=registered)
    op.create_index("ix_closures_reopened", "closures", ["request_id"],
                    postgresql_where=reopened, sqlite_where=reopened)
    _ethnicity_to_codes()


def _ethnicity_to_codes() -> None:
    """One UPDATE per distinct value written, not one per party."""
    known = codes_by_words()
    conn = op.get_bind()
    written = conn.execute(
        sa.select(parties.c.ethnicity).where(parties.c.ethnicity.is_not(None)).distinct()
    ).scalars().all()
    for value in written:
        code = known.get(_words(value))
        if code != value:
            conn.execute(parties.update().where(parties.c.ethnicity == value)
                         .values(ethnicity=code))


def downgrade() -> None:
    for name, table in (
        ("ix_closures_reopened", "closures"), ("ix_parties_registered_subject", "parties"),
        ("ix_parties_third_party", "parties"), ("ix_extensions_granted_at", "extensions"),
        ("ix_decision_recipients_settled", "decision_recipients"),
        ("ix_events_occurred_at", "events"), ("ix_closures_closed_at", "closures"),
        ("ix_requests_area_closed", "requests"), ("ix_requests_area_received", "requests"),
    ):
        op.drop_index(name, table_name=table)
    op.drop_table("review_findings")
    op.drop_table("review_items")
    op.drop_table("decision_reviews")
