"""Report tables: the metrics document kept current, suppression, the change, sampling."""

from __future__ import annotations

import importlib
from pathlib import Path

from disclosure.reports import metrics
from disclosure.reports.tables import build, change, suppress
from disclosure.reviews.service import sample
from disclosure.vocabularies import ETHNICITIES, ethnic_group

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_metrics_is_generated_from_the_definitions() -> None:
    assert (DOCS / "metrics.md").read_text(encoding="utf-8") == metrics.render(), (
        "docs/metrics.md is out of date: run `disclosure metrics`")


def test_every_metric_has_a_name_and_a_one_line_definition() -> None:
    seen = set()
    for spec in metrics.TABLES:
        assert spec.id not in seen
        seen.add(spec.id)
        for metric in spec.metrics:
            assert metric.name and metric.definition.endswith(".")
            assert "\n" not in metric.definition


def test_the_change_is_in_percent_and_blank_from_zero() -> None:
    assert change(12, 10) == 20.0
    assert change(5, 8) == -37.5
    assert change(3, 0) is None
    assert change("<5", 10) is None


def test_suppression_hides_one_to_four_and_what_gives_them_away() -> None:
    spec = metrics.TIMELINESS
    table = build(spec, [("a", "A"), ("b", "B")],
                  {("a", "closed"): 3, ("a", "median_days"): 2.5, ("b", "closed"): 12,
                   ("b", "median_days"): 4.0},
                  {("a", "closed"): 6, ("b", "closed"): 0},
                  current_label="2025-26", previous_label="2024-25")
    shown = suppress(table, spec, 5)
    a, b = (row.cells for row in shown.rows)
    assert (a["closed"], a["closed_previous"], a["closed_change"], a["median_days"]) == (
        "<5", 6, None, None)
    assert (b["closed"], b["closed_previous"], b["median_days"]) == (12, 0, 4.0)
    assert suppress(table, spec, 3).rows[0].cells["closed"] == 3


def test_a_sample_is_stratified_and_the_same_for_the_same_seed() -> None:
    candidates = [(n, "disclosed_to_person_at_risk") for n in range(1, 40)] + [
        (n, "no_information") for n in range(40, 43)]
    first = sample(candidates, seed=11, per_outcome=5)
    assert first == sample(list(reversed(candidates)), seed=11, per_outcome=5)
    assert [o for _, o in first].count("disclosed_to_person_at_risk") == 5
    assert [d for d, o in first if o == "no_information"] == [40, 41, 42]
    assert first != sample(candidates, seed=12, per_outcome=5)


def test_free_text_ethnicity_becomes_a_census_code() -> None:
    migration = importlib.import_module(
        "disclosure.migrations.versions.0013_oversight_reports_and_reviews")
    known = migration.codes_by_words()
    assert known[migration._words("White British")] == "white_british"
    assert known[migration._words("Pakistani")] == "asian_pakistani"
    assert known[migration._words("Asian")] == "asian"
    assert known[migration._words("Prefer not to say")] == "not_stated"
    assert migration._words("Zebedee") not in known
    assert set(known.values()) <= set(ETHNICITIES)
    assert {ethnic_group(code) for code in ETHNICITIES} == {
        "asian", "black", "mixed", "white", "other", "not_stated"}
