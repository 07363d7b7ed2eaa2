"""Every table of the board's report against figures worked out by hand from a fixed year.

The dataset and the arithmetic behind each figure are described in tests/reports_dataset.py.
"""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from typing import Any
from xml.etree import ElementTree

import msgspec
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from disclosure.models import Area
from disclosure.reports import exports, service
from disclosure.reports.metrics import SPECS, TABLES
from disclosure.reports.periods import parse
from disclosure.reports.service import SIDE_BY_SIDE, Report, report, side_by_side
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.reports_dataset import AS_AT, build


@pytest.fixture
async def year_report(workflow: Workflow, clock: FakeClock) -> dict[str, Any]:
    await build(workflow, clock)
    made: dict[str, Any] = {}
    async with workflow.db.read() as session:
        for name, as_at, publish in (("now", None, False), ("as_at", AS_AT, False),
                                     ("published", None, True)):
            made[name] = await report(session, area="derbyshire", period=parse("2025-26"),
                                      produced_at=clock(), as_at=as_at, publish=publish)
    return made


def cells(made: Report, table: str, row: str) -> dict[str, Any]:
    found = next(t for t in made.tables if t.id == table)
    return next(r for r in found.rows if r.id == row).cells


def pick(made: Report, table: str, row: str, *columns: str) -> tuple[Any, ...]:
    got = cells(made, table, row)
    return tuple(got[c] for c in columns)


