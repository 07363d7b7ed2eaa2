"""the search terms are partitioned by area, each partition with its own trigram index

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-22 00:30:00.000000

0015 led the trigram index with the area, but a GIN index keeps one posting list per trigram
whatever the area: a name search or a duplicate check in one area still walked every area's
lists for the name's trigrams, a walk that grows with the whole national table. On PostgreSQL
`search_terms` becomes a table partitioned by the hash of the area, so each partition (one or
two areas) has its own trigram index and a query for one area reads one partition's lists. The
rows keep their ids; SQLite's FTS5 table is unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Partitions of the search terms: a deployment's areas hash into them, one or two to each for a
# few dozen areas.
PARTITIONS = 16
FUZZY = "field IN ('name', 'organisation')"
BUILD_MEMORY = "SET LOCAL maintenance_work_mem = '512MB'"
COLUMNS = (
    "id BIGINT NOT NULL DEFAULT nextval('search_terms_id_seq'),"
    " request_id BIGINT NOT NULL, party_id BIGINT NOT NULL, area VARCHAR(64) NOT NULL,"
    " role VARCHAR(24) NOT NULL, field VARCHAR(16) NOT NULL, term VARCHAR(200) NOT NULL"
)


def _replace(partitioned: bool) -> None:
    """Copy the terms into a new table (partitioned or not), ids kept, and put it in place."""
    op.execute(BUILD_MEMORY)
    if partitioned:
        op.execute(f"CREATE TABLE search_terms_new ({COLUMNS}) PARTITION BY HASH (area)")
        for number in range(PARTITIONS):
            op.execute(
                f"CREATE TABLE search_terms_p{number} PARTITION OF search_terms_new"
                f" FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {number})"
            )
    else:
        op.execute(f"CREATE TABLE search_terms_new ({COLUMNS})")
    op.execute(
        "INSERT INTO search_terms_new (id, request_id, party_id, area, role, field, term)"
        " SELECT id, request_id, party_id, area, role, field, term FROM search_terms"
    )
    op.execute("ALTER SEQUENCE search_terms_id_seq OWNED BY NONE")
    op.execute("DROP TABLE search_terms")
    op.execute("ALTER TABLE search_terms_new RENAME TO search_terms")
    op.execute("ALTER SEQUENCE search_terms_id_seq OWNED BY search_terms.id")
    if partitioned:
        # A partitioned table's key must hold its partition key. It is a unique index rather
        # than a primary-key constraint: each partition inherits a constraint, which
        # `pg_restore --clean` (disclosure restore) then tries, and fails, to drop alone.
        op.execute("CREATE UNIQUE INDEX search_terms_pkey ON search_terms (id, area)")
    else:
        op.execute("ALTER TABLE search_terms ADD CONSTRAINT search_terms_pkey PRIMARY KEY (id)")
    op.execute(
        "ALTER TABLE search_terms ADD CONSTRAINT search_terms_request_id_fkey"
        " FOREIGN KEY (request_id) REFERENCES requests (id)"
    )
    op.execute(
        "ALTER TABLE search_terms ADD CONSTRAINT search_terms_party_id_fkey"
        " FOREIGN KEY (party_id) REFERENCES parties (id)"
    )
    op.execute("CREATE INDEX ix_search_terms_exact ON search_terms (area, field, term)")
    op.execute("CREATE INDEX ix_search_terms_request ON search_terms (request_id)")
    op.execute("CREATE INDEX ix_search_terms_party_id ON search_terms (party_id)")
    if partitioned:
        op.execute(
            "CREATE INDEX ix_search_terms_trgm ON search_terms USING gin (term gin_trgm_ops)"
            f" WHERE {FUZZY}"
        )
    else:
        op.execute(
            "CREATE INDEX ix_search_terms_area_trgm ON search_terms"
            f" USING gin (area, term gin_trgm_ops) WHERE {FUZZY}"
        )
    op.execute("ANALYZE search_terms")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace(partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace(partitioned=False)
