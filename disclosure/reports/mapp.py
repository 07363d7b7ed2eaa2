"""The `mapp` table: MAPP meetings held and their disclosure considerations, the disclosures
they agreed and delivered by the date agreed, and the nominals managed at Levels 2 and 3 in the
community, on the period's last day and at any time in it (the two tables the boards publish)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from disclosure.models import DecisionRecipient, Meeting, Nominal, NominalEvent, Request
from disclosure.reports.figures import Figures, Scope, fetch

LEVELS = (2, 3)
CATEGORIES = (1, 2, 3, 4)
CATEGORY_NAMES = {1: "registered sexual offenders", 2: "violent offenders",
                  3: "other dangerous offenders", 4: "terrorism or terrorism-risk offenders"}


def rows() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for level in LEVELS:
        found += [
            (f"meetings.level_{level}", f"Level {level} meetings held"),
            (f"considered.level_{level}",
             f"Level {level} meetings that recorded a disclosure consideration"),
            (f"consideration_rate.level_{level}",
             f"Level {level} meetings that recorded a consideration, %"),
            (f"no_disclosure_needed.level_{level}",
             f"Level {level} meetings that found no disclosure needed"),
            (f"agreed.level_{level}", f"Disclosures agreed at Level {level} meetings"),
            (f"delivered.level_{level}", f"Of them, delivered (Level {level})"),
            (f"delivered_by_date.level_{level}",
             f"Of them, delivered by the date agreed (Level {level})"),
        ]
    for level in LEVELS:
        found += [(f"nominals.level_{level}.category_{category}",
                   f"Nominals at Level {level} in the community: category {category},"
                   f" {CATEGORY_NAMES[category]}") for category in CATEGORIES]
        found.append((f"nominals.level_{level}.total",
                      f"Nominals at Level {level} in the community: all categories"))
    return found


def applies(row: str, metric: str) -> bool:
    return metric == "in_period" or row.startswith("nominals.")


async def meetings(session: AsyncSession, scope: Scope) -> Figures:
    """(bucket, level, meetings held, with a consideration, finding no disclosure needed)."""
    known = [] if scope.as_at is None else [Meeting.created_at <= scope.as_at]
    considered: ColumnElement[bool] = Meeting.consideration.is_not(None)
    if scope.as_at is not None:
        considered = exists().where(
            NominalEvent.meeting_id == Meeting.id, NominalEvent.event == "record_consideration",
            NominalEvent.recorded_at <= scope.as_at)
        no_disclosure = and_(considered, Meeting.consideration == "no_disclosure")
    else:
        no_disclosure = Meeting.consideration == "no_disclosure"
    when = scope.bucket(Meeting.held_at).label("bucket")
    return await fetch(session, select(
        when, Meeting.level, func.count(), func.count(case((considered, 1))),
        func.count(case((no_disclosure, 1))),
    ).where(Meeting.area == scope.area, scope.within(Meeting.held_at), *known)
     .group_by(when, Meeting.level))


async def agreed(session: AsyncSession, scope: Scope) -> Figures:
    """(bucket, level, recipients agreed, delivered, delivered by the date agreed) of the
    disclosures agreed at meetings held in either period."""
    delivered = DecisionRecipient.settlement == "delivered"
    if scope.as_at is not None:
        delivered = and_(delivered, scope.event_known(
            DecisionRecipient.request_id, ("record_delivery",), DecisionRecipient.settled_at))
    on_time = and_(delivered, DecisionRecipient.settled_at <= DecisionRecipient.deliver_by)
    when = scope.bucket(Meeting.held_at).label("bucket")
    return await fetch(session, select(
        when, Meeting.level, func.count(), func.count(case((delivered, 1))),
        func.count(case((on_time, 1))),
    ).select_from(DecisionRecipient)
     .join(Request, Request.id == DecisionRecipient.request_id)
     .join(Meeting, Meeting.id == Request.meeting_id)
     .where(Meeting.area == scope.area, scope.within(Meeting.held_at), scope.request_known())
     .group_by(when, Meeting.level))


def _standing(scope: Scope, moment: datetime) -> Any:
    """Each nominal of the area as it stood at `moment`: its last event before then."""
    later = aliased(NominalEvent)
    known = [] if scope.as_at is None else [NominalEvent.recorded_at <= scope.as_at]
    later_known = [] if scope.as_at is None else [later.recorded_at <= scope.as_at]
    return (
        select(NominalEvent.nominal_id, NominalEvent.level, NominalEvent.category,
               NominalEvent.location)
        .join(Nominal, Nominal.id == NominalEvent.nominal_id)
        .where(Nominal.area == scope.area, NominalEvent.occurred_at < moment, *known,
               ~exists().where(later.nominal_id == NominalEvent.nominal_id,
                               later.occurred_at < moment, later.seq > NominalEvent.seq,
                               *later_known))
    )


async def nominals_on(session: AsyncSession, scope: Scope, moment: datetime) -> Figures:
    """(level, category, nominals) at Levels 2 and 3 in the community at `moment`."""
    stood = _standing(scope, moment).subquery()
    return await fetch(session, select(stood.c.level, stood.c.category, func.count())
                       .where(stood.c.level.in_(LEVELS), stood.c.location == "community")
                       .group_by(stood.c.level, stood.c.category))


async def nominals_during(session: AsyncSession, scope: Scope, start: datetime,
                          end: datetime) -> Figures:
    """(level, category, nominals) that stood at Level 2 or 3 in the community at any time
    from `start` to `end`: as they stood at the start, or after any event in between."""
    stood = _standing(scope, start)
    known = [] if scope.as_at is None else [NominalEvent.recorded_at <= scope.as_at]
    during = (
        select(NominalEvent.nominal_id, NominalEvent.level, NominalEvent.category,
               NominalEvent.location)
        .join(Nominal, Nominal.id == NominalEvent.nominal_id)
        .where(Nominal.area == scope.area, NominalEvent.occurred_at >= start,
               NominalEvent.occurred_at < end, *known)
    )
    every = stood.union(during).subquery()
    found = (select(every.c.level, every.c.category, every.c.nominal_id)
             .where(every.c.level.in_(LEVELS), every.c.location == "community")
             .distinct().subquery())
    return await fetch(session, select(found.c.level, found.c.category, func.count())
                       .group_by(found.c.level, found.c.category))


async def fill(session: AsyncSession, scope: Scope, values: dict[str, dict[Any, Any]]) -> None:
    for bucket, level, held, considered, none_needed in await meetings(session, scope):
        cells = values[bucket]
        cells[(f"meetings.level_{level}", "in_period")] = held
        cells[(f"considered.level_{level}", "in_period")] = considered
        cells[(f"consideration_rate.level_{level}", "in_period")] = (
            round(considered * 100.0 / held, 1) if held else None)
        cells[(f"no_disclosure_needed.level_{level}", "in_period")] = none_needed
    for bucket, level, count, delivered, on_time in await agreed(session, scope):
        cells = values[bucket]
        cells[(f"agreed.level_{level}", "in_period")] = count
        cells[(f"delivered.level_{level}", "in_period")] = delivered
        cells[(f"delivered_by_date.level_{level}", "in_period")] = on_time
    spans = (("current", scope.current.start, scope.current.end),
             ("previous", scope.previous.start, scope.previous.end))
    for bucket, start, end in spans:
        cells = values[bucket]
        for metric, figures in (
            ("on_last_day", await nominals_on(session, scope, end)),
            ("in_period", await nominals_during(session, scope, start, end)),
        ):
            for level in LEVELS:
                cells[(f"nominals.level_{level}.total", metric)] = 0
            for level, category, count in figures:
                cells[(f"nominals.level_{level}.category_{category}", metric)] = count
                cells[(f"nominals.level_{level}.total", metric)] += count
    for bucket in values:
        for level in LEVELS:
            values[bucket].setdefault((f"consideration_rate.level_{level}", "in_period"), None)
