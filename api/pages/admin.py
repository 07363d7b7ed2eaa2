"""Administration: the areas and divisions, and the accounts of the administrator's own area
(added, and disabled with every credential revoked). An administrator reads no cases."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST

from api.pages.layout import render
from disclosure.access import ROLE_DESCRIPTIONS, ROLES
from disclosure.schemas import Code
from disclosure.users import Principal, UserError, Users

Username = Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


async def admin_page(
    request: Request[Any, Any, Any], users: Users, principal: Principal, *,
    status: int = 200, error: tuple[str, str] | None = None, done: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response[str]:
    names = await users.area_names()
    divisions = await users.areas()
    return render(
        request, "admin.html", status=status,
        areas=[(code, names[code], divisions.get(code, [])) for code in sorted(names)],
        accounts=await users.list(area=principal.area), roles=ROLES,
        descriptions=ROLE_DESCRIPTIONS, error=error, done=done, entered=entered or {},
        error_count=1 if error else 0,
    )


@get("/admin")
async def page_admin(
    request: Request[Any, Any, Any], users: NamedDependency[Users],
    principal: NamedDependency[Principal],
) -> Response[str]:
    return await admin_page(request, users, principal)


@post("/admin/users", status_code=303)
async def page_admin_add_user(
    request: Request[Any, Any, Any], users: NamedDependency[Users],
    principal: NamedDependency[Principal],
) -> Response[Any]:
    """An account in the administrator's own area; its first password is given here and
    checked like any other (at least 12 characters, not a common or breached one)."""
    form = await request.form()
    username = str(form.get("username") or "").strip()[:64]
    display_name = str(form.get("display_name") or "").strip()[:200]
    roles = [r for r in form.getall("roles") if r in ROLES]
    entered = {"username": username, "display_name": display_name, "roles": roles}
    try:
        await users.add(username, password=str(form.get("password") or ""),
                        area=principal.area, roles=roles, display_name=display_name or None,
                        created_by=principal.username)
    except UserError as exc:
        field = "roles" if "role" in str(exc) else (
            "password" if "password" in str(exc).lower() else "username")
        return await admin_page(request, users, principal, status=HTTP_400_BAD_REQUEST,
                                error=(field, str(exc)), entered=entered)
    return Redirect("/admin", status_code=303)


@post("/admin/users/{username:str}/disable", status_code=303)
async def page_admin_disable_user(
    request: Request[Any, Any, Any], username: Username, users: NamedDependency[Users],
    principal: NamedDependency[Principal],
) -> Response[Any]:
    """Disable an account of the administrator's own area; another area's is not found."""
    mine = {u.username for u in await users.list(area=principal.area)}
    if username not in mine or username == principal.username:
        return await admin_page(request, users, principal, status=HTTP_400_BAD_REQUEST,
                                error=("accounts", f"{username} is not an account you can"
                                       " disable here"))
    await users.disable(username)
    return Redirect("/admin", status_code=303)


@post("/admin/divisions", status_code=303)
async def page_admin_add_division(
    request: Request[Any, Any, Any], users: NamedDependency[Users],
    principal: NamedDependency[Principal],
) -> Response[Any]:
    """A division (local policing area) of the administrator's own area."""
    form = await request.form()
    code = str(form.get("division") or "").strip().lower()
    try:
        msgspec.convert(code, Code)
    except msgspec.ValidationError:
        return await admin_page(request, users, principal, status=HTTP_400_BAD_REQUEST,
                                error=("division", "a division is a code of lower-case letters,"
                                       " digits and underscores, starting with a letter"))
    names = await users.area_names()
    await users.add_area(principal.area, name=names[principal.area], divisions=[code])
    return Redirect("/admin", status_code=303)
