"""names and organisations are found through a trigram index led by the area

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-21 23:00:00.000000

The trigram index of 0009 was on the term alone, so a name search or a duplicate check in one
area read the matches of every area and filtered the area after. `btree_gin` lets one GIN index
hold the area beside the trigrams: the area narrows the scan inside the index. SQLite's FTS5
table is unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rows found by similarity (disclosure.search.index.FUZZY_FIELDS), as the queries name them.
FUZZY = "field IN ('name', 'organisation')"
# A GIN build sorts in memory; more of it builds the index over a national table in one pass.
BUILD_MEMORY = "SET LOCAL maintenance_work_mem = '512MB'"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute(BUILD_MEMORY)
    op.execute("DROP INDEX IF EXISTS ix_search_terms_trgm")
    op.execute(
        "CREATE INDEX ix_search_terms_area_trgm ON search_terms"
        f" USING gin (area, term gin_trgm_ops) WHERE {FUZZY}"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(BUILD_MEMORY)
    op.execute("DROP INDEX IF EXISTS ix_search_terms_area_trgm")
    op.execute(
        f"CREATE INDEX ix_search_terms_trgm ON search_terms USING gin (term gin_trgm_ops)"
        f" WHERE {FUZZY}"
    )
