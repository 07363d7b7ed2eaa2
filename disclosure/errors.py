"""Domain errors; the edge maps each to one HTTP status."""

from __future__ import annotations

from statemachines.lifecycle import EventNotAllowed, GuardRefused


class DisclosureError(Exception):
    """Base of the errors a caller can act on."""


class NotFound(DisclosureError):
    def __init__(self, reference: str, what: str = "request") -> None:
        super().__init__(f"no {what} {reference}")
        self.reference = reference


class StaleVersion(DisclosureError):
    def __init__(self, reference: str, expected: int, actual: int) -> None:
        super().__init__(
            f"{reference} is at version {actual}, not {expected}: reload it and try again"
        )
        self.actual = actual


class IdempotencyMismatch(DisclosureError):
    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used for a different request")


class TamperedRecord(DisclosureError):
    """A row about to be changed does not match its seal: it was changed behind the service's
    back, and writing over it would seal the change as if it were the service's own."""

    def __init__(self, reference: str, problem: str) -> None:
        super().__init__(
            f"{reference}: {problem}; nothing is written over it until the trail is checked"
            " (`disclosure audit verify`)"
        )
        self.reference = reference


class InvalidInput(DisclosureError):
    """Input that is well-formed but does not fit the request it is for."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


__all__ = [
    "DisclosureError",
    "EventNotAllowed",
    "GuardRefused",
    "IdempotencyMismatch",
    "InvalidInput",
    "NotFound",
    "StaleVersion",
    "TamperedRecord",
]
