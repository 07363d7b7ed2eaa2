"""How soon a MAPP meeting's nominal must be reviewed again: the review-interval policy.

Policy is data: the figures below are the defaults, and a force's policy file changes them
(`[mapp_review]`, see docs/mapp.md). Every meeting keeps the code of the policy it was given
its review date under.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

import msgspec

Location = Literal["community", "custody"]
Weeks = Annotated[int, msgspec.Meta(ge=1, le=104)]

SOURCE = (
    "Derbyshire MAPPA annual report 2022-23: Level 2 review meetings at least every 16 weeks"
    " when the nominal is in the community, Level 3 at least every 8 weeks; custody cases meet"
    " to the release plan (initial meetings up to 6 months before release), so in custody the"
    " meeting sets the next review itself."
)


class ReviewIntervals(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The longest gap between a meeting and the next review, by level and location."""

    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.+-]{0,31}$")] = "mapp-review"
    level_2_weeks: Weeks = 16
    level_3_weeks: Weeks = 8
    # None: the meeting sets the date itself, and none is late until it does.
    custody_level_2_weeks: Weeks | None = None
    custody_level_3_weeks: Weeks | None = None
    source: str = SOURCE

    def weeks(self, level: int, location: Location) -> int | None:
        """The interval for a meeting at `level` about a nominal in `location`."""
        prefix = "custody_" if location == "custody" else ""
        found: int | None = getattr(self, f"{prefix}level_{level}_weeks")
        return found

    def review_due(
        self, *, held_at: datetime, level: int, location: Location, set_by_meeting: datetime | None
    ) -> datetime | None:
        """When the next review is due: the meeting's own date if it set one (never later than
        the interval allows), else the meeting's date plus the interval."""
        weeks = self.weeks(level, location)
        latest = held_at + timedelta(weeks=weeks) if weeks is not None else None
        if set_by_meeting is None:
            return latest
        return set_by_meeting if latest is None else min(set_by_meeting, latest)
