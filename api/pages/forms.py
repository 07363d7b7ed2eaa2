"""Forms drawn from the JSON Schema of a payload, as `/actions` gives it, and read back into the
payload's fields; a validation error lands on the field its path names.

A field's input name is its path in the payload (`recipients[0].wording`), the same path the
API names in its errors (`$.recipients[0].wording`). Times use the GOV.UK date-input pattern
(day, month, year) with a time, in the UK's own time zone."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec

from api.pages.words import LABELS, label_of, option_label

UK = ZoneInfo("Europe/London")
Kind = Literal[
    "text", "textarea", "number", "choice", "boolean", "checkboxes", "datetime", "date", "group",
    "repeat",
]
# Beyond this many options a choice is a select, not radios.
RADIOS_AT_MOST = 6
# A string allowed more characters than this is written in a textarea.
SHORT_TEXT = 200
DATE = r"^\d{4}-\d{2}-\d{2}$"
# A value read from a form: the strings of one name, in order.
Values = Mapping[str, Sequence[str]]
# Options for a field the schema cannot list (the parties of a request): by field name.
Choices = Mapping[str, Sequence[tuple[str, str]]]


@dataclass
class Field:
    """One question of a form, or a group of them (`group`, `repeat`)."""

    path: str
    name: str
    label: str
    kind: Kind
    required: bool
    hint: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    item: dict[str, Any] | None = None
    max_length: int | None = None
    integer: bool = False
    value: Any = None
    error: str | None = None
    # A date-input part the error is about (day, month, year or time), to mark that input.
    error_part: str | None = None
    # Which form of the page the field is in, when a page has several.
    form_id: str = ""

    @property
    def id(self) -> str:
        """An HTML id from the form and the path: letters, digits and hyphens."""
        return "f-" + re.sub(r"[^A-Za-z0-9]+", "-", f"{self.form_id} {self.path}").strip("-")

    @property
    def error_text(self) -> str:
        """The error as a sentence about the question: "Your name: enter an answer", or after a
        question mark, "Which area? Select an option"."""
        message = self.error or ""
        if self.label.endswith("?"):
            return f"{self.label} {message[:1].upper()}{message[1:]}"
        return f"{self.label}: {message}"

    @property
    def anchor(self) -> str:
        """The id of the input an error summary links to."""
        if self.kind in ("date", "datetime"):
            return f"{self.id}-{self.error_part or 'day'}"
        return self.id

    @property
    def api_path(self) -> str:
        return f"$.{self.path}"

    def walk(self) -> list[Field]:
        return [self, *(f for child in self.children for f in child.walk())]


@dataclass
class Form:
    """The questions of one payload, with what was entered and the errors found."""

    fields: list[Field]
    errors: list[tuple[str, str]] = field(default_factory=list)
    # Where an error about the whole form links to.
    anchor: str = "main-content"

    def all(self) -> list[Field]:
        return [f for top in self.fields for f in top.walk()]

    def place(self, path: str, message: str, part: str | None = None) -> None:
        """Put an error on the field the path names, or the nearest group holding it; an
        error that names no field is listed in the summary alone, linking to the form."""
        fields = {f.api_path: f for f in self.all()}
        probe = path
        target: Field | None = None
        while probe and probe != "$":
            if probe in fields:
                target = fields[probe]
                break
            probe = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", probe)
        if target is not None and target.kind in ("group", "repeat"):
            target = next((f for f in target.walk() if f.kind not in ("group", "repeat")),
                          None)
        if target is None:
            self.errors.append((self.anchor, message))
            return
        if target.error is None:
            target.error = message
            target.error_part = part
            self.errors.append((target.anchor, target.error_text))


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema itself (following a $ref) and whether null is allowed."""
    nullable = False
    if "anyOf" in schema:
        kinds = [s for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = len(kinds) < len(schema["anyOf"])
        schema = kinds[0] if len(kinds) == 1 else {"anyOf": kinds}
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema, nullable


def time_fields(target: type[Any]) -> frozenset[str]:
    """The names of the fields that hold a time, in a Struct and the Structs inside it (the
    JSON Schema spells a time as a plain string)."""
    found: set[str] = set()
    seen: set[int] = set()

    def visit(info: msgspec.inspect.Type) -> None:
        if id(info) in seen:
            return
        seen.add(id(info))
        if isinstance(info, msgspec.inspect.StructType):
            for f in info.fields:
                inner = f.type
                for option in getattr(inner, "types", (inner,)):
                    if isinstance(option, msgspec.inspect.DateTimeType):
                        found.add(f.name)
                    visit(option)
        elif isinstance(info, msgspec.inspect.UnionType):
            for option in info.types:
                visit(option)
        elif isinstance(info, msgspec.inspect.ListType):
            visit(info.item_type)
        elif isinstance(info, msgspec.inspect.Metadata):
            visit(info.type)

    visit(msgspec.inspect.type_info(target))
    return frozenset(found)


def build(
    schema: dict[str, Any], *, skip: Sequence[str] = ("event",), choices: Choices | None = None,
    prefix: str = "", defs: dict[str, Any] | None = None, labels: Mapping[str, str] | None = None,
    form_id: str = "", times: frozenset[str] = frozenset(),
) -> list[Field]:
    """The fields of an object schema, in its order, nested groups included."""
    defs = schema.get("$defs", {}) if defs is None else defs
    required = set(schema.get("required", []))
    found: list[Field] = []
    for name, prop in schema.get("properties", {}).items():
        if name in skip:
            continue
        path = f"{prefix}.{name}" if prefix else name
        made = _field(path, name, prop, name in required, defs, choices or {}, labels or {},
                      form_id, times)
        if made is not None:
            found.append(made)
    return found


def _field(
    path: str, name: str, prop: dict[str, Any], required: bool, defs: dict[str, Any],
    choices: Choices, labels: Mapping[str, str], form_id: str, times: frozenset[str],
) -> Field | None:
    schema, nullable = _resolve(prop, defs)
    required = required and not nullable
    labels = {**LABELS, **labels}
    tail = re.sub(r"\[\d+\]", "", path).split(".")
    label = (labels.get(path) or labels.get(".".join(tail[-2:])) or labels.get(name)
             or label_of(name))
    hint = str(prop.get("description") or schema.get("description") or "")
    base: dict[str, Any] = {"path": path, "name": path, "label": label, "required": required,
                            "hint": hint, "form_id": form_id}
    # Codes that are numbers (a MAPPA level) are sent back as numbers.
    numeric = "enum" in schema and all(isinstance(v, int) for v in schema["enum"])
    if name in choices:
        return Field(kind="choice", options=list(choices[name]),
                     integer=name.endswith("_id") or numeric, **base)
    if "enum" in schema:
        return Field(kind="choice", options=[(str(v), option_label(str(v)))
                                             for v in schema["enum"]], integer=numeric, **base)
    kind = schema.get("type")
    if kind == "boolean":
        return Field(kind="boolean", options=[("true", "Yes"), ("false", "No")], **base)
    if kind == "integer":
        return Field(kind="number", integer=True, **base)
    if kind == "string":
        if schema.get("format") == "date-time" or name in times:
            return Field(kind="datetime", **base)
        if schema.get("pattern") == DATE:
            return Field(kind="date", **base)
        limit = schema.get("maxLength")
        wide = limit is None or limit > SHORT_TEXT
        return Field(kind="textarea" if wide else "text", max_length=limit, **base)
    if kind == "array":
        items, _ = _resolve(schema.get("items", {}), defs)
        if "enum" in items:
            return Field(kind="checkboxes", options=[(str(v), option_label(str(v)))
                                                     for v in items["enum"]], **base)
        if items.get("type") == "object":
            return Field(kind="repeat", item=items, **base)
        return None
    if kind == "object" and "properties" in schema:
        children = build(schema, prefix=path, defs=defs, choices=choices, labels=labels,
                         form_id=form_id, times=times)
        return Field(kind="group", children=children, **base)
    return None


def expand(fields: list[Field], values: Values, *, defs: dict[str, Any], choices: Choices,
           labels: Mapping[str, str] | None = None, more: str | None = None,
           times: frozenset[str] = frozenset()) -> None:
    """Give each repeating group as many items as were entered (at least one, one more for
    the group named by `more`), each item's fields built from the item schema."""
    for f in fields:
        if f.kind == "repeat" and f.item is not None:
            count = _entered_items(f.path, values)
            count = max(count, 1) + (1 if more == f.path else 0)
            f.children = [
                Field(path=f"{f.path}[{i}]", name=f"{f.path}[{i}]",
                      label=f"{f.label} {i + 1}", kind="group", required=False,
                      form_id=f.form_id,
                      children=build(f.item, prefix=f"{f.path}[{i}]", defs=defs,
                                     choices=choices, labels=labels, form_id=f.form_id,
                                     times=times))
                for i in range(count)
            ]
        expand(f.children, values, defs=defs, choices=choices, labels=labels, more=more,
               times=times)


def _entered_items(path: str, values: Values) -> int:
    pattern = re.compile(re.escape(path) + r"\[(\d+)\]")
    indexes = [int(m[1]) for key in values if (m := pattern.match(key))]
    return max(indexes) + 1 if indexes else 0


def payload_form(
    target: type[Any], *, values: Values, form_id: str = "", choices: Choices | None = None,
    more: str | None = None, skip: Sequence[str] = ("event",),
    labels: Mapping[str, str] | None = None,
) -> Form:
    """The form for a payload type: its schema's questions, with as many of each repeating
    group as were entered (one more for `more`)."""
    schema = msgspec.json.schema(target)
    defs = schema.get("$defs", {})
    own = defs.get(target.__name__, schema)
    times = time_fields(target)
    option = choices or {}
    fields = build(own, skip=skip, choices=option, defs=defs, labels=labels, form_id=form_id,
                   times=times)
    expand(fields, values, defs=defs, choices=option, labels=labels, more=more, times=times)
    return Form(fields=fields, anchor=f"action-{form_id}" if form_id else "main-content")


class Unreadable(Exception):
    """What was entered cannot be read as the field's type (a date that does not exist)."""

    def __init__(self, field: Field, message: str, part: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.part = part


def read(form: Form, values: Values) -> dict[str, Any]:
    """The payload the form's answers make, leaving out what was not answered so that the
    schema's defaults apply; answers that cannot be read are put on their fields."""
    for f in form.all():
        f.value = _raw(f, values)
    body: dict[str, Any] = {}
    for f in form.fields:
        try:
            value = _value(f, values, form)
        except Unreadable as exc:
            form.place(exc.field.api_path, str(exc), exc.part)
            continue
        if value is not None:
            body[f.name.rsplit(".", 1)[-1]] = value
    return body


def _raw(f: Field, values: Values) -> Any:
    if f.kind in ("date", "datetime"):
        return {part: _first(values, f"{f.name}-{part}")
                for part in ("day", "month", "year", "time")}
    if f.kind == "checkboxes":
        return list(values.get(f.name, []))
    return _first(values, f.name)


def _first(values: Values, name: str) -> str:
    got = values.get(name) or [""]
    return got[0].strip() if isinstance(got[0], str) else ""


def _value(f: Field, values: Values, form: Form) -> Any:
    if f.kind == "group":
        inner: dict[str, Any] = {}
        for child in f.children:
            try:
                value = _value(child, values, form)
            except Unreadable as exc:
                form.place(exc.field.api_path, str(exc), exc.part)
                continue
            if value is not None:
                inner[child.path.rsplit(".", 1)[-1]] = value
        return inner or None
    if f.kind == "repeat":
        items = [_value(child, values, form) for child in f.children]
        kept = [item for item in items if item]
        return kept or None
    if f.kind == "checkboxes":
        return [v for v in values.get(f.name, []) if v] or None
    raw = _first(values, f.name) if f.kind not in ("date", "datetime") else None
    if f.kind == "boolean":
        return {"true": True, "false": False}.get(raw or "")
    if f.kind in ("number",) or (f.kind == "choice" and f.integer):
        if not raw:
            return None
        if not re.fullmatch(r"-?\d{1,9}", raw):
            raise Unreadable(f, "enter a whole number, like 3")
        return int(raw)
    if f.kind == "date":
        return _date(f, values)
    if f.kind == "datetime":
        return _datetime(f, values)
    return raw or None


def _parts(f: Field, values: Values) -> tuple[str, str, str] | None:
    day, month, year = (_first(values, f"{f.name}-{p}") for p in ("day", "month", "year"))
    if not (day or month or year):
        return None
    for part, text in (("day", day), ("month", month), ("year", year)):
        if not text:
            raise Unreadable(f, f"must include a {part}", part)
        if not text.isdigit():
            raise Unreadable(f, f"the {part} must be a number", part)
    if len(year) != 4:
        raise Unreadable(f, "the year must have 4 numbers, like 2026", "year")
    return day, month, year


def _date(f: Field, values: Values) -> str | None:
    parts = _parts(f, values)
    if parts is None:
        return None
    day, month, year = parts
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError as exc:
        raise Unreadable(f, "must be a real date", "day") from exc


def _datetime(f: Field, values: Values) -> datetime | None:
    parts = _parts(f, values)
    time = _first(values, f"{f.name}-time")
    if parts is None:
        if time:
            raise Unreadable(f, "enter the date as well as the time", "day")
        return None
    day, month, year = parts
    hhmm = re.fullmatch(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?", time)
    if hhmm is None:
        raise Unreadable(f, "enter the time in 24-hour form, like 14:30", "time")
    try:
        local = datetime(int(year), int(month), int(day), int(hhmm[1]), int(hhmm[2]),
                         int(hhmm[3] or 0), tzinfo=UK)
    except ValueError as exc:
        raise Unreadable(f, "must be a real date and time", "day") from exc
    return local


def fill(form: Form, payload: Mapping[str, Any]) -> None:
    """Show values in the form's fields: defaults, or what a previous answer held."""
    for f in form.all():
        value = _at(payload, f.path)
        if value is None:
            continue
        if f.kind == "datetime" and isinstance(value, datetime):
            local = value.astimezone(UK)
            f.value = {"day": str(local.day), "month": str(local.month), "year": str(local.year),
                       "time": f"{local:%H:%M}"}
        elif f.kind == "date" and isinstance(value, str):
            year, month, day = value.split("-")
            f.value = {"day": day.lstrip("0"), "month": month.lstrip("0"), "year": year,
                       "time": ""}
        elif f.kind == "boolean":
            f.value = "true" if value else "false"
        elif f.kind == "checkboxes":
            f.value = [str(v) for v in value]
        elif f.kind not in ("group", "repeat"):
            f.value = str(value)


def _at(payload: Mapping[str, Any], path: str) -> Any:
    here: Any = payload
    for step in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if step.startswith("["):
            index = int(step[1:-1])
            here = here[index] if isinstance(here, list) and index < len(here) else None
        else:
            here = here.get(step) if isinstance(here, Mapping) else None
        if here is None:
            return None
    return here


AT = re.compile(r"^(?P<message>.*) - at `(?P<path>\$[^`]*)`$", re.S)
MISSING = re.compile(r"Object missing required field `(?P<name>\w+)`")
OWN = re.compile(r"^(?P<name>[\w.]+): (?P<why>.+)$", re.S)


MISSING_ANSWER: Final[dict[str, str]] = {
    "choice": "select an option", "boolean": "select yes or no", "date": "enter the date",
    "datetime": "enter the date and time", "checkboxes": "select at least one",
}


def _unanswered(fields: list[Field], given: Mapping[str, Any] | None, form: Form) -> None:
    """Put "required" on each required question of a group that was answered in part (a
    group not answered at all is the schema's to refuse or allow)."""
    for f in fields:
        value = given.get(f.path.rsplit(".", 1)[-1]) if given is not None else None
        if f.kind == "group":
            if value is not None or f.required:
                _unanswered(f.children, value or {}, form)
        elif f.kind == "repeat":
            items = value if isinstance(value, list) else []
            for child, item in zip(f.children, items, strict=False):
                _unanswered(child.children, item, form)
        elif f.required and value is None and f.error is None:
            form.place(f.api_path, MISSING_ANSWER.get(f.kind, "enter an answer"))


def validation_error(exc: msgspec.ValidationError) -> tuple[str, str]:
    """The field path and message a validation error names, in the API's words."""
    text = str(exc)
    at = AT.match(text)
    message, path = (at["message"], at["path"]) if at else (text, "$")
    if missing := MISSING.fullmatch(message):
        return f"{path}.{missing['name']}", "is required"
    if own := OWN.match(message):
        name = own["name"].rsplit(".", 1)[-1]
        return f"{path}.{name}", own["why"]
    return path, _plain(message)


def _plain(message: str) -> str:
    """msgspec's wording, said for a person filling in a form."""
    if length := re.match(r"Expected `str` of length <= (\d+)", message):
        return f"must be {length[1]} characters or fewer"
    if length := re.match(r"Expected `str` of length >= (\d+)", message):
        return "is required" if length[1] == "1" else f"must be at least {length[1]} characters"
    if length := re.match(r"Expected `array` of length <= (\d+)", message):
        return f"can have at most {length[1]}"
    if bound := re.match(r"Expected `int` >= (\d+)", message):
        return f"must be {bound[1]} or more"
    if bound := re.match(r"Expected `int` <= (\d+)", message):
        return f"must be {bound[1]} or fewer"
    if "matching regex" in message:
        return "contains characters that are not allowed"
    if message.startswith("Invalid enum value"):
        return "choose one of the options"
    return message


def convert(form: Form, body: dict[str, Any], target: type[Any],
            tag: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Any:
    """The payload as its Struct, or None with the errors placed on their fields: every
    required question left unanswered, else the first thing the Struct refuses."""
    _unanswered(form.fields, body, form)
    if form.errors:
        return None
    try:
        return msgspec.convert(tag(body) if tag else body, target)
    except msgspec.ValidationError as exc:
        path, message = validation_error(exc)
        form.place(path, message)
        return None
