"""The service's log lines: uvicorn's own access lines, which carry the raw query, stay off."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from disclosure import logs


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield io.StringIO()
    finally:
        root.handlers = handlers
        root.setLevel(level)


def test_uvicorn_access_lines_with_a_search_query_are_not_written(stream: io.StringIO) -> None:
    logs.configure(stream=stream)
    access = logging.getLogger("uvicorn.access")
    # What uvicorn's protocols ask before writing an access line at all.
    assert not access.hasHandlers()
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                "/api/search?q=kerry.holt@example.org", "1.1", 200)
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    written = stream.getvalue()
    assert "kerry.holt" not in written
    assert "Application startup complete." in written
