"""The `mapp` table: MAPP meetings, their disclosure considerations, the disclosures they
agreed and delivered, and the nominals managed at Levels 2 and 3."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from disclosure.reports import figures
from disclosure.reports.figures import Scope

LEVELS = ("level_2", "level_3")
FORUMS = {"mapp_level_2": "level_2", "mapp_level_3": "level_3"}


def rows() -> list[tuple[str, str]]:
    found = [(f"agreed.{level}", f"Disclosures agreed at Level {level[-1]} meetings")
             for level in LEVELS]
    found += [(f"delivered.{level}", f"Disclosures delivered (Level {level[-1]})")
              for level in LEVELS]
    found += [(f"delivered_by_date.{level}",
               f"Disclosures delivered by the date agreed (Level {level[-1]})")
              for level in LEVELS]
    return found


def applies(row: str, metric: str) -> bool:
    return metric == "in_period" or row.startswith("nominals.")


async def fill(session: AsyncSession, scope: Scope, values: dict[str, dict[Any, Any]]) -> None:
    for bucket, forum, count in await figures.agreed_by_forum(session, scope):
        if forum in FORUMS:
            values[bucket][(f"agreed.{FORUMS[forum]}", "in_period")] = count
    for bucket, forum, count, on_time in await figures.deliveries_by_forum(session, scope):
        if forum in FORUMS:
            values[bucket][(f"delivered.{FORUMS[forum]}", "in_period")] = count
            values[bucket][(f"delivered_by_date.{FORUMS[forum]}", "in_period")] = int(
                on_time or 0)
