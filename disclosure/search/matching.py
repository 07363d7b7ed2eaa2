"""Which parties match a query, scored by the engine's own text search; and when two named
people count as the same person (policy).

PostgreSQL finds names with pg_trgm's `%` operator over a GIN index and scores them with
`similarity()`. SQLite finds candidates through an FTS5 trigram table and scores them with the
same similarity formula, registered as `trgm_similarity`. Dates of birth, phone numbers and
emails are equal-or-not, over a B-tree index.
"""

from __future__ import annotations

from collections.abc import Collection
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
    null,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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

    @property
    def candidate_threshold(self) -> float:
        return min(self.search_threshold, self.same_person_with_dob)


T = SearchTerm.__table__.c
P = Party.__table__.c
R = Request.__table__.c
_FTS = table("search_terms_fts", column("rowid"))


async def prepare(db: AsyncSession | AsyncConnection, dialect: str, threshold: float) -> None:
    """Set pg_trgm's threshold for the `%` operator for the rest of this transaction."""
    if dialect == "postgresql":
        await db.execute(
            select(func.set_config("pg_trgm.similarity_threshold", str(threshold), True))
        )


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
        score: ColumnElement[float]
        found: ColumnElement[bool]
        if dialect == "postgresql":
            score = cast(func.similarity(T.term, query.name), Float)
            found = T.term.op("%")(query.name)
            source = select().select_from(SearchTerm.__table__)
        else:
            score = func.trgm_similarity(T.term, query.name)
            fts = names.fts_query(query.name)
            found = and_(
                text("search_terms_fts MATCH :fts").bindparams(fts=fts) if fts else false(),
                score >= threshold,
            )
            source = select().select_from(
                _FTS.join(SearchTerm.__table__, T.id == _FTS.c.rowid)
            )
        same_dob: ColumnElement[int] = literal(0)
        where = [found, T.field.in_(FUZZY_FIELDS), T.area == area]
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
    dialect: str, policy: FindingPolicy, *, name: str, date_of_birth: str | None, area: str,
    roles: Collection[str],
) -> Select[tuple[int, int | None, str | None, str, float, int]]:
    """The parties in these roles that policy counts as the same person as the one named."""
    rows = matches(
        dialect, names.Query(name=names.name(name), date_of_birth=date_of_birth), area=area,
        threshold=policy.candidate_threshold, roles=roles,
    ).subquery()
    return select(rows).where(or_(
        rows.c.similarity >= policy.same_person_name,
        and_(rows.c.same_dob == 1, rows.c.similarity >= policy.same_person_with_dob),
    ))
