"""Which parties match a query, scored by the engine's own text search; and when two named
people count as the same person (policy).

PostgreSQL finds names with pg_trgm's `%` operator over a GIN index and scores them with
`similarity()`. SQLite finds candidates through an FTS5 trigram table and scores them with the
same similarity formula, registered as `trgm_similarity`. Dates of birth, phone numbers and
emails are equal-or-not, over a B-tree index.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from typing import Protocol

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    column,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from disclosure.models import Party, Request, SearchTerm
from disclosure.search import names
from disclosure.search.index import FUZZY_FIELDS
from disclosure.settings import Settings


class Named(Protocol):
    """A party as matching reads it."""

    @property
    def role(self) -> str: ...

    @property
    def name(self) -> str | None: ...

    @property
    def date_of_birth(self) -> str | None: ...


@dataclass(frozen=True)
class FindingPolicy:
    """How close is close enough, and what makes a repeat subject. The defaults, and why, are
    in docs/search.md; each is a setting (DISCLOSURE_<NAME>)."""

    # Lowest similarity a search shows.
    search_threshold: float = 0.4
    # The same person: a name at least this similar and the same date of birth ...
    same_person_with_dob: float = 0.4
    # ... or a name at least this similar, where the dates of birth do not differ.
    same_person_name: float = 0.7
    # A repeat subject: named in this many requests of the area within the window ...
    repeat_requests: int = 3
    # ... about at least this many different persons at risk (or children).
    repeat_persons_at_risk: int = 2
    repeat_window_days: int = 365

    def __post_init__(self) -> None:
        for name in ("search_threshold", "same_person_with_dob", "same_person_name"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"DISCLOSURE_{name.upper()}: must be above 0 and at most 1")
        for name in ("repeat_requests", "repeat_persons_at_risk", "repeat_window_days"):
            if getattr(self, name) < 1:
                raise ValueError(f"DISCLOSURE_{name.upper()}: must be at least 1")

    @classmethod
    def from_settings(cls, settings: Settings) -> FindingPolicy:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


T = SearchTerm.__table__.c
P = Party.__table__.c
R = Request.__table__.c
_FTS = table("search_terms_fts", column("rowid"))
# The rows matched by similarity, written out rather than bound: PostgreSQL then proves the
# trigram index's predicate (migration 0015) under a generic plan too, where it knows no
# parameter's value.
_FUZZY_FIELDS: list[ColumnElement[str]] = [literal_column(f"'{f}'") for f in FUZZY_FIELDS]
FUZZY: ColumnElement[bool] = T.field.in_(_FUZZY_FIELDS)
# PostgreSQL's distinct names of each area (migration 0018), matched before the terms holding
# them.
NAMES = table("search_names", column("area"), column("field"), column("term"))
# The date-of-birth rows of the index, beside the name rows of the same party.
BORN = aliased(SearchTerm.__table__, name="born")


async def prepare(db: AsyncSession | AsyncConnection, dialect: str, threshold: float) -> None:
    """Set pg_trgm's threshold for the `%` operator for the rest of this transaction, and plan
    its statements for their values: the area picks the one partition of the search terms to
    read (migration 0017) and the name how many rows it holds, neither of which a generic plan
    knows."""
    if dialect == "postgresql":
        await db.execute(select(
            func.set_config("pg_trgm.similarity_threshold", str(threshold), True),
            func.set_config("plan_cache_mode", "force_custom_plan", True),
        ))


def similarity(
    dialect: str, term: ColumnElement[str], name: ColumnElement[str]
) -> ColumnElement[float]:
    """pg_trgm's similarity of an indexed term and a name, on either engine."""
    if dialect == "postgresql":
        return cast(func.similarity(term, name), Float)
    return func.trgm_similarity(term, name)


def name_match(
    dialect: str,
    name: ColumnElement[str],
    fts: ColumnElement[str] | None,
    threshold: float | ColumnElement[float],
    area: ColumnElement[str],
) -> tuple[Select[tuple[()]], ColumnElement[float], ColumnElement[bool]]:
    """Where the index's names like `name` are found, their similarity, and the condition
    finding them. On PostgreSQL, the area's distinct names (migration 0018) matched by pg_trgm's
    `%` through their trigram index and scored once each (materialised, so that the score is
    not worked out again for every party holding the name), joined to the terms holding them
    through the exact index (the callers add `FUZZY` and the area, which that index needs). On
    SQLite, the FTS5 query `fts` (`names.fts_query` of the name; None matches nothing) with the
    same similarity formula."""
    if dialect == "postgresql":
        named = select(
            NAMES.c.field, NAMES.c.term, similarity(dialect, NAMES.c.term, name).label("score")
        ).where(NAMES.c.area == area, NAMES.c.field.in_(_FUZZY_FIELDS),
                NAMES.c.term.op("%")(name)).cte().prefix_with("MATERIALIZED")
        return (
            select().select_from(SearchTerm.__table__.join(named, and_(
                T.field == named.c.field, T.term == named.c.term))),
            named.c.score, true(),
        )
    score = similarity(dialect, T.term, name)
    found: ColumnElement[bool] = false() if fts is None else and_(
        literal_column("search_terms_fts").op("MATCH")(fts), score >= threshold
    )
    return (select().select_from(_FTS.join(SearchTerm.__table__, T.id == _FTS.c.rowid)),
            score, found)


