"""Finding people on both engines: near-miss names, dates of birth, safe contacts, references,
ranking and paging, area scoping, and the log every search leaves."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from sqlalchemy import delete, select, text, update

from disclosure.errors import InvalidInput
from disclosure.models import Party, SearchTerm
from disclosure.references import request_id
from disclosure.schemas import NewRequest, RequestView
from disclosure.search import index, names
from disclosure.search.service import Finder, SearchPage
from disclosure.workflow import Workflow
from tests.factories import new_request, payload

OFFICER = "officer.ann"


async def receive(
    workflow: Workflow, subject: str, *, born: str | None = None, at_risk: str = "Amy Sample",
    area: str = "derbyshire", received_at: str = "2026-11-02T09:00:00Z",
    applicant: dict[str, Any] | None = None,
) -> RequestView:
    """A DVDS right-to-ask application naming this subject and person at risk."""
    body = new_request(area=area, received_at=received_at)
    body["parties"][0] |= {"name": subject, "date_of_birth": born}
    body["parties"][1] |= {"name": at_risk}
    if applicant is not None:
        body["parties"][2] |= applicant
    return await workflow.create(msgspec.convert(body, NewRequest), actor=OFFICER)


def finder(workflow: Workflow) -> Finder:
    return Finder(workflow.db, workflow.finding, now=workflow.now)


async def find(workflow: Workflow, q: str, *, area: str = "derbyshire", limit: int = 20,
               cursor: str | None = None) -> SearchPage:
    return await finder(workflow).search(
        q, area=area, searcher=OFFICER, limit=limit, cursor=cursor
    )


def refs(page: SearchPage) -> list[str]:
    return [hit.reference for hit in page.items]


async def test_near_miss_names_find_the_same_man(workflow: Workflow) -> None:
    plain = await receive(workflow, "Daniel Price")
    reversed_ = await receive(workflow, "PRICE, Daniel")
    nickname = await receive(workflow, "Danny Price")
    homophone = await receive(workflow, "Daniel Pryce")
    misspelt = await receive(workflow, "Daniel Prise")
    other = await receive(workflow, "Mark Sample")
    same_man = {plain.reference, reversed_.reference, nickname.reference, homophone.reference,
                misspelt.reference}

    for q in ("Daniel Price", "PRICE, Daniel", "danny price", "Daniel Pryce", "daniel prise"):
        found = refs(await find(workflow, q))
        assert set(found) == same_man, q
        assert other.reference not in found

    page = await find(workflow, "Daniel Price")
    # Every way of writing the name ranks above the misspelling; each hit names the role.
    assert page.items[-1].reference == misspelt.reference
    assert [hit.score for hit in page.items[:4]] == [1.0] * 4
    assert page.items[-1].score < 1.0
    assert all(m.role == "subject" and m.field == "name"
               for hit in page.items for m in hit.matches)
    assert page.items[0].matches[0].name in {
        "Daniel Price", "PRICE, Daniel", "Danny Price", "Daniel Pryce"}


async def test_a_surname_alone_finds_the_man(workflow: Workflow) -> None:
    price = await receive(workflow, "Daniel Price")
    assert refs(await find(workflow, "Price")) == [price.reference]


async def test_hyphens_and_accents_do_not_hide_a_name(workflow: Workflow) -> None:
    zoe = await receive(workflow, "Mark Sample", at_risk="Zoë Smith-Jones")
    for q in ("Zoe Smith Jones", "smith-jones zoë", "SMITH JONES, Zoe", "Zoe Smithjones"):
        page = await find(workflow, q)
        assert refs(page) == [zoe.reference], q
        assert page.items[0].matches[0].role == "person_at_risk"


async def test_two_men_of_one_name_are_told_apart_by_date_of_birth(workflow: Workflow) -> None:
    older = await receive(workflow, "Daniel Price", born="1985-03-12")
    younger = await receive(workflow, "Daniel Price", born="1990-07-01")
    unknown = await receive(workflow, "Daniel Prise")

    page = await find(workflow, "Daniel Price 12/03/1985")
    # The one born that day first, then the one whose date of birth is not recorded; never
    # the man born on another day.
    assert refs(page) == [older.reference, unknown.reference]
    assert page.items[0].matches[0].date_of_birth == "1985-03-12"
    assert younger.reference not in refs(page)
    # Without a date of birth both are found.
    assert {older.reference, younger.reference} <= set(refs(await find(workflow, "Daniel Price")))
    # A date of birth alone finds the one born that day.
    assert refs(await find(workflow, "1990-07-01")) == [younger.reference]


async def test_a_safe_contact_is_found_by_phone_or_email(workflow: Workflow) -> None:
    by_phone = await receive(workflow, "Daniel Price", applicant={
        "safe_contact": {"method": "phone", "details": "07700 900461"}})
    by_email = await receive(workflow, "Daniel Price", applicant={
        "safe_contact": {"method": "email", "details": "Susan.Walker@example.org"}})

    page = await find(workflow, "+44 7700 900461")
    assert refs(page) == [by_phone.reference]
    assert page.items[0].matches[0].role == "applicant"
    assert page.items[0].matches[0].field == "phone"
    assert refs(await find(workflow, "susan.walker@EXAMPLE.org")) == [by_email.reference]


async def test_a_reference_finds_its_request(workflow: Workflow) -> None:
    request = await receive(workflow, "Daniel Price")
    page = await find(workflow, request.reference.lower())
    assert refs(page) == [request.reference]
    assert page.items[0].matches[0].field == "reference"


async def test_a_search_never_shows_another_areas_request(workflow: Workflow) -> None:
    ours = await receive(workflow, "Daniel Price", born="1985-03-12", applicant={
        "safe_contact": {"method": "phone", "details": "07700 900461"}})
    theirs = await receive(workflow, "Daniel Price", born="1985-03-12", area="durham",
                           applicant={"safe_contact": {"method": "phone",
                                                       "details": "07700 900461"}})
    for q in ("Daniel Price", "1985-03-12", "07700900461", theirs.reference):
        found = refs(await find(workflow, q))
        assert theirs.reference not in found, q
    assert refs(await find(workflow, "Daniel Price", area="durham")) == [theirs.reference]
    assert refs(await find(workflow, "Daniel Price")) == [ours.reference]


async def test_pages_follow_on_without_repeats(workflow: Workflow) -> None:
    made = {(await receive(workflow, name)).reference
            for name in ("Daniel Price", "Daniel Price", "Danny Price", "Daniel Prise",
                         "Daniel Prize")}
    seen: list[str] = []
    cursor = None
    while True:
        page = await find(workflow, "Daniel Price", limit=2, cursor=cursor)
        seen += refs(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == made


async def test_every_search_is_logged_with_what_it_showed(workflow: Workflow) -> None:
    price = await receive(workflow, "Daniel Price")
    await find(workflow, "Daniel Price")
    await find(workflow, "Nobody Known")
    log = await finder(workflow).log(area="derbyshire", limit=10, cursor=None)
    assert [(e.searcher, e.terms, e.shown) for e in log.items] == [
        (OFFICER, "Nobody Known", []),
        (OFFICER, "Daniel Price", [price.reference]),
    ]
    assert log.items[0].searched_at == workflow.now()
    # Another area's log does not hold them.
    assert (await finder(workflow).log(area="durham", limit=10, cursor=None)).items == []


async def test_an_unreadable_search_is_refused_and_changes_nothing(workflow: Workflow) -> None:
    with pytest.raises(InvalidInput, match=r"q: .*not a real date"):
        await find(workflow, "Price 31/02/1985")
    log = await finder(workflow).log(area="derbyshire", limit=10, cursor=None)
    assert log.items == []


@pytest.mark.parametrize(("a", "b"), [
    ("daniel price", "daniel pryce"), ("zoe smith jones", "zoe smithjones"),
    ("price", "daniel price"), ("emma walker", "emma walkden"),
])
async def test_the_engine_scores_names_as_the_normaliser_does(
    workflow: Workflow, a: str, b: str
) -> None:
    function = "similarity" if workflow.db.dialect == "postgresql" else "trgm_similarity"
    async with workflow.db.read() as session:
        score = await session.scalar(select(text(f"{function}(:a, :b)")).params(a=a, b=b))
    assert score == pytest.approx(names.similarity(a, b), abs=1e-6)


async def test_a_party_written_again_is_found_by_its_new_name_only(workflow: Workflow) -> None:
    request = await receive(workflow, "Daniel Price")
    subject = next(p for p in request.parties if p.role == "subject")
    async with workflow.db.write() as session, session.begin():
        conn = await session.connection()
        await conn.execute(update(Party).where(Party.id == subject.id).values(name="Robert Walsh"))
        await index.index_parties(
            conn, request_id=await request_id(session, request.reference), area="derbyshire",
            parties=[msgspec.to_builtins(subject) | {"name": "Robert Walsh"}],
        )
    assert refs(await find(workflow, "Robert Walsh")) == [request.reference]
    assert refs(await find(workflow, "Daniel Price")) == []


async def test_reindex_rewrites_every_partys_terms(workflow: Workflow) -> None:
    requests = [await receive(workflow, name) for name in ("Daniel Price", "Zoë Smith-Jones")]
    async with workflow.db.write() as session, session.begin():
        await session.execute(delete(SearchTerm))
    assert refs(await find(workflow, "Daniel Price")) == []
    assert await index.reindex(workflow.db, batch=1) == 6
    assert refs(await find(workflow, "Daniel Price")) == [requests[0].reference]
    assert refs(await find(workflow, "zoe smith jones")) == [requests[1].reference]


async def test_an_organisation_is_found_by_its_name(workflow: Workflow) -> None:
    body = new_request()
    body["parties"].append({"role": "recipient", "kind": "organisation",
                            "name": "St Mary's C of E Primary School"})
    school = await workflow.create(msgspec.convert(body, NewRequest), actor=OFFICER)
    await receive(workflow, "Daniel Price")
    for q in ("st marys primary school", "St. Mary's Primary"):
        page = await find(workflow, q)
        assert refs(page) == [school.reference], q
        assert (page.items[0].matches[0].field, page.items[0].matches[0].role) == (
            "organisation", "recipient")


async def test_names_of_short_words_are_received_and_found(workflow: Workflow) -> None:
    # Initials only ("A B") used to make an empty FTS5 query on SQLite, so receiving the
    # request failed while it looked for duplicates.
    first = await receive(workflow, "C D", at_risk="A B")
    second = await receive(workflow, "C D", at_risk="E F")
    assert first.reference in [d.reference for d in second.possible_duplicates]


async def test_a_party_added_is_indexed_and_its_duplicates_listed(workflow: Workflow) -> None:
    first = await receive(workflow, "Daniel Price", born="1985-03-12")
    later = await receive(workflow, "Mark Sample", at_risk="Kate Long")
    other_area = await receive(workflow, "Daniel Price", born="1985-03-12", area="kent")
    done = await workflow.apply(
        later.reference,
        payload("add_party", party={"role": "subject", "name": "PRICE, Danny",
                                    "date_of_birth": "1985-03-12"}),
        actor=OFFICER, expected_version=later.version,
    )
    [duplicate] = done.possible_duplicates
    assert done.possible_duplicates_total == 1
    assert (duplicate.reference, duplicate.state, duplicate.role) == (
        first.reference, "received", "subject")
    assert duplicate.received_at == first.received_at
    # The event's answer is off the read trail: no other request's names in it.
    assert (duplicate.name, duplicate.date_of_birth) == (None, None)
    assert other_area.reference not in [d.reference for d in done.possible_duplicates]
    assert refs(await find(workflow, "Danny Price")) == [later.reference, first.reference]
    # The request view lists it too, names and all.
    view = await workflow.get(later.reference, area="derbyshire")
    assert [(d.reference, d.name) for d in view.possible_duplicates] == [
        (first.reference, "Daniel Price")]


async def test_a_party_amended_is_found_by_its_new_name_and_duplicates_listed(
    workflow: Workflow,
) -> None:
    first = await receive(workflow, "Daniel Pryce")
    later = await receive(workflow, "Robert Walsh", at_risk="Kate Long")
    assert later.possible_duplicates == []
    subject = next(p for p in later.parties if p.role == "subject")
    done = await workflow.apply(
        later.reference,
        payload("amend_party", party_id=subject.id, changes={"name": "Daniel Price"}),
        actor=OFFICER, expected_version=later.version,
    )
    assert [d.reference for d in done.possible_duplicates] == [first.reference]
    assert refs(await find(workflow, "Robert Walsh")) == []
    assert set(refs(await find(workflow, "Daniel Price"))) == {first.reference, later.reference}
    # Any other event answers with no duplicates.
    checked = await workflow.apply(
        later.reference, payload("complete_initial_checks"), actor=OFFICER,
        expected_version=done.version,
    )
    assert checked.possible_duplicates == []
