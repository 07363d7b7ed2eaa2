"""The board's report: every table for one area and period, as the records stood at a moment.

Callable from Python (`report`), from the API and from `disclosure report`; each table is built
from a few set-based statements (disclosure/reports/figures.py), and Python only arranges
their grouped rows into tables.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from functools import partial
from typing import Any, get_args, get_type_hints

import msgspec
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure.models import Division
from disclosure.outcomes import OUTCOMES
from disclosure.reports import figures, mapp
from disclosure.reports.figures import STAGES, Scope
from disclosure.reports.metrics import SPECS, TABLES
from disclosure.reports.periods import Period
from disclosure.reports.tables import Cell, Table, TableSpec, build, suppress
from disclosure.schemas import ExtendDeadline
from disclosure.vocabularies import ETHNIC_GROUPS, ethnic_group

Key = tuple[str, str]
Values = dict[str, dict[Key, Cell]]

SCHEMES = ("dvds", "csods", "mappa")
KINDS = (("dvds", "right_to_ask"), ("dvds", "right_to_know"), ("csods", "right_to_ask"),
         ("csods", "right_to_know"), ("mappa", "right_to_know"))
ROUTE_NAMES = {"right_to_ask": "Right to ask", "right_to_know": "Right to know"}
SCHEME_NAMES = {"dvds": "DVDS", "csods": "CSODS", "mappa": "MAPPA"}
DISCLOSED = frozenset({"disclosed_to_person_at_risk", "disclosed_to_other"})
NOT_DISCLOSED = frozenset({"no_information", "not_necessary_proportionate"})
EXTENSION_CATEGORIES: tuple[str, ...] = get_args(get_type_hints(ExtendDeadline)["category"])
SEXES = ("female", "male", "other", "not_known")
AGE_BANDS = ("under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus")
ROLES = (("applicant", "Applicant"), ("person_at_risk", "Person at risk"),
         ("subject", "Subject"))
FINDINGS = ("defensible", "concerns", "learning_point")
REVIEWED_OUTCOMES = ("no_information", "not_necessary_proportionate",
                     "disclosed_to_person_at_risk", "disclosed_to_other",
                     "disclosure_not_delivered", "referred_safeguarding")


# What the report's transactions ask of PostgreSQL: its statements are short, so compiling
# them (JIT) costs more than it saves; and each spread sorts two years of an area's closures
# or stages, which fit in memory.
POSTGRESQL_SETTINGS = {"jit": "off", "work_mem": "64MB"}
# The statements of a report (functions of `figures`), the longest first, so that those run
# side by side end together.
FIGURES = ("stage_days", "applications", "equality", "closure_days", "disclosures",
           "extensions", "closures", "findings", "reviewed")
# How many connections a report reads on at once, on PostgreSQL: the statements are each one
# process's work, so two keep two cores busy where one leaves the second idle.
SIDE_BY_SIDE = 2
# At most this many reports of one process read side by side at once, each holding its own
# connection and SIDE_BY_SIDE more; one beyond them reads on its own connection, as on SQLite,
# so that reports never wait on one another for the pool's connections (`disclosure.db`).
MOST_AT_ONCE = 6
_reading = 0

Job = Callable[[AsyncSession], Awaitable[Any]]
SNAPSHOT_ID = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")


async def side_by_side(session: AsyncSession, jobs: dict[str, Job]) -> dict[str, Any]:
    """What each job reads. On PostgreSQL on SIDE_BY_SIDE connections at once, each in a
    read-only transaction on the snapshot of `session`'s as it stands now, so every figure
    is of the same moment however many connections read them; on SQLite, or with
    MOST_AT_ONCE reports of this process already reading so, one after the other on
    `session`."""
    global _reading
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and _reading < MOST_AT_ONCE:
        _reading += 1
        try:
            return await _side_by_side(session, jobs)
        finally:
            _reading -= 1
    if postgresql:
        await _settings(session)
    return {name: await job(session) for name, job in jobs.items()}


async def _settings(session: AsyncSession) -> None:
    for name, value in POSTGRESQL_SETTINGS.items():
        await session.execute(text(f"SET LOCAL {name} = '{value}'"))


async def _side_by_side(session: AsyncSession, jobs: dict[str, Job]) -> dict[str, Any]:
    snapshot = str(await session.scalar(text("SELECT pg_export_snapshot()")))
    # A utility statement takes no parameters: the server's own identifier is written in,
    # once it is seen to be one (hex words and dashes).
    if not SNAPSHOT_ID.fullmatch(snapshot):
        raise RuntimeError(f"unexpected snapshot identifier {snapshot!r}")
    waiting = list(jobs.items())
    done: dict[str, Any] = {}

    async def reader() -> None:
        async with AsyncSession(session.bind) as helper:
            await helper.connection(execution_options={
                "isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
            await helper.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            await _settings(helper)
            while waiting:
                name, job = waiting.pop(0)
                done[name] = await job(helper)

    try:
        async with asyncio.TaskGroup() as readers:
            for _ in range(SIDE_BY_SIDE):
                readers.create_task(reader())
    except ExceptionGroup as failed:
        # The first failure as it was raised (a dropped connection answers 503, as elsewhere);
        # the other reader was cancelled with it.
        raise failed.exceptions[0] from None
    return {name: done[name] for name in jobs}


class Report(msgspec.Struct, kw_only=True):
    """Every table of the report, with what it covers and how it was made."""

    area: str
    period: str
    first_day: date
    last_day: date
    previous_period: str
    # The moment the figures stand at: as the records stood then (None: as they stand now).
    as_at: datetime | None
    produced_at: datetime
    # Small counts are shown as "<threshold" in every table (the equality table always).
    published: bool
    suppress_below: int
    tables: list[Table]


def _label(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _values() -> Values:
    return {"current": {}, "previous": {}}


def _add(values: Values, bucket: str, row: str, metric: str, amount: Cell) -> None:
    cells = values[bucket]
    held = cells.get((row, metric), 0)
    if isinstance(held, int | float) and isinstance(amount, int | float):
        cells[(row, metric)] = held + amount
    else:
        cells[(row, metric)] = amount


def _rate(part: Cell, whole: Cell) -> Cell:
    if not isinstance(part, int | float) or not isinstance(whole, int | float) or not whole:
        return None
    return round(part * 100.0 / whole, 1)


def _days(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


class _Builder:
    """Builds each table of one report from the grouped rows of its statements."""

    def __init__(self, scope: Scope, divisions: list[tuple[str, str]],
                 read: dict[str, Any], mapp_values: Values):
        self.scope = scope
        self.divisions = divisions
        self.read = read
        self.mapp_values = mapp_values

    def once(self, name: str) -> figures.Figures:
        """A statement's grouped rows, read once however many tables use them."""
        rows: figures.Figures = self.read[name]
        return rows

    def table(self, spec: TableSpec, rows: Iterable[tuple[str, str]], values: Values,
              applies: Callable[[str, str], bool] | None = None) -> Table:
        rows = list(rows)
        if applies is not None:
            for bucket in values.values():
                for row, _ in rows:
                    for metric in spec.metrics:
                        if not applies(row, metric.id):
                            bucket[(row, metric.id)] = None
        return build(spec, rows, values["current"], values["previous"],
                     current_label=self.scope.current.label,
                     previous_label=self.scope.previous.label)

    def returns(self) -> list[Table]:
        got = self.once("applications")
        delivered = self.once("disclosures")
        tables = []
        for scheme, spec in (("dvds", SPECS["dvds_return"]), ("csods", SPECS["csods_return"])):
            values = _values()
            for bucket, kind, route, _, count, _, offenders in got:
                if kind == scheme:
                    _add(values, bucket, route, "applications", count)
                    _add(values, bucket, route, "concerning_registered_sex_offenders",
                         offenders)
            for bucket, kind, route, _, count in delivered:
                if kind == scheme:
                    _add(values, bucket, route, "disclosures", count)
            tables.append(self.table(spec, ROUTE_NAMES.items(), values))
        return tables

    def outcomes_and_reasons(self) -> list[Table]:
        closed = self.once("closures")
        got = self.once("applications")
        outcomes, reasons = _values(), _values()
        for bucket, scheme, _, _, outcome, event, count, _, _ in closed:
            code = outcome or "not_known"
            for column in (scheme, "total"):
                _add(outcomes, bucket, code, column, count)
                _add(outcomes, bucket, "total", column, count)
                if outcome in DISCLOSED:
                    _add(outcomes, bucket, "disclosed", column, count)
                if outcome in NOT_DISCLOSED:
                    _add(reasons, bucket, f"reason.{outcome}", column, count)
                if outcome == "withdrawn":
                    _add(reasons, bucket, "withdrawn", column, count)
                if event == "continue_as_right_to_know":
                    _add(reasons, bucket, "continued_as_right_to_know", column, count)
        for bucket, scheme, _, _, _, third_party, _ in got:
            for column in (scheme, "total"):
                _add(reasons, bucket, "third_party_applications", column, third_party)
        columns = (*SCHEMES, "total")
        for cells in outcomes.values():
            for column in columns:
                cells[("disclosure_rate", column)] = _rate(
                    cells.pop(("disclosed", column), 0), cells.get(("total", column), 0))
        rows = [(code, _label(code)) for code in OUTCOMES]
        if any(key[0] == "not_known" for cells in outcomes.values() for key in cells):
            rows.append(("not_known", "Not known (closing record erased)"))
        rows += [("total", "All closures"), ("disclosure_rate", "Disclosure rate %")]
        reason_rows = [
            ("third_party_applications", "Third-party applications"),
            ("reason.no_information", "No disclosure: no information held"),
            ("reason.not_necessary_proportionate",
             "No disclosure: not necessary or proportionate"),
            ("withdrawn", "Withdrawn"),
            ("continued_as_right_to_know", "Continued as right to know"),
        ]
        return [self.table(SPECS["outcomes"], rows, outcomes),
                self.table(SPECS["third_party_and_reasons"], reason_rows, reasons)]

    def timeliness(self) -> Table:
        values = _values()
        spec = SPECS["timeliness"]
        for bucket, scheme, route, _, _, _, _, in_limit, in_35 in self.once("closures"):
            for row in (f"{scheme}.{route}", "all"):
                _add(values, bucket, row, "within_limit", in_limit or 0)
                _add(values, bucket, row, "within_35_days", in_35)
        spreads = [(b, "all" if grouping == "all" else f"{s}.{r}", *rest)
                   for b, s, r, _, *rest, grouping in self.once("closure_days")
                   if grouping != "place"]
        stages = [(b, f"{s}.{r}.{STAGES[st]}", *rest)
                  for b, s, r, st, *rest in self.once("stage_days")]
        spreads += [stage[:-1] for stage in stages]
        for bucket, row, count, median, p90, longest in spreads:
            values[bucket][(row, "closed")] = count
            values[bucket][(row, "median_days")] = _days(median)
            values[bucket][(row, "p90_days")] = _days(p90)
            values[bucket][(row, "longest_days")] = _days(longest)
        for bucket, row, *_, in_limit in stages:
            # Blank where the policy set none of these stages a target.
            values[bucket][(row, "within_limit")] = in_limit
        for bucket, scheme, route, category, count in self.once("extensions"):
            _add(values, bucket, f"{scheme}.{route}.extension.{category}", "extensions", count)
        rows: list[tuple[str, str]] = [("all", "All requests closed")]
        for scheme, route in KINDS:
            name = f"{SCHEME_NAMES[scheme]} {ROUTE_NAMES[route].lower()}"
            rows.append((f"{scheme}.{route}", f"{name}: closed"))
            rows += [(f"{scheme}.{route}.{stage}", f"{name}: stage {_label(stage).lower()}")
                     for state, stage in STAGES.items()
                     if route == "right_to_ask"
                     or state not in ("awaiting_meeting", "awaiting_notice")]
            rows += [(f"{scheme}.{route}.extension.{category}",
                      f"{name}: extensions, {_label(category).lower()}")
                     for category in EXTENSION_CATEGORIES]

        def applies(row: str, metric: str) -> bool:
            if ".extension." in row:
                return metric == "extensions"
            if metric == "extensions":
                return False
            stage = row.count(".") == 2
            if stage and metric == "within_limit":
                return any(cells.get((row, metric)) is not None for cells in values.values())
            return not (stage and metric == "within_35_days")

        return self.table(spec, rows, values, applies)

    def open_at_period_end(self) -> Table:
        values = _values()
        for bucket in ("current", "previous"):
            for state, count, overdue in self.once(f"open_{bucket}"):
                for row in (state, "total"):
                    _add(values, bucket, row, "open", count)
                    _add(values, bucket, row, "overdue", int(overdue or 0))
        rows = [(state, _label(state)) for state in STAGES] + [("total", "All open")]
        return self.table(SPECS["open_at_period_end"], rows, values)

    def by_division(self) -> Table:
        values = _values()
        known = {code for code, _ in self.divisions}

        def row_of(division: str | None) -> str:
            return division if division in known else "unassigned"

        for bucket, _, _, division, count, _, _ in self.once("applications"):
            _add(values, bucket, row_of(division), "applications", count)
        for bucket, _, _, division, count in self.once("disclosures"):
            _add(values, bucket, row_of(division), "disclosures", count)
        for bucket, _, _, place, _, median, _, _, grouping in self.once("closure_days"):
            if grouping == "place":
                values[bucket][(place, "median_days")] = _days(median)
        rows = [*self.divisions, ("unassigned", "No registered division")]
        return self.table(SPECS["by_division"], rows, values)

    def equality(self) -> Table:
        values = _values()
        read = self.once("equality")
        for bucket, role, sex, age_band, ethnicity, outcome, count in read:
            who = "person_at_risk" if role == "child" else role
            group = ethnic_group(ethnicity) or "not_recorded"
            column = ("disclosed" if outcome in DISCLOSED else
                      "not_disclosed" if outcome in NOT_DISCLOSED else "other")
            for dimension, value in (("sex", sex or "not_recorded"),
                                     ("age_band", age_band or "not_recorded"),
                                     ("ethnicity", group)):
                row = f"{who}.{dimension}.{value}"
                _add(values, bucket, row, "closed", count)
                _add(values, bucket, row, column, count)
        groups = {**ETHNIC_GROUPS, "not_recorded": "Not recorded"}
        rows = []
        for role, name in ROLES:
            rows += [(f"{role}.sex.{sex}", f"{name}: {_label(sex).lower()}")
                     for sex in (*SEXES, "not_recorded")]
            rows += [(f"{role}.age_band.{band}", f"{name}: aged {band.replace('_', '-')}")
                     for band in (*AGE_BANDS, "not_recorded")]
            rows += [(f"{role}.ethnicity.{group}", f"{name}: {label}")
                     for group, label in groups.items()]
        return self.table(SPECS["equality"], rows, values)

    def decision_reviews(self) -> Table:
        values = _values()
        for bucket, outcome, finding, count in self.once("findings"):
            for row in (outcome, "total"):
                _add(values, bucket, row, finding, count)
        for bucket, outcome, count in self.once("reviewed"):
            for row in (outcome, "total"):
                _add(values, bucket, row, "reviewed", count)
        rows = [(code, _label(code)) for code in REVIEWED_OUTCOMES]
        return self.table(SPECS["decision_reviews"], [*rows, ("total", "All reviewed")],
                          values)

    def mapp(self) -> Table:
        return self.table(SPECS["mapp"], mapp.rows(), self.mapp_values, mapp.applies)


