"""Normalising names, contacts and search boxes: the one place both engines' terms come from."""

from __future__ import annotations

import pytest

from disclosure.errors import InvalidInput
from disclosure.search import names


@pytest.mark.parametrize("written", [
    "Daniel Price", "PRICE, Daniel", "  daniel   price ", "Danny Price", "Dan PRICE",
    "Daniel Pryce", "Danny Pryce",
])
def test_ways_of_writing_one_name_meet(written: str) -> None:
    assert names.name(written) == "daniel price"


def test_hyphens_and_accents_fold_away() -> None:
    assert names.name("Zoë Smith-Jones") == names.name("Zoe Smith Jones") == "zoe smith jones"
    assert names.name("SMITH-JONES, Zoë") == "zoe smith jones"
    assert names.name("Siân O'Brien") == "sian o brien"
    assert names.name("Łukasz Wójcik") == names.name("Lukasz Wojcik") == "lukasz wojcik"
    assert names.name("Мария Иванова") == names.name("Maria Ivanova") == "maria ivanova"
    assert names.name("Zoe Smyth-Phillips") == "zoe smith filips"


def test_a_misspelt_surname_stays_close_and_a_different_name_does_not() -> None:
    assert names.similarity("daniel price", "daniel pryce") > 0.6
    assert names.similarity("daniel price", "price daniel") == 1.0
    assert names.similarity("daniel price", "mark sample") == 0.0


def test_phone_numbers_are_digits_with_the_uk_prefix_as_a_leading_zero() -> None:
    assert names.phone("07700 900461") == "07700900461"
    assert names.phone("+44 (0)7700-900461") == "07700900461"
    assert names.phone("+44 7700 900461") == "07700900461"
    assert names.phone("123") is None


def test_emails_are_casefolded_and_checked() -> None:
    assert names.email("  Emma.Walker@Example.ORG ") == "emma.walker@example.org"
    assert names.email("not an email") is None


@pytest.mark.parametrize(("box", "expected"), [
    ("Daniel Pryce", names.Query(name="daniel price")),
    ("PRICE, Daniel 12/03/1985", names.Query(name="daniel price", date_of_birth="1985-03-12")),
    ("1985-03-12", names.Query(date_of_birth="1985-03-12")),
    ("07700 900461", names.Query(phone="07700900461")),
    ("Emma@Example.org", names.Query(email="emma@example.org")),
    ("dvds-2026-000104", names.Query(reference="DVDS-2026-000104")),
    ("Zoë Smith-Jones", names.Query(name="zoe smith jones")),
])
def test_a_search_box_is_read_as_one_kind_of_term(box: str, expected: names.Query) -> None:
    assert names.parse(box) == expected


@pytest.mark.parametrize(("box", "message"), [
    ("   ", "give a name"),
    ("Price 31/02/1985", "not a real date"),
    ("no@", "not an email"),
    ("Jo Li", "at least three letters"),
    ("1985-03-12 1990-01-01", "at most one date of birth"),
])
def test_a_search_box_that_cannot_be_read_is_refused_naming_q(box: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        names.parse(box)
    assert refused.value.field == "q"


def test_the_fts_query_asks_for_any_three_letters_of_any_word() -> None:
    assert names.fts_query("zoe li") == '"zoe"'
    assert names.fts_query("price") == '"ice" OR "pri" OR "ric"'


def test_a_name_of_short_words_is_matched_whole_and_two_letters_match_nothing() -> None:
    assert names.fts_query("a b") == '"a b"'
    assert names.fts_query("ab") is None
