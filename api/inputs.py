"""What the edge refuses before a handler runs: query parameters it does not take or that come
twice, and bodies that are not JSON, not UTF-8, or nested deeper than any request needs."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import ClientException, HTTPException, ValidationException
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

JSON = "application/json"
# The deepest body the API takes is a decision: object, legal test, answer. Twice that is ample.
MAX_DEPTH = 8
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")


class QueryNames:
    """The query parameters each handler declares, read from the app's routes once."""

    def __init__(self) -> None:
        self.by_handler: dict[str, frozenset[str]] = {}

    def learn(self, app: Litestar) -> None:
        for route in app.routes:
            if not isinstance(route, HTTPRoute):
                continue
            for handler, kwargs_model in route.route_handler_map.values():
                self.by_handler[handler.handler_name] = frozenset(
                    p.field_alias for p in kwargs_model.expected_query_params
                )


def depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings aside)."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", body))
    level = deepest = 0
    for char in brackets:
        level += 1 if char in b"[{" else -1
        deepest = max(deepest, level)
    return deepest


def check_query(request: Request[Any, Any, Any], names: QueryNames) -> None:
    allowed = names.by_handler.get(request.route_handler.handler_name, frozenset())
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key in seen:
            raise ClientException(f"{key}: given more than once")
        if key not in allowed:
            takes = ", ".join(sorted(allowed)) or "none"
            raise ClientException(f"{key}: not a query parameter here (it takes {takes})")
        seen.add(key)


async def check_body(request: Request[Any, Any, Any]) -> None:
    """A handler that takes a body takes JSON: 415 for any other type, 400 for broken JSON."""
    if "data" not in request.route_handler.parsed_fn_signature.parameters:
        return
    media_type, _ = request.content_type
    if media_type != JSON:
        raise HTTPException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"Content-Type: send {JSON}, not {media_type or 'nothing'}",
        )
    body = await request.body()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientException(f"body: not valid UTF-8 (byte {exc.start})") from exc
    if depth(body) > MAX_DEPTH:
        raise ClientException(f"body: JSON nested more than {MAX_DEPTH} deep")
    strictly(body, request.route_handler.parsed_fn_signature.parameters["data"].annotation)


def strictly(body: bytes, kind: Any) -> None:
    """Decode the body as the schema says, without the coercions Litestar allows parameters
    (0 for false, "1" for 1): a body the contract calls invalid is refused, naming the field."""
    try:
        msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).rpartition(" - at `")
        path = where.rstrip("`")
        key = path.removeprefix("$").removeprefix(".") if message else ""
        raise ValidationException(
            detail="invalid body", extra=[{"message": message or str(exc), "key": key}]
        ) from exc
    except msgspec.DecodeError as exc:
        raise ClientException(f"body: not valid JSON ({exc})") from exc


def refuse_bad_input(names: QueryNames) -> Any:
    """The app's before-request hook."""

    async def hook(request: Request[Any, Any, Any]) -> None:
        check_query(request, names)
        await check_body(request)

    return hook