def matches(
    dialect: str,
    query: names.Query,
    *,
    area: str,
    threshold: float,
    roles: Collection[str] | None = None,
    request_ids: Collection[int] | None = None,
) -> Select[tuple[int, int | None, str | None, str, float, int]]:
    """(request_id, party_id, role, field, similarity, same_dob) of every match in the area.

    `same_dob` is 1 where a date of birth was asked for and the party has it; a party with a
    different date of birth does not match, one with none recorded does.
    """
    if query.reference is not None:
        statement = select(
            R.id.label("request_id"), cast(null(), T.party_id.type).label("party_id"),
            cast(null(), T.role.type).label("role"),
            literal("reference").label("field"), cast(literal(1.0), Float).label("similarity"),
            literal(0).label("same_dob"),
        ).where(R.reference == query.reference, R.area == area)
        if request_ids is not None:
            statement = statement.where(R.id.in_(request_ids))
        return statement
    if query.name is not None:
        source: Select[tuple[()]]
        found: ColumnElement[bool]
        if request_ids is None:
            fts = names.fts_query(query.name)
            source, score, found = name_match(
                dialect, literal(query.name), literal(fts) if fts else None, threshold,
                literal(area, T.area.type),
            )
        else:
            # The few requests given are read by their ids and each of their names scored:
            # no second pass over the trigram index for what a page already found.
            score = similarity(dialect, T.term, literal(query.name))
            source, found = select().select_from(SearchTerm.__table__), score >= threshold
        same_dob: ColumnElement[int] = literal(0)
        where = [found, FUZZY, T.area == area]
        if query.date_of_birth is not None:
            source = source.join(Party.__table__, P.id == T.party_id)
            where.append(or_(P.date_of_birth == query.date_of_birth, P.date_of_birth.is_(None)))
            same_dob = case((P.date_of_birth == query.date_of_birth, 1), else_=0)
        statement = source.add_columns(
            T.request_id, T.party_id, T.role, T.field, score.label("similarity"),
            same_dob.label("same_dob"),
        ).where(*where)
    else:
        field, value = next(
            (f, v) for f, v in (
                ("date_of_birth", query.date_of_birth), ("phone", query.phone),
                ("email", query.email),
            ) if v is not None
        )
        statement = select(
            T.request_id, T.party_id, T.role, T.field,
            cast(literal(1.0), Float).label("similarity"), literal(0).label("same_dob"),
        ).where(T.area == area, T.field == field, T.term == value)
    if roles is not None:
        statement = statement.where(T.role.in_(roles))
    if request_ids is not None:
        statement = statement.where(T.request_id.in_(request_ids))
    return statement


def same_person(
    dialect: str,
    *,
    name: ColumnElement[str],
    fts: ColumnElement[str] | None,
    born: ColumnElement[str],
    area: ColumnElement[str],
    roles: Sequence[ColumnElement[str]],
    same_name: ColumnElement[float],
    with_dob: ColumnElement[float],
    other_than: ColumnElement[int] | None = None,
) -> list[Select[tuple[int, int, str, str | None, str | None, float, int]]]:
    """(request_id, party_id, role, name, date_of_birth, similarity, same_dob) of the area's
    parties in these roles that policy counts as the same person as the one named (`name`
    normalised; `fts` its FTS5 query on SQLite; `born` null where no date of birth is known),
    other than those of the request `other_than`. Two branches: names at least `same_name`
    similar whose date of birth does not differ, found through the trigram index at that
    threshold (so `prepare` with it), and parties born the same day, found through the exact
    index, with a name at least `with_dob` similar. Looking twice reads a few candidates where
    one scan at the lower threshold would read thousands for a common name."""
    source, score, found = name_match(dialect, name, fts, same_name, area)
    party = (T.request_id, T.party_id, T.role, P.name, P.date_of_birth)
    where = [FUZZY, T.area == area, T.role.in_(roles)]
    if other_than is not None:
        where.append(T.request_id != other_than)
    by_name = (
        source.join(Party.__table__, P.id == T.party_id)
        .add_columns(*party, score.label("similarity"),
                     case((P.date_of_birth == born, 1), else_=0).label("same_dob"))
        .where(found, score >= same_name, *where,
               or_(born.is_(None), P.date_of_birth.is_(None), P.date_of_birth == born))
    )
    # Each party born that day has its own name scored.
    named = similarity(dialect, T.term, name)
    by_birth = (
        select(*party, named.label("similarity"), literal(1).label("same_dob"))
        .select_from(BORN.join(SearchTerm.__table__, T.party_id == BORN.c.party_id)
                     .join(Party.__table__, P.id == T.party_id))
        .where(BORN.c.area == area, BORN.c.field == literal_column("'date_of_birth'"),
               BORN.c.term == born, named >= with_dob, *where)
    )
    return [by_name, by_birth]
