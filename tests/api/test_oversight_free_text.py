"""No free text reaches oversight roles, by construction: every free-text field of a request and
of its events is seeded with a marker, and every answer those roles can reach is scanned."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx
import msgspec
import pytest
from msgspec import inspect

from disclosure import access
from disclosure.reports.metrics import SPECS
from disclosure.schemas import PAYLOADS, NewRequest
from tests import factories
from tests.api.conftest import OWN, People
from tests.api.test_access_matrix import SAMPLES
from tests.conftest import FakeClock

MARK = "Zqxleak"
OVERSIGHT = sorted(access.OVERSIGHT)


def _free_text(info: inspect.Type) -> bool:
    if isinstance(info, inspect.UnionType):
        return any(_free_text(t) for t in info.types)
    return isinstance(info, inspect.StrType) and info.pattern in (None, r"^[^\x00]*$")


def seeded(body: Any, info: inspect.Type, path: str = "") -> Any:
    """The body with a marker in every free-text field, optional ones filled in too."""
    if isinstance(info, inspect.UnionType):
        for option in info.types:
            if not isinstance(option, inspect.NoneType):
                try:
                    return seeded(body, option, path)
                except TypeError:
                    continue
        return body
    if isinstance(info, inspect.StructType):
        if not isinstance(body, dict):
            raise TypeError(path)
        out = dict(body)
        for field in info.fields:
            name = f"{path}.{field.name}"
            if _free_text(field.type):
                out[field.name] = f"{MARK} {name}"[:field.type.max_length or 200] if isinstance(
                    field.type, inspect.StrType) else f"{MARK} {name}"
            elif field.name in out:
                out[field.name] = seeded(out[field.name], field.type, name)
        return out
    if isinstance(info, inspect.ListType) and isinstance(body, list):
        return [seeded(item, info.item_type, f"{path}[{n}]") for n, item in enumerate(body)]
    return body


def seeded_event(event: str, **fields: Any) -> dict[str, Any]:
    plain = factories.body(event, **fields)
    body = seeded(plain, inspect.type_info(PAYLOADS[event]))
    while True:
        try:
            msgspec.convert(body, PAYLOADS[event])  # still a valid payload
            return body
        except msgspec.ValidationError as exc:
            # An optional field its rules allow only in another case goes back as it was.
            field = str(exc).split(":", 1)[0]
            assert body.get(field) != plain.get(field), exc
            if field in plain:
                body[field] = plain[field]
            else:
                del body[field]


async def _walk(client: httpx.AsyncClient, people: People) -> str:
    officer = people.bearer("disclosure_officer")
    body = seeded(factories.new_request(area=OWN), inspect.type_info(NewRequest))
    created = await client.post("/api/requests", json=body, headers=officer)
    assert created.status_code == 201, created.text
    ref, version = created.json()["reference"], created.json()["version"]
    at_risk = next(p["id"] for p in created.json()["parties"] if p["role"] == "person_at_risk")
    steps = [
        ("disclosure_officer", "complete_initial_checks", {}),
        ("disclosure_officer", "record_meeting", {}),
        ("disclosure_officer", "record_partner_request", {}),
        ("disclosure_officer", "record_partner_response", {}),
        ("disclosure_officer", "record_check", {}),
        ("disclosure_officer", "extend_deadline", {}),
        ("disclosure_officer", "complete_checks", {}),
        ("decision_maker", "record_decision", {"recipients": [factories.recipient(at_risk)]}),
        ("disclosure_officer", "record_delivery", {"recipient_party_id": at_risk}),
        ("disclosure_officer", "record_notice", {}),
    ]
    for role, event, fields in steps:
        answer = await client.post(
            f"/api/requests/{ref}/events", json=seeded_event(event, **fields),
            headers={**people.bearer(role), "If-Match": f'"{version}"'},
        )
        assert answer.status_code == 200, (event, answer.text)
        version = answer.json()["version"]
    timeline = await client.get(f"/api/requests/{ref}/events", headers=officer)
    assert timeline.text.count(MARK) > 30, "casework sees the seeded text: the scan is real"
    return ref


@pytest.mark.parametrize("role", OVERSIGHT)
async def test_no_free_text_reaches_oversight_roles(
    client: httpx.AsyncClient, people: People, clock: FakeClock, role: str
) -> None:
    clock.advance(days=10)  # the factories' events happen up to 7 November
    ref = await _walk(client, people)
    reached = []
    for handler, sample in SAMPLES.items():
        rule = access.ENDPOINTS[handler]
        if role not in rule.roles or handler in {"close_session", "end_other_sessions"}:
            continue
        method, path, body = sample(ref, OWN, role)
        answer = await client.request(method, path, json=body, headers=people.bearer(role))
        assert MARK not in answer.text, f"free text leaked to {role} through {method} {path}"
        if answer.status_code == 200:
            reached.append(handler)
    assert {"statistics", "decisions"} <= set(reached)


def _text_of(answer: httpx.Response) -> str:
    """What an answer says, an ODS workbook's cells included."""
    if answer.headers.get("content-type", "").startswith(
        "application/vnd.oasis.opendocument.spreadsheet"
    ):
        workbook = zipfile.ZipFile(io.BytesIO(answer.content))
        return "".join(workbook.read(name).decode() for name in workbook.namelist()
                       if name.endswith(".xml"))
    return answer.text


@pytest.mark.parametrize("role", sorted(access.ENDPOINTS["annual_report"].roles))
async def test_no_free_text_or_name_in_any_report_or_format(
    client: httpx.AsyncClient, people: People, clock: FakeClock, role: str
) -> None:
    clock.advance(days=10)
    await _walk(client, people)
    headers = people.bearer(role)
    drawn = await client.post("/api/reviews", json={"period": "2026-27", "seed": 3},
                              headers=people.bearer("smb_member"))
    assert drawn.status_code == 201 and len(drawn.json()["items"]) == 1
    scanned = 0
    for publish in ("false", "true"):
        for form in ("json", "csv", "ods", "html"):
            tables: list[str | None] = [None]
            if form in ("csv", "json"):
                tables += sorted(SPECS)
            for table in tables:
                params = {"period": "2026-27", "format": form, "publish": publish}
                if table:
                    params["table"] = table
                answer = await client.get("/api/reports/annual", params=params,
                                          headers=headers)
                assert answer.status_code == 200, answer.text
                text = _text_of(answer)
                assert MARK not in text, (role, form, table)
                for value in ("Mark Sample", "Amy Sample", "Jane Sample", "Example Street",
                              "07700 900123"):
                    assert value not in text, (role, form, table, value)
                scanned += 1
    assert scanned == 2 * (4 + 2 * len(SPECS))
    review = await client.get(f"/api/reviews/{drawn.json()['id']}", headers=headers)
    if role in access.ENDPOINTS["read_review"].roles:
        assert review.status_code == 200
        assert MARK not in review.text and "Sample" not in review.text