async def test_every_table_matches_the_figures_worked_out_by_hand(
    year_report: dict[str, Any],
) -> None:
    now: Report = year_report["now"]
    assert [t.id for t in now.tables] == [s.id for s in TABLES]
    assert (now.period, now.previous_period) == ("2025-26", "2024-25")

    # Applications: C, D, K, I ask and E, G know (DVDS); F ask and J know (CSODS). The year
    # before: A and B. Disclosures: A's delivery of 15 April 2025 counts in 2025-26 although A
    # was received in 2024-25; G's urgent disclosure counts; F's two recipients count once.
    dvds = ("applications", "applications_previous", "applications_change", "disclosures",
            "disclosures_previous")
    assert pick(now, "dvds_return", "right_to_ask", *dvds) == (4, 2, 100.0, 1, 0)
    assert pick(now, "dvds_return", "right_to_know", *dvds) == (2, 0, None, 1, 0)
    csods = ("applications", "concerning_registered_sex_offenders", "disclosures")
    assert pick(now, "csods_return", "right_to_ask", *csods) == (1, 1, 1)
    assert pick(now, "csods_return", "right_to_know", *csods) == (1, 0, 0)

    # Closures in 2025-26: A disclosed, B no engagement (its first closure, withdrawn, stays in
    # 2024-25), C withdrawn, D withdrawn (continued as right to know), E not necessary, F
    # disclosed to others, G immediate action, K withdrawn; and L (MAPPA) disclosed to others.
    schemes = ("dvds", "csods", "total", "total_previous")
    assert pick(now, "outcomes", "withdrawn", *schemes) == (3, 0, 3, 1)
    assert pick(now, "outcomes", "no_engagement", *schemes) == (1, 0, 1, 0)
    assert pick(now, "outcomes", "disclosed_to_person_at_risk", *schemes) == (1, 0, 1, 0)
    assert pick(now, "outcomes", "disclosed_to_other", *schemes) == (0, 1, 2, 0)
    assert pick(now, "outcomes", "disclosed_to_other", "mappa") == (1,)
    assert pick(now, "outcomes", "immediate_action", *schemes) == (1, 0, 1, 0)
    assert pick(now, "outcomes", "not_necessary_proportionate", *schemes) == (1, 0, 1, 0)
    assert pick(now, "outcomes", "total", *schemes) == (7, 1, 9, 1)
    # 1 of 7 DVDS closures, 1 of 1 CSODS, 1 of 1 MAPPA, 3 of 9 in all.
    assert pick(now, "outcomes", "disclosure_rate", "dvds", "csods", "mappa", "total",
                "total_previous") == (14.3, 100.0, 100.0, 33.3, 0.0)

    # Days to close: A 37, B 21 (from its reopening), C 29, D 4, K 134 (DVDS ask); E 15, G 1/6
    # (DVDS know); F 21 (CSODS ask); L 14 (MAPPA, due by the 20 July the meeting agreed).
    # Nearest rank: the median is the ceil(n/2)th, the 90th percentile the ceil(0.9n)th.
    # Within the limit: all but A (due 7 April) and K.
    spread = ("closed", "within_limit", "within_35_days", "median_days", "p90_days",
              "longest_days")
    assert pick(now, "timeliness", "dvds.right_to_ask", *spread) == (5, 3, 3, 29.0, 134.0,
                                                                     134.0)
    assert pick(now, "timeliness", "dvds.right_to_know", *spread) == (2, 2, 2, 0.2, 15.0, 15.0)
    assert pick(now, "timeliness", "csods.right_to_ask", *spread) == (1, 1, 1, 21.0, 21.0, 21.0)
    assert pick(now, "timeliness", "mappa.right_to_know", *spread) == (1, 1, 1, 14.0, 14.0, 14.0)
    # Sorted: 0.2, 4, 14, 15, 21, 21, 29, 37, 134.
    assert pick(now, "timeliness", "all", *spread) == (9, 7, 7, 21.0, 134.0, 134.0)
    assert pick(now, "timeliness", "all", "closed_previous", "median_days_previous") == (1, 19.0)
    # Waiting for a meeting, left in 2025-26: D after 3.9 days, C 28.9 (its extension leaves
    # the stage where it was), K 133.9. The policy (dvds-2023) sets the meeting 10 working
    # days: D entered on Friday 1 August, due by the end of Friday 15 August, left on the 5th;
    # C entered on Monday 2 June, due by the end of Monday 16 June, left on 1 July; K entered
    # on 1 November and left in March. In 2024-25 A waited from 10 to 11 March (within) and B
    # from Saturday 1 March (due by the end of Friday 14 March) to the 20th.
    assert pick(now, "timeliness", "dvds.right_to_ask.meeting", "closed", "median_days",
                "longest_days", "within_limit", "within_limit_previous") == (
        3, 28.9, 133.9, 1, 1)
    # Initial checks, 24 hours: C, D and K took two hours, I exactly the 24 (20 March 10:00
    # to 21 March 10:00: on the limit is within it); B's, from its reopening on 10 April to
    # its closure on 1 May, was due by 10:00 on 11 April. In 2024-25 A and B took two hours.
    assert pick(now, "timeliness", "dvds.right_to_ask.initial_checks", "closed",
                "within_limit", "closed_previous", "within_limit_previous") == (5, 4, 2, 2)
    # CSODS (csods-2023 sets the same targets): F's checks took two hours, its meeting was
    # the next morning; J's checks two hours.
    assert pick(now, "timeliness", "csods.right_to_ask.meeting", "closed", "within_limit") == (
        1, 1)
    assert pick(now, "timeliness", "csods.right_to_know.initial_checks", "closed",
                "within_limit") == (1, 1)
    # No policy sets delivery a target, nor MAPPA any stage: blank, not zero.
    assert pick(now, "timeliness", "dvds.right_to_ask.delivery", "within_limit",
                "within_limit_previous") == (None, None)
    assert pick(now, "timeliness", "mappa.right_to_know.delivery", "closed",
                "within_limit") == (1, None)
    # A waited 26 days for delivery (20 March to 15 April), then a day for its notice.
    assert pick(now, "timeliness", "dvds.right_to_ask.delivery", "closed", "median_days") == (
        1, 26.0)
    assert pick(now, "timeliness", "dvds.right_to_ask.notice", "closed", "median_days") == (
        1, 1.0)
    # F's two deliveries: the delivery stage ran from 10 to 22 September.
    assert pick(now, "timeliness", "csods.right_to_ask.delivery", "median_days") == (12.0,)
    assert pick(now, "timeliness", "dvds.right_to_ask.extension.partner_agency_delay",
                "extensions", "closed") == (1, None)

    # 31 March 2026: I waiting for its meeting (due 17 April), J in checks (due 2 February).
    # 31 March 2025: A awaiting delivery; B was withdrawn then (reopened in April).
    both = ("open", "overdue", "open_previous", "overdue_previous")
    assert pick(now, "open_at_period_end", "awaiting_meeting", *both) == (1, 0, 0, 0)
    assert pick(now, "open_at_period_end", "checks", *both) == (1, 1, 0, 0)
    assert pick(now, "open_at_period_end", "awaiting_delivery", *both) == (0, 0, 1, 0)
    assert pick(now, "open_at_period_end", "total", *both) == (2, 1, 1, 0)

    # North: C, I, F received; A and F disclosed; A 37, C 29, F 21 days. South: D, E, G, J, K
    # received; G disclosed; B 21, D 4, E 15, G 0.2, K 134 days. L has no division.
    division = ("applications", "disclosures", "median_days", "applications_previous")
    assert pick(now, "by_division", "north", *division) == (3, 2, 29.0, 1)
    assert pick(now, "by_division", "south", *division) == (5, 1, 15.0, 1)
    assert pick(now, "by_division", "unassigned", *division) == (1, 1, 14.0, 0)

    reasons = ("dvds", "csods", "total", "total_previous")
    # Every applicant of the dataset is the person at risk's parent.
    assert pick(now, "third_party_and_reasons", "third_party_applications", *reasons) == (
        4, 1, 5, 2)
    assert pick(now, "third_party_and_reasons", "reason.not_necessary_proportionate",
                *reasons) == (1, 0, 1, 0)
    assert pick(now, "third_party_and_reasons", "withdrawn", *reasons) == (3, 0, 3, 1)
    assert pick(now, "third_party_and_reasons", "continued_as_right_to_know", *reasons) == (
        1, 0, 1, 0)

    # Equality, always suppressed: every closure but F's and L's has a male subject aged 35-44
    # with no ethnicity recorded; F's is White British, L's (the nominal) has nothing recorded.
    # Persons at risk: seven women aged 25-34 and F's girl. Applicants: six closures (not E,
    # G or L, right to know), F's is a woman.
    equality = ("closed", "disclosed", "not_disclosed", "other")
    assert pick(now, "equality", "subject.sex.male", *equality) == (8, "<5", "<5", 5)
    assert pick(now, "equality", "subject.ethnicity.not_recorded", *equality) == (
        8, "<5", "<5", 5)
    assert pick(now, "equality", "subject.sex.not_recorded", *equality) == ("<5", "<5", 0, 0)
    assert pick(now, "equality", "subject.ethnicity.white", *equality) == ("<5", "<5", 0, 0)
    assert pick(now, "equality", "person_at_risk.sex.female", *equality) == (8, "<5", "<5", 5)
    assert pick(now, "equality", "applicant.sex.not_recorded", *equality) == (5, "<5", 0, "<5")
    assert pick(now, "equality", "applicant.ethnicity.not_recorded", "closed") == (6,)

    # MAPP: M1 (Level 3) found no disclosure needed; M2 (Level 2) agreed one, delivered on 15
    # July, before the 20 July agreed; M3 (Level 2) has no consideration yet.
    mapp = ("in_period", "in_period_previous", "on_last_day")
    assert pick(now, "mapp", "meetings.level_3", *mapp) == (1, 0, None)
    assert pick(now, "mapp", "considered.level_3", "in_period") == (1,)
    assert pick(now, "mapp", "consideration_rate.level_3", "in_period") == (100.0,)
    assert pick(now, "mapp", "no_disclosure_needed.level_3", "in_period") == (1,)
    assert pick(now, "mapp", "meetings.level_2", "in_period") == (2,)
    assert pick(now, "mapp", "considered.level_2", "in_period") == (1,)
    assert pick(now, "mapp", "consideration_rate.level_2", "in_period") == (50.0,)
    assert pick(now, "mapp", "no_disclosure_needed.level_2", "in_period") == (0,)
    assert pick(now, "mapp", "agreed.level_2", "in_period") == (1,)
    assert pick(now, "mapp", "delivered.level_2", "in_period") == (1,)
    assert pick(now, "mapp", "delivered_by_date.level_2", "in_period") == (1,)
    assert pick(now, "mapp", "agreed.level_3", "in_period") == (0,)
    # Nominals in the community: on 31 March 2026 only N1, at Level 2 (N2 is in custody, N3 at
    # Level 1); over the year N1 at Level 3 then 2, and N2 at Level 2. On 31 March 2025 and
    # over 2024-25, N1 at Level 3.
    nominals = ("in_period", "on_last_day", "in_period_previous", "on_last_day_previous")
    assert pick(now, "mapp", "nominals.level_2.category_1", *nominals) == (1, 1, 0, 0)
    assert pick(now, "mapp", "nominals.level_2.category_2", *nominals) == (1, 0, 0, 0)
    assert pick(now, "mapp", "nominals.level_2.total", *nominals) == (2, 1, 0, 0)
    assert pick(now, "mapp", "nominals.level_3.category_1", *nominals) == (1, 0, 1, 1)
    assert pick(now, "mapp", "nominals.level_3.total", *nominals) == (1, 0, 1, 1)

    # No review drawn yet: every count is zero.
    assert pick(now, "decision_reviews", "total", "reviewed", "defensible") == (0, 0)


