"""Versioned time-limit policy for the disclosure schemes, with force overrides from TOML."""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo

import msgspec

from disclosure.mapp.intervals import SOURCE, ReviewIntervals

Scheme = Literal["dvds", "csods", "mappa"]
Route = Literal["right_to_ask", "right_to_know"]
Stage = Literal["initial_checks", "meeting", "checks", "decision", "delivery"]
Unit = Literal["hours", "calendar_days", "working_days"]
Nation = Literal["england", "wales", "scotland", "northern_ireland"]

SCHEMES: tuple[Scheme, ...] = get_args(Scheme)
ROUTES: tuple[Route, ...] = get_args(Route)
STAGES: tuple[Stage, ...] = get_args(Stage)
UNITS: tuple[Unit, ...] = get_args(Unit)
NATIONS: tuple[Nation, ...] = get_args(Nation)

LONDON = ZoneInfo("Europe/London")

# No published figure caps extensions; four weeks doubles the statutory DVDS limit at most.
DEFAULT_EXTENSION_CAP_DAYS = 28
DEFAULT_DUE_SOON_DAYS = 5

_Count = Annotated[int, msgspec.Meta(ge=0)]


class PolicyError(ValueError):
    """A policy is missing, inconsistent or badly configured."""


class Limit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A time limit: an amount of hours, calendar days or working days."""

    amount: Annotated[int, msgspec.Meta(ge=1)]
    unit: Unit


# The routes each scheme has: MAPPA disclosures are considered by a MAPP meeting, so nobody can
# ask for one (MAPPA Guidance chapter 10).
SCHEME_ROUTES: dict[Scheme, tuple[Route, ...]] = {
    "dvds": ROUTES,
    "csods": ROUTES,
    "mappa": ("right_to_know",),
}


class RouteLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where guidance sets one route limits of its own: these replace the version's."""

    overall: Limit | None = None
    stages: dict[Stage, Limit] = {}


