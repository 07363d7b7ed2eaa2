"""Errors at the edge: every failure leaves as RFC 9457 problem+json."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_412_PRECONDITION_FAILED,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from api.metrics import refused
from disclosure.errors import (
    DisclosureError,
    EventNotAllowed,
    GuardRefused,
    IdempotencyMismatch,
    InvalidInput,
    NotFound,
    StaleVersion,
    TamperedRecord,
)
from disclosure.schemas import NO_NUL

PROBLEM = "application/problem+json"
log = logging.getLogger("disclosure.api")


class FieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """The problem+json body."""

    title: str
    status: int
    detail: str
    type: str = "about:blank"
    errors: list[FieldError] = []
    state: str | None = None
    allowed: list[str] | None = None
    current_version: int | None = None


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[Problem]:
    refused(status, title)
    return Response(
        Problem(title=title, status=status, detail=detail, **extra),
        status_code=status,
        media_type=PROBLEM,
        headers=headers,
    )


def _field_error(item: Any) -> FieldError:
    if not isinstance(item, dict):
        return FieldError(field="$", message=str(item))
    message = str(item.get("message", ""))
    if NUL_REFUSED in message:
        message = "must not contain a NUL character (\\u0000)"
    key = str(item.get("key", ""))
    if key and key != "data":
        return FieldError(field=f"$.{key}", message=message)
    if missing := re.fullmatch(r"Object missing required field `(\w+)`", message):
        return FieldError(field=f"$.{missing[1]}", message="required")
    # Our own cross-field checks read "field: why".
    if named := re.fullmatch(r"(\w+): (.+)", message, flags=re.S):
        return FieldError(field=f"$.{named[1]}", message=named[2])
    return FieldError(field="$", message=message)


NUL_REFUSED = f"matching regex {NO_NUL!r}"


def _named(detail: str) -> list[FieldError]:
    """A 400 whose detail reads "field: why" names its field."""
    if named := re.fullmatch(r"([\w$.\[\]-]+): (.+)", detail, flags=re.S):
        return [FieldError(field=named[1], message=named[2])]
    return []


def _field_errors(exc: ValidationException) -> list[FieldError]:
    return [_field_error(item) for item in exc.extra] if isinstance(exc.extra, list) else []


def _as_sent(request: Request[Any, Any, Any], error: FieldError) -> FieldError:
    """A parameter named on the wire unlike its handler argument (`format`, `state`) is named
    as the caller sent it, not by the argument (`report_format`, `in_state`)."""
    handler = request.scope.get("route_handler")
    parameters = handler.parsed_fn_signature.parameters if handler is not None else {}
    parameter = parameters.get(error.field.removeprefix("$."))
    sent = getattr(getattr(parameter, "kwarg_definition", None), "name", None)
    return FieldError(field=f"$.{sent}", message=error.message) if sent else error


def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    errors = [_as_sent(request, e) for e in _field_errors(exc)]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or str(exc.detail)
    return problem(HTTP_400_BAD_REQUEST, "Invalid request", detail, errors=errors)


def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    detail = str(exc.detail)
    errors = _named(detail) if exc.status_code == HTTP_400_BAD_REQUEST else []
    return problem(
        exc.status_code, _title(exc.status_code), detail, headers=exc.headers or None,
        errors=errors,
    )


def on_domain(request: Request[Any, Any, Any], exc: DisclosureError) -> Response[Problem]:
    match exc:
        case NotFound():
            return problem(HTTP_404_NOT_FOUND, "Not found", str(exc))
        case StaleVersion():
            return problem(
                HTTP_412_PRECONDITION_FAILED, "Stale version", str(exc),
                current_version=exc.actual,
            )
        case IdempotencyMismatch():
            return problem(HTTP_422_UNPROCESSABLE_ENTITY, "Idempotency-Key reused", str(exc))
        case InvalidInput():
            return problem(
                HTTP_400_BAD_REQUEST, "Invalid request", str(exc),
                errors=[FieldError(field=f"$.{exc.field}", message=str(exc))],
            )
        case TamperedRecord():
            # Nothing is written over a row that no longer matches its seal (docs/trail.md).
            return problem(HTTP_409_CONFLICT, "Record does not match its seal", str(exc))
    return on_unexpected(request, exc)


def on_not_allowed(request: Request[Any, Any, Any], exc: EventNotAllowed) -> Response[Problem]:
    return problem(
        HTTP_409_CONFLICT, "Event not allowed now", str(exc),
        state=exc.state, allowed=list(exc.allowed),
    )


def on_refused(request: Request[Any, Any, Any], exc: GuardRefused) -> Response[Problem]:
    return problem(HTTP_409_CONFLICT, "Refused", str(exc))


def on_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    # A database that is down, restarting or out of connections: nothing was changed, and the
    # same call can be sent again shortly.
    log.warning("database unavailable: %s on %s %s", type(exc).__name__, request.method,
                request.url.path)
    return problem(
        HTTP_503_SERVICE_UNAVAILABLE, "Service unavailable",
        "the database is not answering; nothing was changed, try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def unreachable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return True
    # SQLSTATE class 08 (connection exception) and 57P01-57P03: the server is shutting down,
    # crashed, or is still starting up.
    state = str(getattr(exc.orig, "sqlstate", None) or "")
    return state.startswith("08") or state in {"57P01", "57P02", "57P03"}


def on_database(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[Problem]:
    if unreachable(exc):
        return on_unavailable(request, exc)
    return on_unexpected(request, exc)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    # Log the type and place only: exception text can carry personal data from the request.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR, "Internal error", "the server could not complete this"
    )


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# Any endpoint can answer these: an unknown query parameter (400), no or a bad credential (401),
# a role that may not (403), and the database away (503, with Retry-After).
EVERYWHERE = (400, 401, 403, 503)
# And one that takes a JSON body these: too large (413), not application/json (415).
WITH_BODY = (413, 415)


def documented(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses a handler can give, besides EVERYWHERE's."""
    return {
        status: ResponseSpec(data_container=Problem, media_type=PROBLEM, description=_title(status))
        for status in sorted({*EVERYWHERE, *statuses})
    }


RETRY_AFTER_SECONDS = 5
# Failures to reach the database, before or after the driver's errors are wrapped.
UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError, SQLAlchemyTimeoutError, asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError, asyncpg.InterfaceError,
)

HANDLERS: dict[type[Exception] | int, Any] = {
    **dict.fromkeys(UNAVAILABLE, on_unavailable),
    DBAPIError: on_database,
    ValidationException: on_validation,
    HTTPException: on_http,
    EventNotAllowed: on_not_allowed,
    GuardRefused: on_refused,
    DisclosureError: on_domain,
    Exception: on_unexpected,
}


def answer(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """The problem answer an exception gets, for a part of the app that cannot raise it."""
    for kind in type(exc).__mro__:
        if kind in HANDLERS:
            respond: Any = HANDLERS[kind]
            return cast(Response[Problem], respond(request, exc))
    return on_unexpected(request, exc)
