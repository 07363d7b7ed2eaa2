"""How names, phone numbers, emails and search terms are normalised: the one place for it.

Every value written to the search index and every term searched for goes through these
functions, so `PRICE, Daniel`, `Daniel  Price` and `Danny Price` meet on the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from anyascii import anyascii

from disclosure.errors import InvalidInput

# Common English forename variants, each mapped to the form the index keeps. Cheap, and it
# catches what trigrams alone rank lower (`Danny` and `Daniel` share only three trigrams).
NICKNAMES: Final[dict[str, str]] = {
    variant: name
    for name, variants in {
        "alexander": "alex alec sandy",
        "andrew": "andy drew",
        "anthony": "tony ant",
        "benjamin": "ben benny",
        "charles": "charlie chas chuck",
        "christopher": "chris kit",
        "daniel": "dan danny",
        "david": "dave davy",
        "edward": "ed eddie ted ned",
        "elizabeth": "liz lizzie beth betty eliza",
        "james": "jim jimmy jamie",
        "john": "johnny jack",
        "jonathan": "jon jonny",
        "joseph": "joe joey",
        "katherine": "kate katie kath kathy catherine kathryn",
        "margaret": "maggie meg peggy",
        "matthew": "matt",
        "michael": "mike mick mickey",
        "nicholas": "nick nicky",
        "patrick": "pat paddy",
        "peter": "pete",
        "rebecca": "becky becca",
        "richard": "rich rick ricky dick",
        "robert": "rob robbie bob bobby bert",
        "samuel": "sam sammy",
        "stephen": "steve steven stevie",
        "susan": "sue susie suzanne",
        "thomas": "tom tommy",
        "william": "will bill billy liam",
    }.items()
    for variant in variants.split()
}

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_REFERENCE = re.compile(r"^(DVDS|CSODS|MAPPA)-\d{4}-\d{6}$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_UK_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")


def fold(text: str) -> str:
    """Latin letters without accents (`Zoë` → `zoe`, `Łukasz` → `lukasz`, `Мария` →
    `mariya`), casefolded, every run of other characters one space."""
    return _NOT_ALNUM.sub(" ", anyascii(text).casefold()).strip()


def name(text: str) -> str:
    """A person's name as the index keeps it: `PRICE, Daniel`, `Danny Price` and `Daniel Pryce`
    all give `daniel price`; hyphens and accents are gone, so `Zoë Smith-Jones` is
    `zoe smith jones`."""
    if "," in text:
        surname, _, forenames = text.partition(",")
        text = f"{forenames} {surname}"
    words = fold(text).split()
    return " ".join(_sound(NICKNAMES.get(w, w)) for w in words)


_DOUBLED = re.compile(r"([a-z])\1+")


def _sound(word: str) -> str:
    """A few English spellings of one sound written one way: `Pryce` and `Price`, `Smyth` and
    `Smith`, `Phillips` and `Filips`. Cheap, and it keeps near-homophones apart from names
    that only share letters (`Prentice`)."""
    word = word[:1] + word[1:].replace("y", "i")
    word = word.replace("ph", "f").replace("ck", "k")
    return _DOUBLED.sub(r"\1", word)


def organisation(text: str) -> str:
    """An organisation's name: folded, without nickname handling."""
    return fold(text)


def phone(text: str) -> str | None:
    """Digits only, a UK +44 prefix written as the leading 0; None if it is not a number."""
    digits = re.sub(r"\D", "", text)
    if text.strip().startswith("+44") or (digits.startswith("44") and len(digits) == 12):
        digits = "0" + digits[2:].removeprefix("0")
    return digits if len(digits) >= 7 else None


def email(text: str) -> str | None:
    value = text.strip().casefold()
    return value if _EMAIL.match(value) else None


def _date(text: str) -> str | None:
    """An ISO date from `1985-03-12` or `12/03/1985`; None if the text is not a date."""
    if m := _ISO_DATE.match(text):
        year, month, day = (int(g) for g in m.groups())
    elif m := _UK_DATE.match(text):
        day, month, year = (int(g) for g in m.groups())
    else:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError as exc:
        raise InvalidInput("q", f"{text!r} is not a real date") from exc


def trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams of already-folded text: each word padded with two spaces before and
    one after."""
    grams: set[str] = set()
    for word in text.split():
        padded = f"  {word} "
        grams.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return grams


def similarity(a: str | None, b: str | None) -> float:
    """pg_trgm's similarity(): shared trigrams over all trigrams of both. SQLite scores the
    candidates its FTS5 index finds with this, so both engines rank alike."""
    if not a or not b:
        return 0.0
    left, right = trigrams(a), trigrams(b)
    union = len(left | right)
    return len(left & right) / union if union else 0.0


def fts_query(text: str) -> str | None:
    """An FTS5 trigram-tokenizer query matching any three letters of any word of the text; a
    name of short words ("A B") is matched whole; under three letters, nothing can match."""
    grams = sorted({w[i:i + 3] for w in text.split() for i in range(len(w) - 2)})
    if not grams and len(text) >= 3:
        grams = [text]
    if not grams:
        return None
    return " OR ".join('"' + g.replace('"', '""') + '"' for g in grams)


@dataclass(frozen=True)
class Query:
    """What a search asks for: one kind of term, a name optionally with a date of birth."""

    name: str | None = None
    date_of_birth: str | None = None
    phone: str | None = None
    email: str | None = None
    reference: str | None = None


def parse(q: str) -> Query:
    """Read a search box: a reference, an email, a phone number, or a name and/or a date of
    birth. Anything else is refused naming `q`."""
    text = " ".join(q.split())
    if not text:
        raise InvalidInput("q", "give a name, date of birth, phone number, email or reference")
    if _REFERENCE.match(text):
        return Query(reference=text.upper())
    if "@" in text:
        if (found := email(text)) is None:
            raise InvalidInput("q", "not an email address")
        return Query(email=found)
    if _PHONE.match(text) and not any(_date(word) for word in text.split()):
        found_phone = phone(text)
        if found_phone is not None:
            return Query(phone=found_phone)
    words: list[str] = []
    born: str | None = None
    for word in text.split():
        if (day := _date(word)) is not None:
            if born is not None:
                raise InvalidInput("q", "give at most one date of birth")
            born = day
        else:
            words.append(word)
    wanted = name(" ".join(words)) if words else None
    if words and not any(len(word) >= 3 for word in (wanted or "").split()):
        raise InvalidInput("q", "a name needs a word of at least three letters")
    return Query(name=wanted, date_of_birth=born)
