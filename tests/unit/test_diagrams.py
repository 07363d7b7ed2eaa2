"""The lifecycle document in docs/ is the one the machines draw today."""

from __future__ import annotations

from pathlib import Path

from statemachines import diagrams

DOCUMENT = Path(__file__).parents[2] / "docs" / "lifecycle.md"


def test_lifecycle_document_is_up_to_date() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == diagrams.render(), (
        "docs/lifecycle.md is out of date with the machines; regenerate it with"
        " `disclosure diagrams`"
    )


def test_write_reports_a_change_only_when_there_is_one(tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.md"
    assert not diagrams.check(path)
    assert diagrams.write(path)
    assert diagrams.check(path)
    assert not diagrams.write(path)
    path.write_text("edited by hand\n", encoding="utf-8")
    assert not diagrams.check(path)
    assert diagrams.write(path)


def test_document_draws_each_route_and_where_its_events_are_allowed() -> None:
    text = diagrams.render()
    # Two routes, the alert, the MAPP meeting and the decision review.
    assert text.count("```mermaid\nstateDiagram-v2") == 5
    know, guards = text.split("## Right to know", 1)[1].split("## Guards", 1)
    assert "awaiting_meeting" not in know and "`withdraw`" not in know
    assert "| `reopen` | `closed` |" in know
    assert "awaiting_meeting --> closed : Record meeting [!identity_verified]" in text
    # Every guard is listed with the events it is checked on and what it refuses.
    assert "| `four_eyes` | `record_decision` | The sender prepared nothing" in guards
    assert "| `nothing_disclosed` | `withdraw` |" in guards


def test_document_draws_the_review_lifecycle() -> None:
    review = diagrams.render().split("## Decision review", 1)[1]
    assert "drawn --> in_review : Record finding" in review
    assert "in_review --> completed : Complete [every_decision_has_a_finding]" in review
    assert "| `release_record` | `drawn`, `in_review` |" in review


def test_document_draws_the_alert_lifecycle() -> None:
    alert = diagrams.render().split("## Repeat-subject alert", 1)[1]
    assert "open --> reviewed : Start right to know" in alert
    assert "open --> reviewed : Record no action" in alert
    assert "| `record_no_action` | `open` |" in alert


def test_document_draws_the_meeting_lifecycle_and_its_guards() -> None:
    meeting = diagrams.render().split("## MAPP meeting", 1)[1]
    assert "draft --> finalised : Finalise" in meeting
    assert "finalised --> finalised : Amend" in meeting
    assert "| `amend` | `finalised` |" in meeting
    assert "| `consideration_recorded` | `finalise` | Every Level 2 and 3 meeting" in meeting
