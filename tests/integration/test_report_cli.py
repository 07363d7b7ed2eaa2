"""`disclosure report`, as a new user runs it: an ODS workbook for a year, read back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from disclosure.cli import main
from disclosure.db import Database
from disclosure.policy import LONDON, load_policy_book
from disclosure.reports.periods import last_financial_year
from disclosure.users import Users
from disclosure.workflow import Workflow
from tests.conftest import FakeClock
from tests.integration.test_reports import read_ods
from tests.reports_dataset import build


async def seed(url: str) -> None:
    clock = FakeClock(datetime(2026, 11, 7, 12, tzinfo=UTC))
    workflow = Workflow(Database(url), load_policy_book(None), now=clock)
    await Users(workflow.db, now=clock).add_area(
        "derbyshire", name="Derbyshire Constabulary", divisions=["north", "south"])
    await build(workflow, clock)
    await workflow.db.dispose()


def test_a_year_written_as_an_ods_workbook(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(seed(database_url))
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)
    target = tmp_path / "derbyshire-2025-26.ods"
    assert main(["report", "--period", "2025-26", "--area", "derbyshire", "--format", "ods",
                 "-o", str(target)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{target}: 2025-26 report for derbyshire (10 tables, ods)")
    sheets = read_ods(target.read_bytes())
    returns = {line[0]: dict(zip(sheets["dvds_return"][0], line, strict=False))
               for line in sheets["dvds_return"][2:]}
    assert (returns["right_to_ask"]["applications"], returns["right_to_know"]["disclosures"]) == (
        "4", "1")
    # Published: the same figure suppressed; and by default, the last financial year.
    published = tmp_path / "published.json"
    assert main(["report", "--area", "derbyshire", "--publish", "-o", str(published)]) == 0
    text = published.read_text()
    latest = last_financial_year(datetime.now(LONDON).date())
    assert f'"period":"{latest.key}"' in text and '"published":true' in text


@pytest.mark.parametrize(("args", "says"), [
    (["--period", "2025-27", "--area", "derbyshire"], "--period: 2025-27"),
    (["--period", "2025-26", "--area", "nowhere"], "--area: no area 'nowhere'"),
    (["--period", "2025-26", "--area", "derbyshire", "--as-at", "2026-04-01"], "--as-at"),
    (["--period", "2025-26", "--area", "derbyshire", "--format", "ods"], "--output"),
])
def test_bad_arguments_say_what_is_wrong(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    args: list[str], says: str,
) -> None:
    monkeypatch.setenv("DISCLOSURE_DATABASE_URL", database_url)
    assert main(["report", *args]) == 2
    assert says in capsys.readouterr().err

