"""Policy versions: lookup by scheme and date, and the force override file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

from disclosure.policy import (
    DEFAULT_DUE_SOON_DAYS,
    DEFAULT_EXTENSION_CAP_DAYS,
    Limit,
    PolicyBook,
    PolicyError,
    PolicySettings,
    load_policy_book,
)

LONDON = ZoneInfo("Europe/London")
BOOK = load_policy_book(None).book


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the built-in versions -------------------------------------------------------------------


def test_built_in_figures() -> None:
    for code in ("dvds-2014", "dvds-2016"):
        assert BOOK.by_code(code).overall == Limit(35, "calendar_days")
        assert BOOK.by_code(code).stages == {}
    # The 35 days apply from the national roll-out, not from the 2016 revision.
    assert BOOK.by_code("dvds-2014").effective_from == date(2014, 3, 8)
    assert BOOK.by_code("csods-2010").uncertain
    dvds = BOOK.by_code("dvds-2023")
    assert dvds.overall == Limit(28, "calendar_days")
    assert dvds.stages == {
        "initial_checks": Limit(24, "hours"),
        "meeting": Limit(10, "working_days"),
    }
    assert dvds.effective_from == date(2023, 4, 1)
    assert dvds.uncertain
    assert BOOK.by_code("csods-2010").overall == Limit(45, "calendar_days")
    assert BOOK.by_code("csods-2023").overall == Limit(28, "calendar_days")
    assert BOOK.by_code("csods-2023").uncertain
    assert BOOK.by_code("mappa").overall is None
    assert {v.extension_cap_days for v in BOOK.versions} == {DEFAULT_EXTENSION_CAP_DAYS}


def test_versions_are_listed_oldest_first() -> None:
    starts = [v.effective_from for v in BOOK.versions]

    assert starts == sorted(starts)
    assert starts[0] == date(2009, 1, 1)


# --- which version applies -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "code"),
    [
        # 23:59:59 BST on 31 March 2023 is still the old guidance.
        (datetime(2023, 3, 31, 22, 59, 59, tzinfo=UTC), "dvds-2016"),
        (datetime(2023, 3, 31, 23, 59, 59, tzinfo=LONDON), "dvds-2016"),
        # Midnight London on 1 April 2023 is 23:00 UTC on 31 March.
        (datetime(2023, 3, 31, 23, 0, tzinfo=UTC), "dvds-2023"),
        (datetime(2023, 4, 1, 0, 0, tzinfo=LONDON), "dvds-2023"),
        (datetime(2030, 1, 1, tzinfo=UTC), "dvds-2023"),
        (datetime(2016, 12, 1, 0, 0, tzinfo=LONDON), "dvds-2016"),
        (datetime(2016, 11, 30, 23, 59, tzinfo=LONDON), "dvds-2014"),
        (datetime(2014, 3, 8, 0, 0, tzinfo=LONDON), "dvds-2014"),
    ],
)
def test_dvds_version_switches_at_london_midnight(at: datetime, code: str) -> None:
    assert BOOK.version_for("dvds", at).code == code


@pytest.mark.parametrize(
    ("scheme", "at", "code"),
    [
        ("csods", datetime(2023, 3, 31, 12, tzinfo=LONDON), "csods-2010"),
        ("csods", datetime(2023, 4, 1, 12, tzinfo=LONDON), "csods-2023"),
        ("mappa", datetime(2026, 6, 1, 12, tzinfo=LONDON), "mappa"),
    ],
)
def test_other_schemes_pick_their_version_by_date(scheme: str, at: datetime, code: str) -> None:
    assert BOOK.version_for(scheme, at).code == code


@pytest.mark.parametrize(
    ("scheme", "at", "message"),
    [
        (
            "dvds",
            datetime(2014, 3, 7, 23, 59, tzinfo=LONDON),
            "no dvds policy was in force on 2014-03-07; its earliest version starts 2014-03-08",
        ),
        ("clares_law", datetime(2024, 1, 1, tzinfo=UTC), "unknown scheme 'clares_law'"),
        ("dvds", datetime(2024, 1, 1), "timezone-aware"),
    ],
)
def test_version_for_refuses_what_it_cannot_answer(scheme: str, at: datetime, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        BOOK.version_for(scheme, at)


def test_unknown_code_is_refused() -> None:
    with pytest.raises(PolicyError, match="unknown policy version 'dvds-1999'"):
        BOOK.by_code("dvds-1999")


def test_two_versions_starting_the_same_day_are_refused() -> None:
    clash = BOOK.by_code("dvds-2023")
    renamed = msgspec.structs.replace(clash, code="x")

    with pytest.raises(PolicyError, match="'dvds-2023' and 'x' both start 2023-04-01"):
        PolicyBook([clash, renamed])


# --- the override file -----------------------------------------------------------------------


def test_no_override_file_gives_the_defaults() -> None:
    settings = load_policy_book(None, nation="scotland")

    assert settings.nation == "scotland"
    assert settings.due_soon_days == DEFAULT_DUE_SOON_DAYS
    assert settings.due_soon.days == DEFAULT_DUE_SOON_DAYS


def test_good_override_changes_figures_and_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
nation = "wales"
due_soon_days = 3

[[version]]
code = "csods-2023"
overall = { amount = 21, unit = "calendar_days" }
stages.meeting = { amount = 5, unit = "working_days" }
extension_cap_days = 14
uncertain = false
""",
    )

    settings = load_policy_book(path)

    assert isinstance(settings, PolicySettings)
    assert settings.nation == "wales"
    assert settings.due_soon_days == 3
    csods = settings.book.by_code("csods-2023")
    assert csods.overall == Limit(21, "calendar_days")
    assert csods.stages == {
        "initial_checks": Limit(24, "hours"),
        "meeting": Limit(5, "working_days"),
    }
    assert csods.extension_cap_days == 14
    assert not csods.uncertain
    assert str(path) in csods.source
    assert settings.book.by_code("dvds-2023") == BOOK.by_code("dvds-2023")