async def test_as_at_gives_the_figures_as_they_stood_before_a_correction(
    year_report: dict[str, Any],
) -> None:
    """K's withdrawal on 15 March 2026 was entered on 10 April: on 1 April K was open."""
    before: Report = year_report["as_at"]
    now: Report = year_report["now"]
    assert before.as_at == AS_AT
    assert pick(before, "outcomes", "withdrawn", "dvds") == (2,)
    assert pick(now, "outcomes", "withdrawn", "dvds") == (3,)
    assert pick(before, "outcomes", "disclosure_rate", "dvds", "total") == (16.7, 37.5)
    assert pick(before, "open_at_period_end", "awaiting_meeting", "open", "overdue") == (2, 1)
    assert pick(before, "open_at_period_end", "total", "open", "overdue") == (3, 2)
    # K's stay waiting for its meeting ended with the withdrawal entered later.
    assert pick(before, "timeliness", "dvds.right_to_ask.meeting", "closed",
                "within_limit") == (2, 1)
    # Sorted without K: 4, 21, 29, 37.
    assert pick(before, "timeliness", "dvds.right_to_ask", "closed", "median_days",
                "longest_days") == (4, 21.0, 37.0)
    # Applications did not change: K was received in November.
    assert pick(before, "dvds_return", "right_to_ask", "applications") == (4,)


