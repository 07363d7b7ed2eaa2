"""Due dates computed from policy limits, each able to explain itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal

import holidays
import msgspec

from disclosure.policy import LONDON, NATIONS, STAGES, Limit, PolicyError, PolicyVersion, Stage

Status = Literal["overdue", "due_soon", "on_time"]

_SUBDIVISIONS = {"england": "ENG", "wales": "WLS", "scotland": "SCT", "northern_ireland": "NIR"}
_NATION_NAMES = {
    "england": "England",
    "wales": "Wales",
    "scotland": "Scotland",
    "northern_ireland": "Northern Ireland",
}
# What the service records when each stage's clock starts.
_STAGE_START_EVENTS: dict[Stage, str] = {
    "initial_checks": "received",
    "meeting": "initial checks completed",
    "checks": "checks started",
    "decision": "checks completed",
    "delivery": "disclosure agreed",
}


class ExtensionRefused(ValueError):
    """An extension breaks the policy's rules; the reason says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"extend_deadline: {reason}")
        self.reason = reason


class Extension(msgspec.Struct, frozen=True):
    """Calendar days added to a due date, with the reason the SMB will see."""

    days: int
    category: str
    reason: str
    granted_at: datetime


class Deadline(msgspec.Struct, frozen=True):
    """A due date with everything needed to explain how it was reached; times are UTC."""

    due_at: datetime
    base_due_at: datetime
    start: datetime
    start_event: str
    limit: Limit | None
    calendar: str
    holidays_skipped: list[tuple[date, str]]
    weekend_days_skipped: int
    extensions: list[Extension]
    basis: str
    explanation: str


class Clock(msgspec.Struct, frozen=True):
    """A request's overall and stage due dates under the policy it was received under."""

    policy_code: str
    overall: Deadline | None
    stages: dict[Stage, Deadline]


def _require_aware(moment: datetime, what: str) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment.isoformat()}")


def _require_nation(nation: str) -> None:
    if nation not in NATIONS:
        raise PolicyError(f"unknown nation {nation!r}; expected one of {', '.join(NATIONS)}")


@lru_cache(maxsize=512)
def _bank_holidays(nation: str, year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("GB", subdiv=_SUBDIVISIONS[nation], years=year))


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=LONDON).astimezone(UTC)


def _at(moment: datetime) -> str:
    local = moment.astimezone(LONDON)
    return f"{local:%H:%M} {local:%A} {local.day} {local:%B %Y}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _skipped(weekend_days: int, bank_holidays: list[tuple[date, str]]) -> str:
    parts = (
        [f"{weekend_days} weekend day{'s' if weekend_days != 1 else ''}"] if weekend_days else []
    )
    parts += [f"{name} ({day.day} {day:%B})" for day, name in bank_holidays]
    return f", skipping {_and(parts)}" if parts else ""


# A request's clock is worked out again after each of its events from the same starts: kept,
# the calendar walk is done once per stage start. Deadlines are frozen and replaced, never
# changed in place.
@lru_cache(maxsize=4096)
def add_limit(
    start: datetime, limit: Limit, *, nation: str, start_event: str = "received"
) -> Deadline:
    """The deadline `limit` after `start`, counted in the nation's calendar."""
    _require_aware(start, "start")
    _require_nation(nation)
    start = start.astimezone(UTC)
    start_day = start.astimezone(LONDON).date()
    skipped: list[tuple[date, str]] = []
    weekend_days = 0
    if limit.unit == "hours":
        # Elapsed time: across a clock change the local hour shifts rather than the duration.
        due_at = start + timedelta(hours=limit.amount)
        calendar = "elapsed time"
        counted = f"{limit.amount} hours"
        if start.astimezone(LONDON).utcoffset() != due_at.astimezone(LONDON).utcoffset():
            counted += " across the clock change"
    elif limit.unit == "calendar_days":
        due_at = _end_of_day(start_day + timedelta(days=limit.amount))
        calendar = "calendar"
        counted = f"{limit.amount} calendar days"
    else:
        day, counted_days = start_day, 0
        while counted_days < limit.amount:
            day += timedelta(days=1)
            if day.weekday() >= 5:
                weekend_days += 1
            elif (name := _bank_holidays(nation, day.year).get(day)) is not None:
                skipped.append((day, name))
            else:
                counted_days += 1
        due_at = _end_of_day(day)
        calendar = f"working days ({nation})"
        counted = f"{limit.amount} working days in {_NATION_NAMES[nation]}"
        counted += _skipped(weekend_days, skipped)
    basis = f"{start_event} {_at(start)}, plus {counted}"
    return Deadline(
        due_at=due_at,
        base_due_at=due_at,
        start=start,
        start_event=start_event,
        limit=limit,
        calendar=calendar,
        holidays_skipped=skipped,
        weekend_days_skipped=weekend_days,
        extensions=[],
        basis=basis,
        explanation=_explanation(due_at, basis, []),
    )


