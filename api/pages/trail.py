"""The auditors' pages: the trail verified (an auditor's own area, an administrator's every
area) with the signed checkpoints, who viewed a request, and the search log."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect

from api.pages.layout import render
from disclosure import audit, checkpoints, keys
from disclosure.access import trail_scope
from disclosure.reads import ReadLog
from disclosure.search.service import Finder
from disclosure.settings import Settings
from disclosure.users import Principal
from disclosure.workflow import Workflow

Reference = Annotated[str, PathParameter(pattern=r"^[A-Z]{4,5}-\d{4}-\d{6}$", max_length=32)]


@get("/audit")
async def page_audit(
    request: Request[Any, Any, Any], workflow: NamedDependency[Workflow],
    principal: NamedDependency[Principal], settings: NamedDependency[Settings],
    verify: Annotated[bool, QueryParameter()] = False,
    reference: Annotated[str | None, QueryParameter(
        pattern=r"^[A-Z]{4,5}-\d{4}-\d{6}$", max_length=32)] = None,
) -> Response[Any]:
    """Verify the trail on request (it reads every event); list the checkpoints, and for an
    administrator, whose verification covers every area, check the trail against them."""
    if reference is not None:
        return Redirect(f"/audit/requests/{reference}/views", status_code=303)
    scope = trail_scope(principal.roles, principal.area)
    verdict = await audit.verify(workflow.db, area=scope) if verify else None
    folder = settings.checkpoint_dir
    taken = sorted(folder.glob("checkpoint-*.jsonl"), reverse=True) if folder and (
        folder.is_dir()) else []
    findings = None
    if verify and scope is None and folder is not None and taken:
        signer = keys.checkpoint_key_file(settings.database_url, settings.checkpoint_key_file)
        findings = await checkpoints.verify(workflow.db, folder, keys.load_public_key(signer))
    return render(request, "audit.html", verdict=verdict, checkpoints=[p.name for p in taken],
                  findings=findings, every_area=scope is None, configured=folder is not None)


@get("/audit/requests/{reference:str}/views")
async def page_views(
    request: Request[Any, Any, Any], reference: Reference, reads: NamedDependency[ReadLog],
    principal: NamedDependency[Principal],
    cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Response[str]:
    """Who viewed a request, when and through which page or endpoint."""
    page = await reads.list(reference, area=principal.area, limit=200, cursor=cursor)
    return render(request, "views.html", reference=reference, views=page.items,
                  next_cursor=page.next_cursor)


@get("/audit/searches")
async def page_searches(
    request: Request[Any, Any, Any], finder: NamedDependency[Finder],
    principal: NamedDependency[Principal],
    cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Response[str]:
    """Every search in the area, newest first: who, when, the words and what it showed."""
    page = await finder.log(area=principal.area, limit=100, cursor=cursor)
    return render(request, "searches.html", searches=page.items, next_cursor=page.next_cursor)