async def test_publishing_suppresses_small_counts_in_every_table(
    year_report: dict[str, Any],
) -> None:
    published: Report = year_report["published"]
    assert published.published
    # 4 right-to-ask applications: under 5, and the change beside it would give it away.
    assert pick(published, "dvds_return", "right_to_ask", "applications",
                "applications_previous", "applications_change") == ("<5", "<5", None)
    assert pick(published, "outcomes", "total", "total") == (9,)
    assert pick(published, "open_at_period_end", "total", "open") == ("<5",)
    # A row with a small count loses its days too.
    assert pick(published, "timeliness", "csods.right_to_ask", "closed", "median_days") == (
        "<5", None)
    assert pick(published, "timeliness", "all", "closed", "median_days") == (9, 21.0)
    for table in published.tables:
        for row in table.rows:
            for value in row.cells.values():
                assert not (isinstance(value, int) and 0 < value < 5), (table.id, row.id)


def read_ods(data: bytes) -> dict[str, list[list[str]]]:
    """A second reader, independent of the writer: the sheets of content.xml, by name."""
    ns = {
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
        "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    }
    root = ElementTree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("content.xml"))
    sheets: dict[str, list[list[str]]] = {}
    for sheet in root.iter(f"{{{ns['table']}}}table"):
        lines = []
        for row in sheet.iter(f"{{{ns['table']}}}table-row"):
            line: list[str] = []
            for cell in row.iter(f"{{{ns['table']}}}table-cell"):
                repeat = int(cell.get(f"{{{ns['table']}}}number-columns-repeated", "1"))
                text = "".join(p.text or "" for p in cell.iter(f"{{{ns['text']}}}p"))
                line += [text] * min(repeat, 100)
            lines.append(line)
        sheets[sheet.get(f"{{{ns['table']}}}name", "")] = lines
    return sheets


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


