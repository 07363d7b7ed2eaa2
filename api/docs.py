"""The schema viewer: Swagger UI served by the app from the pinned swagger-ui-bundle package,
so the page loads nothing from another host and runs no inline script."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

OURS = Path(__file__).resolve().parent / "static" / "docs"
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-url="{schema}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""


class LocalSwagger(OpenAPIRenderPlugin):
    """Swagger UI at /schema and /schema/swagger, its assets under /schema/assets."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"])

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        base = request.app.openapi_config.path if request.app.openapi_config else "/schema"
        title = str(openapi_schema.get("info", {}).get("title", "API"))
        return PAGE.format(
            title=escape(title), assets=f"{base}/assets",
            schema=escape(self.get_openapi_json_route(request)),
        ).encode()

    def receive_router(self, router: Router) -> None:
        router.register(create_static_files_router(
            path="/assets", directories=[OURS, Path(swagger_ui_path)], name="schema_assets",
            include_in_schema=False,
        ))
