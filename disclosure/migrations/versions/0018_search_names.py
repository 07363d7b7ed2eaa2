"""a name search matches each distinct name once, then reads its parties from an index

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-22 03:20:00.000000

A name is held by many parties: a professional referrer's by thousands of requests of an area,
a common forename and surname by hundreds. Matched through the trigram index of the search
terms, every one of those rows was a candidate fetched from the table and checked, most of them
to be dropped. On PostgreSQL `search_names` holds each area's distinct names and organisations
once, partitioned by the area as the terms are (0017), with its own trigram index: a search
scores each distinct name once, then reads the parties holding the names that match from the
terms' exact index, which now carries the request, party and role so that nothing else is read.
A trigger on `search_terms` adds each new name as its terms are written, whichever path writes
them (one party, a batch's COPY, a reindex); a name no party holds any more stays, matching
nothing. The names are not unique: two transactions adding the same new name at once may both
add it, and a duplicate changes no result (a search takes each request's best match), where a
unique key would make one wait for the other. SQLite is unchanged: its FTS5 table of the terms
does the same work.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONS = 16
FUZZY = "field IN ('name', 'organisation')"
BUILD_MEMORY = "SET LOCAL maintenance_work_mem = '512MB'"
ADD_NAMES = f"""
CREATE FUNCTION search_names_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_names (area, field, term)
    SELECT DISTINCT n.area, n.field, n.term FROM new_terms n
    WHERE n.{FUZZY} AND NOT EXISTS (
        SELECT 1 FROM search_names s
        WHERE s.area = n.area AND s.field = n.field AND s.term = n.term);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(BUILD_MEMORY)
    op.execute(
        "CREATE TABLE search_names (area VARCHAR(64) NOT NULL, field VARCHAR(16) NOT NULL,"
        " term VARCHAR(200) NOT NULL) PARTITION BY HASH (area)"
    )
    for number in range(PARTITIONS):
        op.execute(
            f"CREATE TABLE search_names_p{number} PARTITION OF search_names"
            f" FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {number})"
        )
    op.execute(
        "INSERT INTO search_names (area, field, term)"
        f" SELECT DISTINCT area, field, term FROM search_terms WHERE {FUZZY}"
    )
    op.execute("CREATE INDEX ix_search_names_exact ON search_names (area, field, term)")
    op.execute("CREATE INDEX ix_search_names_trgm ON search_names USING gin (term gin_trgm_ops)")
    op.execute(ADD_NAMES)
    op.execute(
        "CREATE TRIGGER search_terms_add_names AFTER INSERT ON search_terms"
        " REFERENCING NEW TABLE AS new_terms FOR EACH STATEMENT"
        " EXECUTE FUNCTION search_names_add()"
    )
    _exact_index(include=True)
    op.execute("ANALYZE search_names")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(BUILD_MEMORY)
    op.execute("DROP TRIGGER search_terms_add_names ON search_terms")
    op.execute("DROP FUNCTION search_names_add()")
    op.execute("DROP TABLE search_names")
    _exact_index(include=False)


def _exact_index(*, include: bool) -> None:
    """The terms' exact index, with (or without) what a name search reads of each party."""
    op.execute("DROP INDEX ix_search_terms_exact")
    op.execute(
        "CREATE INDEX ix_search_terms_exact ON search_terms (area, field, term)"
        + (" INCLUDE (request_id, party_id, role)" if include else "")
    )
