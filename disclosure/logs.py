"""Structured logs: one JSON object a line, with the request id and the actor bound per request.

Every logger of the process, the service's own and its libraries' (uvicorn, Litestar,
SQLAlchemy), goes through the one handler set up here. Exceptions are logged as their type and
the places they passed through, never their message: a message can quote personal data.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

HANDLER_NAME = "disclosure-json"


def _exception_without_values(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    info = event.pop("exc_info", None)
    if info is True:
        info = sys.exc_info()
    if isinstance(info, BaseException):
        info = (type(info), info, info.__traceback__)
    if isinstance(info, tuple) and info[0] is not None:
        event["exception"] = info[0].__name__
        event["stack"] = [
            f"{frame.filename}:{frame.lineno} in {frame.name}"
            for frame in traceback.extract_tb(info[2])
        ]
    return event


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _exception_without_values,
]


def configure(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Send every log record to `stream` (stderr) as JSON; safe to call more than once."""
    if not isinstance(logging.getLevelName(level), int):
        raise ValueError(f"DISCLOSURE_LOG_LEVEL: {level!r} is not a logging level")
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != HANDLER_NAME] + [handler]
    root.setLevel(level)
    # uvicorn brings its own plain-text handlers; its records go through the root's instead.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # Except its access lines: they carry the raw path and query (a search's names, emails and
    # dates of birth). Each request is logged by its route template instead (`request` lines).
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False


def get(name: str) -> Any:
    """A structured logger; keyword arguments become fields of the line."""
    return structlog.stdlib.get_logger(name)
