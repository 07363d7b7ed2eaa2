"""finding people: the search index, the search log, request links, repeat-subject alerts

Revision ID: 0009
Revises: 0005
Create Date: 2026-11-21 16:45:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from disclosure.search.index import terms_of

revision: str = "0009"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "search_terms",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("request_id", Key, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("party_id", Key, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("field", sa.String(16), nullable=False),
        sa.Column("term", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_terms_exact", "search_terms", ["area", "field", "term"])
    op.create_index("ix_search_terms_request", "search_terms", ["request_id"])
    op.create_index("ix_search_terms_party_id", "search_terms", ["party_id"])
    op.create_table(
        "searches",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("searcher", sa.String(64), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("searched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("terms", sa.String(200), nullable=False),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_searches_area", "searches", ["area", "id"])
    op.create_table(
        "search_results",
        sa.Column("search_id", Key, sa.ForeignKey("searches.id"), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("request_id", Key, sa.ForeignKey("requests.id"), nullable=False),
        sa.PrimaryKeyConstraint("search_id", "rank"),
    )
    op.create_index("ix_search_results_request_id", "search_results", ["request_id"])
    op.create_table(
        "request_links",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("from_request_id", Key, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("to_request_id", Key, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "from_request_id", "to_request_id", name="uq_request_links"),
    )
    op.create_index("ix_request_links_from_request_id", "request_links", ["from_request_id"])
    op.create_index("ix_request_links_to_request_id", "request_links", ["to_request_id"])
    op.create_table(
        "alerts",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        sa.Column("review", sa.String(24), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("started_request_id", Key, sa.ForeignKey("requests.id"), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerts_queue", "alerts", ["area", "state", "id"])
    op.create_table(
        "alert_requests",
        sa.Column("alert_id", Key, sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("request_id", Key, sa.ForeignKey("requests.id"), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "request_id"),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # Names and organisations are found by trigram similarity (the % operator).
        op.execute(
            "CREATE INDEX ix_search_terms_trgm ON search_terms USING gin (term gin_trgm_ops)"
            " WHERE field IN ('name', 'organisation')"
        )
    else:
        # FTS5's trigram tokenizer over the same rows, kept in step by triggers so that a
        # party's terms and their text index change in one transaction.
        op.execute(
            "CREATE VIRTUAL TABLE search_terms_fts USING fts5("
            "term, content='search_terms', content_rowid='id', tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER search_terms_fts_insert AFTER INSERT ON search_terms"
            " WHEN new.field IN ('name', 'organisation') BEGIN"
            " INSERT INTO search_terms_fts(rowid, term) VALUES (new.id, new.term); END"
        )
        op.execute(
            "CREATE TRIGGER search_terms_fts_delete AFTER DELETE ON search_terms"
            " WHEN old.field IN ('name', 'organisation') BEGIN"
            " INSERT INTO search_terms_fts(search_terms_fts, rowid, term)"
            " VALUES ('delete', old.id, old.term); END"
        )

    # Index the parties already held.
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT p.id, p.request_id, p.role, p.kind, p.name, p.date_of_birth, p.safe_contact,"
        " r.area"
        " FROM parties p JOIN requests r ON r.id = p.request_id"
    )).mappings()
    terms_table = sa.table(
        "search_terms", sa.column("request_id"), sa.column("party_id"), sa.column("area"),
        sa.column("role"), sa.column("field"), sa.column("term"),
    )
    batch: list[dict[str, object]] = []
    for row in rows:
        party = dict(row)
        if isinstance(party["safe_contact"], str):
            party["safe_contact"] = json.loads(party["safe_contact"])
        batch.extend(
            {"request_id": row["request_id"], "party_id": row["id"], "area": row["area"],
             "role": row["role"], "field": field, "term": term[:200]}
            for field, term in terms_of(party)
        )
    for start in range(0, len(batch), 1000):
        op.bulk_insert(terms_table, batch[start:start + 1000])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_terms_trgm")
    else:
        op.execute("DROP TRIGGER IF EXISTS search_terms_fts_insert")
        op.execute("DROP TRIGGER IF EXISTS search_terms_fts_delete")
        op.execute("DROP TABLE IF EXISTS search_terms_fts")
    for table in ("alert_requests", "alerts", "request_links", "search_results", "searches",
                  "search_terms"):
        op.drop_table(table)