class PolicyVersion(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The time limits of one scheme from one effective date (midnight London time)."""

    code: str
    scheme: Scheme
    effective_from: date
    overall: Limit | None
    stages: dict[Stage, Limit]
    extension_cap_days: _Count
    source: str
    uncertain: bool
    routes: dict[Route, RouteLimits] = {}

    def limits(self, route: str) -> tuple[Limit | None, dict[Stage, Limit]]:
        """The overall limit and stage targets of a request on `route`."""
        own = self.routes.get(route)  # type: ignore[call-overload]
        if own is None:
            return self.overall, self.stages
        return own.overall or self.overall, {**self.stages, **own.stages}


class NoPolicy(PolicyError):
    """A request received before any version of its scheme took effect."""

    def __init__(self, scheme: str, day: date, earliest: date | None) -> None:
        since = f"; its earliest version starts {earliest.isoformat()}" if earliest else ""
        super().__init__(f"no {scheme} policy was in force on {day.isoformat()}{since}")


class PolicyBook:
    """All policy versions in force for a deployment, looked up by scheme and date."""

    def __init__(self, versions: list[PolicyVersion]) -> None:
        self._by_code: dict[str, PolicyVersion] = {}
        seen: dict[tuple[str, date], str] = {}
        for version in versions:
            if version.code in self._by_code:
                raise PolicyError(f"policy version {version.code!r} is defined twice")
            key = (version.scheme, version.effective_from)
            if key in seen:
                raise PolicyError(
                    f"policy versions {seen[key]!r} and {version.code!r} both start "
                    f"{version.effective_from.isoformat()} for {version.scheme}"
                )
            seen[key] = version.code
            self._by_code[version.code] = version
        self._by_date = sorted(versions, key=lambda v: v.effective_from, reverse=True)

    @property
    def versions(self) -> list[PolicyVersion]:
        """Every version, oldest first."""
        return self._by_date[::-1]

    def by_code(self, code: str) -> PolicyVersion:
        """The version stamped on a request or event."""
        try:
            return self._by_code[code]
        except KeyError:
            raise PolicyError(f"unknown policy version {code!r}") from None

    def version_for(self, scheme: str, at: datetime) -> PolicyVersion:
        """The version of `scheme` in force at the London-local date of the aware `at`."""
        if scheme not in SCHEMES:
            raise PolicyError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
        if at.utcoffset() is None:
            raise PolicyError(f"version_for needs a timezone-aware time, got {at.isoformat()}")
        local_day = at.astimezone(LONDON).date()
        earliest: date | None = None
        for version in self._by_date:
            if version.scheme == scheme:
                if version.effective_from <= local_day:
                    return version
                earliest = version.effective_from
        raise NoPolicy(scheme, local_day, earliest)


class PolicySettings(msgspec.Struct, frozen=True):
    """The policy book with the deployment's calendar and due-soon window."""

    book: PolicyBook
    nation: Nation
    due_soon_days: int
    mapp_review: ReviewIntervals = ReviewIntervals()

    @property
    def due_soon(self) -> timedelta:
        """How long before its due date a request counts as due soon."""
        return timedelta(days=self.due_soon_days)


def _hours(n: int) -> Limit:
    return Limit(n, "hours")


def _calendar_days(n: int) -> Limit:
    return Limit(n, "calendar_days")


def _working_days(n: int) -> Limit:
    return Limit(n, "working_days")


BUILT_IN: tuple[PolicyVersion, ...] = (
    PolicyVersion(
        code="dvds-2014",
        scheme="dvds",
        effective_from=date(2014, 3, 8),
        overall=_calendar_days(35),
        stages={},
        extension_cap_days=DEFAULT_EXTENSION_CAP_DAYS,
        source=(
            "Home Office DVDS guidance for the national roll-out to all 43 forces in England and "
            "Wales on 8 March 2014: 35 days."
        ),
        uncertain=False,
    ),
    PolicyVersion(
        code="dvds-2016",
        scheme="dvds",
        effective_from=date(2016, 12, 1),
        overall=_calendar_days(35),
        stages={},
        extension_cap_days=DEFAULT_EXTENSION_CAP_DAYS,
        source=(
            "Home Office DVDS guidance, December 2016 revision: 35 days, as before; the day in "
            "December it took effect is uncertain."
        ),
        uncertain=True,
    ),
    PolicyVersion(
        code="dvds-2023",
        scheme="dvds",
        effective_from=date(2023, 4, 1),
        overall=_calendar_days(28),
        stages={"initial_checks": _hours(24), "meeting": _working_days(10)},
        extension_cap_days=DEFAULT_EXTENSION_CAP_DAYS,
        source=(
            "DVDS statutory guidance (April 2023) under Domestic Abuse Act 2021 s.77: 28 days "
            "on both routes, initial checks 24 hours; the 10-working-day meeting target is "
            "uncertain."
        ),
        uncertain=True,
    ),
    PolicyVersion(
        code="csods-2010",
        scheme="csods",
        effective_from=date(2010, 8, 1),
        overall=_calendar_days(45),
        stages={},
        extension_cap_days=DEFAULT_EXTENSION_CAP_DAYS,
        source=(
            "Home Office CSODS guidance (2010): 45 days, from the first national phase in August "
            "2010; forces joined in phases until March 2011, so a force's own start is uncertain."
        ),
        uncertain=True,
    ),
    PolicyVersion(
        code="csods-2023",
        scheme="csods",
        effective_from=date(2023, 4, 1),
        overall=_calendar_days(28),
        stages={"initial_checks": _hours(24), "meeting": _working_days(10)},
        extension_cap_days=DEFAULT_EXTENSION_CAP_DAYS,
        source=(
            "CSODS guidance updated April 2023 shortened the limit; 24 hours, 10 working days "
            "and 28 days are figures forces publish, not the guidance's own."
        ),
        uncertain=True,
    ),
    PolicyVersion(
        code="mappa",
        scheme="mappa",
        effective_from=date(2009, 1, 1),
        overall=None,
        stages={},
        extension_cap_days=DEFAULT_EXTENSION_CAP_DAYS,
        source="MAPPA guidance: the MAPP meeting agrees by when a disclosure is made.",
        uncertain=False,
    ),
)


class _VersionOverride(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    scheme: Scheme | msgspec.UnsetType = msgspec.UNSET
    effective_from: date | msgspec.UnsetType = msgspec.UNSET
    overall: Limit | msgspec.UnsetType = msgspec.UNSET
    # Checked key by key, so that errors can name the stage.
    stages: dict[str, Any] = {}
    extension_cap_days: _Count | msgspec.UnsetType = msgspec.UNSET
    source: str | msgspec.UnsetType = msgspec.UNSET
    uncertain: bool | msgspec.UnsetType = msgspec.UNSET
    # Checked key by key, as `stages` is.
    routes: dict[str, Any] = {}


class _OverrideFile(msgspec.Struct, forbid_unknown_fields=True):
    nation: Nation | msgspec.UnsetType = msgspec.UNSET
    due_soon_days: _Count = DEFAULT_DUE_SOON_DAYS
    version: list[_VersionOverride] = []
    mapp_review: ReviewIntervals | msgspec.UnsetType = msgspec.UNSET


_CHOICES: dict[str, tuple[str, ...]] = {"unit": UNITS, "scheme": SCHEMES, "nation": NATIONS}
_SEGMENT = re.compile(r"\.(\w+)|\[(\d+)\]")
_T = TypeVar("_T")


def _value_at(raw: Any, subpath: str) -> Any:
    for name, index in _SEGMENT.findall(subpath):
        raw = raw[name] if name else raw[int(index)]
    return raw


def _choices_problem(key: str, choices: tuple[str, ...], got: Any) -> str:
    return f"{key}: expected one of {', '.join(choices)}, got {got!r}"


def _explain(error: msgspec.ValidationError, raw: Any, prefix: str) -> str:
    """Turn msgspec's message into 'key.path: problem' in the override file's own terms."""
    message, _, where = str(error).partition(" - at `$")
    subpath = where.rstrip("`")
    key = (prefix + subpath).lstrip(".")
    if found := re.fullmatch(r"Object contains unknown field `([^`]+)`", message):
        return f"{key}.{found[1]}: unknown key".lstrip(".")
    if found := re.fullmatch(r"Object missing required field `([^`]+)`", message):
        return f"{key}.{found[1]}: required".lstrip(".")
    got = _value_at(raw, subpath)
    last = key.rsplit(".", 1)[-1]
    if message.startswith("Invalid enum value") and last in _CHOICES:
        return _choices_problem(key, _CHOICES[last], got)
    problem = message.replace("`", "")
    problem = problem[0].lower() + problem[1:]
    return f"{key}: {problem}" if " got " in problem else f"{key}: {problem}, got {got!r}"


def _convert(raw: Any, type_: type[_T], prefix: str, origin: str) -> _T:
    try:
        return msgspec.convert(raw, type_)
    except msgspec.ValidationError as error:
        raise PolicyError(f"{origin}: {_explain(error, raw, prefix)}") from None


def _stages(raw: dict[str, Any], prefix: str, origin: str) -> dict[Stage, Limit]:
    stages: dict[Stage, Limit] = {}
    for name, limit in raw.items():
        if name not in STAGES:
            choices = ", ".join(STAGES)
            raise PolicyError(
                f"{origin}: {prefix}.{name}: unknown stage, expected one of {choices}"
            )
        stages[name] = _convert(limit, Limit, f"{prefix}.{name}", origin)
    return stages


def _routes(raw: dict[str, Any], prefix: str, origin: str) -> dict[Route, RouteLimits]:
    routes: dict[Route, RouteLimits] = {}
    for name, limits in raw.items():
        if name not in ROUTES:
            raise PolicyError(
                f"{origin}: {prefix}.{name}: unknown route, expected one of {', '.join(ROUTES)}"
            )
        if not isinstance(limits, dict):
            raise PolicyError(f"{origin}: {prefix}.{name}: expected a table, got {limits!r}")
        unknown = sorted(set(limits) - {"overall", "stages"})
        if unknown:
            raise PolicyError(f"{origin}: {prefix}.{name}.{unknown[0]}: unknown key")
        overall = limits.get("overall")
        routes[name] = RouteLimits(
            overall=None if overall is None
            else _convert(overall, Limit, f"{prefix}.{name}.overall", origin),
            stages=_stages(limits.get("stages", {}), f"{prefix}.{name}.stages", origin),
        )
    return routes


def _apply(
    known: dict[str, PolicyVersion], override: _VersionOverride, index: int, origin: str
) -> PolicyVersion:
    """Change the fields an override names, or build a new version from it."""
    where = f"version[{index}]"
    stages = _stages(override.stages, f"{where}.stages", origin)
    routes = _routes(override.routes, f"{where}.routes", origin)
    changes = {
        name: getattr(override, name)
        for name in ("scheme", "effective_from", "overall", "extension_cap_days", "uncertain")
        if getattr(override, name) is not msgspec.UNSET
    }
    base = known.get(override.code)
    if base is not None:
        if changes.get("scheme", base.scheme) != base.scheme:
            raise PolicyError(
                f"{origin}: {where}.scheme: {base.code!r} is a {base.scheme} version, "
                f"got {changes['scheme']!r}"
            )
        source = (
            f"{base.source} Overridden by {origin}."
            if override.source is msgspec.UNSET
            else override.source
        )
        version = msgspec.structs.replace(
            base, **changes, stages={**base.stages, **stages},
            routes={**base.routes, **routes}, source=source,
        )
    else:
        for required in ("scheme", "effective_from"):
            if required not in changes:
                raise PolicyError(
                    f"{origin}: {where}.{required}: required for the new version {override.code!r}"
                )
        version = PolicyVersion(
            code=override.code,
            scheme=changes["scheme"],
            effective_from=changes["effective_from"],
            overall=changes.get("overall"),
            stages=stages,
            extension_cap_days=changes.get("extension_cap_days", DEFAULT_EXTENSION_CAP_DAYS),
            source=f"Set by {origin}." if override.source is msgspec.UNSET else override.source,
            uncertain=changes.get("uncertain", False),
            routes=routes,
        )
    if version.scheme == "mappa" and (
        version.overall is not None or any(r.overall for r in version.routes.values())
    ):
        raise PolicyError(
            f"{origin}: {where}.overall: a mappa due date is agreed at the MAPP meeting, "
            "so it takes no overall limit"
        )
    if version.scheme != "mappa" and version.overall is None:
        raise PolicyError(f"{origin}: {where}.overall: required for a {version.scheme} version")
    return version


def load_policy_book(path: Path | None, *, nation: str = "england") -> PolicySettings:
    """The built-in policy with the force's override file, if any, applied on top."""
    if nation not in NATIONS:
        raise PolicyError(_choices_problem("nation", NATIONS, nation))
    if path is None:
        return PolicySettings(PolicyBook(list(BUILT_IN)), nation, DEFAULT_DUE_SOON_DAYS)
    origin = f"policy override {path}"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PolicyError(f"{origin}: cannot be read: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PolicyError(f"{origin}: not valid TOML: {error}") from None
    overrides = _convert(raw, _OverrideFile, "", origin)
    known = {version.code: version for version in BUILT_IN}
    for index, override in enumerate(overrides.version):
        known[override.code] = _apply(known, override, index, origin)
    try:
        book = PolicyBook(list(known.values()))
    except PolicyError as error:
        raise PolicyError(f"{origin}: {error}") from None
    chosen = nation if overrides.nation is msgspec.UNSET else overrides.nation
    review = ReviewIntervals()
    if overrides.mapp_review is not msgspec.UNSET:
        review = overrides.mapp_review
        if "source" not in raw["mapp_review"]:
            review = msgspec.structs.replace(review, source=f"{SOURCE} Overridden by {origin}.")
    return PolicySettings(book, chosen, overrides.due_soon_days, review)