def agreed_deadline(
    start: datetime, agreed_due_at: datetime, *, start_event: str = "received"
) -> Deadline:
    """A deadline set by a MAPP meeting rather than counted from a limit."""
    _require_aware(start, "start")
    _require_aware(agreed_due_at, "agreed_due_at")
    due_at = agreed_due_at.astimezone(UTC)
    basis = f"agreed at the MAPP meeting, request {start_event} {_at(start)}"
    return Deadline(
        due_at=due_at,
        base_due_at=due_at,
        start=start.astimezone(UTC),
        start_event=start_event,
        limit=None,
        calendar="agreed",
        holidays_skipped=[],
        weekend_days_skipped=0,
        extensions=[],
        basis=basis,
        explanation=_explanation(due_at, basis, []),
    )


def _explanation(due_at: datetime, basis: str, extensions: list[Extension]) -> str:
    local = due_at.astimezone(LONDON)
    sentence = f"Due by {local:%H:%M} on {local:%A} {local.day} {local:%B %Y}: {basis}"
    if len(extensions) == 1:
        sentence += f", plus a {extensions[0].days}-day extension ({extensions[0].reason})"
    elif extensions:
        granted = [f"{e.days} day{'s' if e.days != 1 else ''} ({e.reason})" for e in extensions]
        sentence += f", plus extensions of {_and(granted)}"
    return sentence + "."


def _with_extensions(deadline: Deadline, extensions: list[Extension]) -> Deadline:
    # Calendar days on the local wall clock, so an end-of-day due date stays end of day.
    total = timedelta(days=sum(e.days for e in extensions))
    due_at = (deadline.base_due_at.astimezone(LONDON) + total).astimezone(UTC)
    return msgspec.structs.replace(
        deadline,
        due_at=due_at,
        extensions=extensions,
        explanation=_explanation(due_at, deadline.basis, extensions),
    )


def extend(
    deadline: Deadline, extension: Extension, *, cap_days: int, policy_code: str | None = None
) -> Deadline:
    """The deadline moved by `extension`, refused when the policy does not allow it."""
    if extension.days < 1:
        raise ExtensionRefused(f"an extension must be at least 1 day, got {extension.days}")
    if not extension.reason.strip():
        raise ExtensionRefused("an extension needs a reason")
    _require_aware(extension.granted_at, "granted_at")
    total = sum(e.days for e in deadline.extensions) + extension.days
    if total > cap_days:
        policy = f" ({policy_code})" if policy_code else ""
        raise ExtensionRefused(
            f"the extensions would total {total} days, over the policy cap "
            f"of {cap_days} days{policy}"
        )
    return _with_extensions(deadline, [*deadline.extensions, extension])


def _restarted(deadline: Deadline, received_at: datetime) -> Deadline:
    """Say in the explanation that the clock of a reopened request started again."""
    basis = (
        f"{deadline.basis} (the clock started again when the request was reopened; it was "
        f"first received {_at(received_at)})"
    )
    return msgspec.structs.replace(
        deadline, basis=basis, explanation=_explanation(deadline.due_at, basis, [])
    )


def request_clock(
    policy: PolicyVersion,
    *,
    received_at: datetime,
    stage_starts: dict[str, datetime],
    extensions: list[Extension],
    nation: str,
    route: str = "right_to_ask",
    agreed_due_at: datetime | None = None,
    reopened_at: datetime | None = None,
) -> Clock:
    """A request's due dates under the limits `policy` sets its route.

    `agreed_due_at`, when a MAPP meeting set one, replaces the overall limit. A reopened request
    (`reopened_at`) gets a fresh overall clock from the reopening, as does its initial checks.
    """
    unknown = sorted(set(stage_starts) - set(STAGES))
    if unknown:
        raise PolicyError(f"unknown stage {unknown[0]!r}; expected one of {', '.join(STAGES)}")
    overall_limit, stage_limits = policy.limits(route)
    start, start_event = (received_at, "received") if reopened_at is None else (
        reopened_at, "reopened"
    )
    overall: Deadline | None
    if agreed_due_at is not None:
        overall = agreed_deadline(start, agreed_due_at, start_event=start_event)
    elif overall_limit is not None:
        overall = add_limit(start, overall_limit, nation=nation, start_event=start_event)
    else:
        overall = None
    if overall is not None and reopened_at is not None:
        overall = _restarted(overall, received_at)
    if extensions:
        if overall is None:
            raise ExtensionRefused(
                "there is no due date to extend until the MAPP meeting agrees one"
            )
        # Extensions already granted stand as recorded: the cap was checked when each was granted.
        overall = _with_extensions(overall, sorted(extensions, key=lambda e: e.granted_at))
    events = dict(_STAGE_START_EVENTS)
    if reopened_at is not None:
        events["initial_checks"] = "reopened"
    stages = {
        stage: add_limit(stage_starts[stage], limit, nation=nation, start_event=events[stage])
        for stage, limit in stage_limits.items()
        if stage in stage_starts
    }
    return Clock(policy_code=policy.code, overall=overall, stages=stages)


def status(deadline: Deadline, now: datetime, due_soon: timedelta) -> Status:
    """Whether a deadline is overdue, due within `due_soon`, or comfortably on time."""
    _require_aware(now, "now")
    if now > deadline.due_at:
        return "overdue"
    if now >= deadline.due_at - due_soon:
        return "due_soon"
    return "on_time"