def test_override_can_add_a_new_version(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[version]]
code = "dvds-2026"
scheme = "dvds"
effective_from = 2026-06-01
overall = { amount = 21, unit = "calendar_days" }
stages.initial_checks = { amount = 12, unit = "hours" }
source = "Force policy 2026/04."
""",
    )

    book = load_policy_book(path, nation="england").book

    assert book.version_for("dvds", datetime(2026, 5, 31, 12, tzinfo=LONDON)).code == "dvds-2023"
    new = book.version_for("dvds", datetime(2026, 6, 1, 0, 0, tzinfo=LONDON))
    assert new.code == "dvds-2026"
    assert new.stages == {"initial_checks": Limit(12, "hours")}
    assert new.extension_cap_days == DEFAULT_EXTENSION_CAP_DAYS
    assert new.source == "Force policy 2026/04."


def test_a_route_can_have_limits_of_its_own(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[version]]
code = "dvds-2023"
routes.right_to_know.overall = { amount = 21, unit = "calendar_days" }
routes.right_to_know.stages.initial_checks = { amount = 12, unit = "hours" }
""",
    )

    version = load_policy_book(path).book.by_code("dvds-2023")

    assert version.limits("right_to_ask") == (
        Limit(28, "calendar_days"),
        {"initial_checks": Limit(24, "hours"), "meeting": Limit(10, "working_days")},
    )
    assert version.limits("right_to_know") == (
        Limit(21, "calendar_days"),
        {"initial_checks": Limit(12, "hours"), "meeting": Limit(10, "working_days")},
    )


def test_nation_argument_applies_when_the_file_does_not_say(tmp_path: Path) -> None:
    path = write(tmp_path, "due_soon_days = 2\n")

    assert load_policy_book(path, nation="northern_ireland").nation == "northern_ireland"


def test_bad_nation_argument_is_refused() -> None:
    with pytest.raises(
        PolicyError,
        match="nation: expected one of england, wales, scotland, northern_ireland, got 'eire'",
    ):
        load_policy_book(None, nation="eire")


