"""What makes a password acceptable (NCSC guidance, ASVS 2.1): long enough, not a common or
breached one, and no composition rules."""

from __future__ import annotations

from functools import cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 12
MAX_LENGTH = 1024


@cache
def _common() -> frozenset[str]:
    # The 30,000 passwords seen most often in breaches, as zxcvbn ships them.
    return frozenset(FREQUENCY_LISTS["passwords"])


def weakness(password: str, *, username: str) -> str | None:
    """Why this password is refused, or None if it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"the password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must be at most {MAX_LENGTH} characters"
    if "\x00" in password:
        return "the password must not contain a NUL character"
    folded = password.casefold()
    if folded == username.casefold():
        return "the password must not be the username"
    if folded in _common():
        return "the password is on the list of common and breached passwords; choose another"
    return None