async def test_the_ods_workbook_reads_back_the_same_figures(
    year_report: dict[str, Any],
) -> None:
    now: Report = year_report["now"]
    sheets = read_ods(exports.ods(now))
    assert list(sheets) == [t.id for t in now.tables]
    for table in now.tables:
        lines = sheets[table.id]
        header = lines[0]
        assert header[:2] == ["row", "label"]
        assert header[2:] == [c.id for c in table.columns]
        assert lines[1][2:] == [c.label for c in table.columns]
        for row, line in zip(table.rows, lines[2:], strict=True):
            assert line[0] == row.id
            assert [v for v in line[2:]] == [_shown(row.cells[c.id]) for c in table.columns]
    # And one figure by hand, through the second reader alone.
    outcomes = {line[0]: dict(zip(sheets["outcomes"][0], line, strict=False))
                for line in sheets["outcomes"][2:]}
    assert outcomes["withdrawn"]["dvds"] == "3" and outcomes["total"]["total"] == "9"


async def test_csv_and_html_carry_the_same_figures(year_report: dict[str, Any]) -> None:
    now: Report = year_report["now"]
    one = exports.render(now, "csv", table="dvds_return").decode()
    assert one.splitlines()[1].startswith("right_to_ask,Right to ask,4,2,100.0,1,0,")
    every = exports.render(now, "csv").decode().splitlines()
    assert every[0] == ",".join(exports.LONG_COLUMNS)
    assert "outcomes,withdrawn,Withdrawn,dvds,DVDS 2025-26,3" in every
    assert len(every) == 1 + sum(len(t.rows) * len(t.columns) for t in now.tables)
    page = exports.render(now, "html", area_name="Derbyshire Constabulary").decode()
    assert "annual report 2025-26" in page and "Derbyshire Constabulary" in page
    for spec in SPECS.values():
        assert f'id="{spec.id}"' in page
    assert re.search(r"<th scope=\"row\">All closures</th>\s*<td>7</td>", page)


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_statements_read_side_by_side_see_the_same_moment(workflow: Workflow) -> None:
    # The report's statements run on two connections at once on PostgreSQL; an area added
    # while they read is seen by none of them, on either connection.
    added = False

    async def areas(session: AsyncSession) -> tuple[int, int]:
        nonlocal added
        if not added:
            added = True
            async with workflow.db.write() as other, other.begin():
                other.add(Area(code="rutland", name="Rutland"))
        # Each job takes a while, so that both connections take some.
        await asyncio.sleep(0.1)
        return (await session.scalar(select(func.count()).select_from(Area)) or 0,
                await session.scalar(text("SELECT pg_backend_pid()")) or 0)

    async with workflow.db.report() as session:
        before = await session.scalar(select(func.count()).select_from(Area))
        read = await side_by_side(session, {f"job{i}": areas for i in range(6)})
    async with workflow.db.read() as session:
        after = await session.scalar(select(func.count()).select_from(Area))
    assert added and after == before + 1 == 2
    assert {count for count, _ in read.values()} == {before}
    assert len({pid for _, pid in read.values()}) == SIDE_BY_SIDE == 2


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_reports_beyond_those_reading_side_by_side_read_on_their_own_connection(
    workflow: Workflow, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Many reports at once never wait on one another for connections: past the limit, each
    # reads on the connection it has, and its figures are the same.
    await build(workflow, clock)
    monkeypatch.setattr(service, "MOST_AT_ONCE", 1)

    async def backend(session: AsyncSession) -> int:
        # Long enough that the other reports have all begun while the first reads.
        await asyncio.sleep(0.3)
        return await session.scalar(text("SELECT pg_backend_pid()")) or 0

    async def one() -> tuple[int, set[int], Report]:
        async with workflow.db.report() as session:
            own = await session.scalar(text("SELECT pg_backend_pid()")) or 0
            read = await side_by_side(session, {f"job{i}": backend for i in range(4)})
            made = await report(session, area="derbyshire", period=parse("2025-26"),
                                produced_at=clock())
        return own, set(read.values()), made

    reports = await asyncio.gather(*(one() for _ in range(4)))
    alone = [(own, pids) for own, pids, _ in reports if pids == {own}]
    assert len(alone) == 3 and len(reports) - len(alone) == 1
    assert len({msgspec.json.encode(made.tables) for _, _, made in reports}) == 1