VERSION = '[[version]]\ncode = "dvds-2023"\n'
NEW = '[[version]]\ncode = "dvds-2026"\nscheme = "dvds"\neffective_from = 2026-06-01\n'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('colour = "red"\n', "colour: unknown key"),
        ("due-soon-days = 3\n", "due-soon-days: unknown key"),
        (VERSION + "limit = 3\n", "version[0].limit: unknown key"),
        (
            VERSION + 'overall = { amount = 3, unit = "calendar_days", grace = 1 }\n',
            "version[0].overall.grace: unknown key",
        ),
        ('due_soon_days = "five"\n', "due_soon_days: expected int, got str"),
        ("due_soon_days = -1\n", "due_soon_days: expected int >= 0, got -1"),
        (VERSION + "uncertain = 1\n", "version[0].uncertain: expected bool, got int"),
        (
            VERSION + 'overall = { amount = true, unit = "hours" }\n',
            "version[0].overall.amount: expected int, got bool",
        ),
        (
            VERSION + "effective_from = 2023-04-01T00:00:00\n",
            "version[0].effective_from: expected date, got datetime",
        ),
        (
            'nation = "france"\n',
            "nation: expected one of england, wales, scotland, northern_ireland, got 'france'",
        ),
        (
            '[[version]]\ncode = "x"\nscheme = "clare"\n',
            "version[0].scheme: expected one of dvds, csods, mappa, got 'clare'",
        ),
        (
            VERSION + 'stages.meeting = { amount = 2, unit = "weeks" }\n',
            "version[0].stages.meeting.unit: expected one of hours, calendar_days, "
            "working_days, got 'weeks'",
        ),
        (
            VERSION + 'stages.review = { amount = 2, unit = "hours" }\n',
            "version[0].stages.review: unknown stage, expected one of initial_checks, meeting, "
            "checks, decision, delivery",
        ),
        (
            VERSION + 'stages.meeting = { unit = "hours" }\n',
            "version[0].stages.meeting.amount: required",
        ),
        (
            VERSION + 'overall = { amount = -3, unit = "calendar_days" }\n',
            "version[0].overall.amount: expected int >= 1, got -3",
        ),
        (
            VERSION + 'stages.meeting = { amount = 0, unit = "working_days" }\n',
            "version[0].stages.meeting.amount: expected int >= 1, got 0",
        ),
        (
            VERSION + "extension_cap_days = -7\n",
            "version[0].extension_cap_days: expected int >= 0, got -7",
        ),
        ('[[version]]\nscheme = "dvds"\n', "version[0].code: required"),
        (VERSION + "effective_from = soon\n", "not valid TOML"),
        (
            VERSION + '[[version]]\ncode = "x"\nscheme = "dvds"\n',
            "version[1].effective_from: required for the new version 'x'",
        ),
        (NEW, "version[0].overall: required for a dvds version"),
        (
            VERSION + 'scheme = "csods"\n',
            "version[0].scheme: 'dvds-2023' is a dvds version, got 'csods'",
        ),
        (
            '[[version]]\ncode = "mappa"\noverall = { amount = 7, unit = "calendar_days" }\n',
            "version[0].overall: a mappa due date is agreed at the MAPP meeting",
        ),
        (
            NEW.replace("2026-06-01", "2023-04-01") + 'overall = { amount = 3, unit = "hours" }\n',
            "policy versions 'dvds-2023' and 'dvds-2026' both start 2023-04-01 for dvds",
        ),
        ("version = 3\n", "version: expected array, got int"),
        (
            VERSION + 'routes.by_post.overall = { amount = 3, unit = "hours" }\n',
            "version[0].routes.by_post: unknown route, expected one of right_to_ask, "
            "right_to_know",
        ),
        (
            VERSION + 'routes.right_to_know.limit = { amount = 3, unit = "hours" }\n',
            "version[0].routes.right_to_know.limit: unknown key",
        ),
        (
            VERSION + 'routes.right_to_know.overall = { amount = 0, unit = "hours" }\n',
            "version[0].routes.right_to_know.overall.amount: expected int >= 1, got 0",
        ),
        (
            '[[version]]\ncode = "mappa"\n'
            'routes.right_to_know.overall = { amount = 7, unit = "calendar_days" }\n',
            "version[0].overall: a mappa due date is agreed at the MAPP meeting",
        ),
    ],
)
def test_bad_override_names_the_file_and_the_key(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)

    with pytest.raises(PolicyError) as error:
        load_policy_book(path)

    assert str(error.value).startswith(f"policy override {path}: ")
    assert problem in str(error.value)


def test_unknown_unit_message_in_full(tmp_path: Path) -> None:
    path = write(tmp_path, VERSION + 'stages.meeting = { amount = 2, unit = "weeks" }\n')

    with pytest.raises(PolicyError) as error:
        load_policy_book(path)

    assert str(error.value) == (
        f"policy override {path}: version[0].stages.meeting.unit: expected one of hours, "
        "calendar_days, working_days, got 'weeks'"
    )


def test_missing_override_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy_book(tmp_path / "absent.toml")
