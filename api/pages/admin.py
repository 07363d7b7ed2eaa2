"""Administration: the areas (added with their divisions) and the divisions of the
administrator's own area, and the accounts of that area (added, and disabled with every
credential revoked). An administrator reads no cases."""

from __future__ import annotations

from typing import Annotated, Any, Final

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

# As long as the areas and users tables keep a name.
NAME_LENGTH: Final = 200
# More divisions than any force has; a longer list is refused, never cut short.
DIVISIONS_AT_ONCE: Final = 100
Username = Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


CODE_RULE: Final = "lower-case letters, digits and underscores, starting with a letter"


async def admin_page(
    request: Request[Any, Any, Any], users: Users, principal: Principal, *,
    status: int = 200, errors: list[tuple[str, str]] | None = None,
    entered: dict[str, Any] | None = None,
) -> Response[str]:
    """The page; `errors` are (field id, message), each shown on its field and in the summary."""
    names = await users.area_names()
    divisions = await users.areas()
    errors = errors or []
    return render(
        request, "admin.html", status=status,
        areas=[(code, names[code], divisions.get(code, [])) for code in sorted(names)],
        accounts=await users.list(area=principal.area), roles=ROLES,
        descriptions=ROLE_DESCRIPTIONS, errors=errors, wrong=dict(errors),
        entered=entered or {}, error_count=len(errors),
    )


def _is_code(value: str) -> bool:
    try:
        msgspec.convert(value, Code)
    except msgspec.ValidationError:
        return False
    return True


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
    username = str(form.get("username") or "").strip()
    display_name = str(form.get("display_name") or "").strip()
    roles = [r for r in form.getall("roles", []) if r in ROLES]
    entered = {"username": username, "display_name": display_name, "roles": roles}
    if len(display_name) > NAME_LENGTH or "\x00" in display_name:
        return await admin_page(request, users, principal, status=HTTP_400_BAD_REQUEST, errors=[
            ("display_name", f"A full name is up to {NAME_LENGTH} characters (no NUL"
             " characters)")], entered=entered)
    try:
        await users.add(username, password=str(form.get("password") or ""),
                        area=principal.area, roles=roles, display_name=display_name or None,
                        created_by=principal.username)
    except UserError as exc:
        field = "roles" if "role" in str(exc) else (
            "password" if "password" in str(exc).lower() else "username")
        return await admin_page(request, users, principal, status=HTTP_400_BAD_REQUEST,
                                errors=[(field, str(exc))], entered=entered)
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
                                errors=[("accounts", f"{username} is not an account you can"
                                         " disable here")])
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
    if not _is_code(code):
        return await admin_page(request, users, principal, status=HTTP_400_BAD_REQUEST,
                                errors=[("division", f"A division is a code of {CODE_RULE}")])
    names = await users.area_names()
    await users.add_area(principal.area, name=names[principal.area], divisions=[code])
    return Redirect("/admin", status_code=303)


@post("/admin/areas", status_code=303)
async def page_admin_add_area(
    request: Request[Any, Any, Any], users: NamedDependency[Users],
    principal: NamedDependency[Principal],
) -> Response[Any]:
    """A new police force or MAPPA area with its divisions, as `disclosure areas add` makes
    one; a code already in use is refused (its divisions are added on its own admin page)."""
    form = await request.form()
    typed = str(form.get("area_code") or "").strip()
    code = typed.lower()
    name = " ".join(str(form.get("area_name") or "").split())
    listed = str(form.get("area_divisions") or "")
    given = listed.replace(",", " ").split()
    divisions = [d.lower() for d in given]
    errors = []
    if not _is_code(code):
        errors.append(("area-code", f"Enter the area's code: {CODE_RULE}"))
    elif code in await users.area_names():
        errors.append(("area-code", f"There is already an area with the code {code}"))
    if not name or len(name) > NAME_LENGTH or "\x00" in name:
        errors.append(("area-name", f"Enter the area's name, up to {NAME_LENGTH} characters"
                       " (no NUL characters)"))
    wrong = [d for d in given if not _is_code(d.lower())]
    if len(given) > DIVISIONS_AT_ONCE:
        errors.append(("area-divisions", f"List at most {DIVISIONS_AT_ONCE} divisions; add"
                       " more on the area's own admin page"))
    elif wrong:
        errors.append(("area-divisions", f"Each division is a code of {CODE_RULE}; these"
                       f" are not: {', '.join(wrong[:3])[:120]}"))
    if errors:
        return await admin_page(request, users, principal, status=HTTP_400_BAD_REQUEST,
                                errors=errors, entered={"area_code": typed, "area_name": name,
                                                        "area_divisions": listed})
    await users.add_area(code, name=name, divisions=divisions)
    return Redirect("/admin", status_code=303)