async def report(
    session: AsyncSession,
    *,
    area: str,
    period: Period,
    produced_at: datetime,
    as_at: datetime | None = None,
    publish: bool = False,
    suppress_below: int = 5,
) -> Report:
    """Every table of the report for one area and period (and the period before it)."""
    divisions = [(code, name) for code, name in (await session.execute(
        select(Division.code, Division.name).where(Division.area == area)
        .order_by(Division.code)
    )).all()]
    scope = Scope(area=area, current=period, previous=period.previous(), as_at=as_at,
                  divisions=tuple(code for code, _ in divisions))
    mapp_values = _values()
    jobs: dict[str, Job] = {name: partial(getattr(figures, name), scope=scope)
                            for name in FIGURES}
    jobs |= {
        "open_current": partial(figures.open_at, scope=scope, end=scope.current.end),
        "open_previous": partial(figures.open_at, scope=scope, end=scope.previous.end),
        "mapp": partial(mapp.fill, scope=scope, values=mapp_values),
    }
    builder = _Builder(scope, divisions, await side_by_side(session, jobs), mapp_values)
    made = [*builder.returns(), *builder.outcomes_and_reasons(), builder.timeliness(),
            builder.open_at_period_end(), builder.by_division(), builder.mapp(),
            builder.equality(), builder.decision_reviews()]
    by_id = {table.id: table for table in made}
    tables = []
    for spec in TABLES:
        table = by_id[spec.id]
        if publish or spec.id == "equality":
            table = suppress(table, spec, suppress_below)
        tables.append(table)
    return Report(
        area=area, period=period.key, first_day=period.first, last_day=period.last,
        previous_period=scope.previous.key, as_at=as_at, produced_at=produced_at,
        published=publish, suppress_below=suppress_below, tables=tables,
    )

