"""Every table of the report and the metrics its columns hold, each with a one-line
definition. docs/metrics.md is generated from these (`disclosure metrics`)."""

from __future__ import annotations

from typing import Final

from disclosure.reports.tables import Metric, TableSpec

_APPLICATIONS = Metric(
    "applications", "Applications",
    "Requests received in the period (a right-to-ask request carried on as right to know is"
    " a second, right-to-know, application when it is carried on).",
)
_DISCLOSURES = Metric(
    "disclosures", "Disclosures",
    "Requests with at least one disclosure delivered in the period, urgent disclosures made"
    " outside the forum included; a request with two recipients counts once.",
)
_SCHEMES = (
    *(Metric(scheme, name, f"Closures in the period of {name} requests.")
      for scheme, name in (("dvds", "DVDS"), ("csods", "CSODS"), ("mappa", "MAPPA"))),
    Metric("total", "All schemes", "Closures in the period of every scheme."),
)

DVDS_RETURN = TableSpec(
    "dvds_return", "DVDS national return", "route (right to ask, right to know)",
    (_APPLICATIONS, _DISCLOSURES),
)
CSODS_RETURN = TableSpec(
    "csods_return", "CSODS annual data requirement", "route (right to ask, right to know)",
    (
        _APPLICATIONS,
        Metric("concerning_registered_sex_offenders", "Concerning registered sex offenders",
               "Applications received in the period whose subject is flagged a registered sex"
               " offender."),
        _DISCLOSURES,
    ),
)
OUTCOMES = TableSpec(
    "outcomes", "Outcomes of requests closed",
    "outcome code; then `total` and `disclosure_rate` (closures disclosed to the person at"
    " risk or to another, as a % of all closures)",
    _SCHEMES,
)
TIMELINESS = TableSpec(
    "timeliness", "Timeliness",
    "`scheme.route` for requests closed; `scheme.route.stage` for each stage left;"
    " `scheme.route.extension.category` for extensions granted; `all` for every closure",
    (
        Metric("closed", "Closed (or stage left)",
               "Closures in the period; on a stage row, the times the stage was left."),
        Metric("within_limit", "Within the limit",
               "Closures on or before the overall due date the request closed with,"
               " extensions included; on"
               " a stage row, stages left on or before the due date the policy's target for"
               " that stage set (blank where the policy sets the stage none)."),
        Metric("within_35_days", "Within 35 days",
               "Closures no more than 35 days after receipt (or after the reopening before)."),
        Metric("median_days", "Median days",
               "The median of the days taken, by nearest rank (the lower middle of an even"
               " count).", count=False),
        Metric("p90_days", "90th percentile days",
               "The 90th percentile of the days taken, by nearest rank.", count=False),
        Metric("longest_days", "Longest days", "The most days taken.", count=False),
        Metric("extensions", "Extensions",
               "Extensions of the overall due date granted in the period, by category."),
    ),
)
OPEN_AT_PERIOD_END = TableSpec(
    "open_at_period_end", "Open on the last day of the period",
    "the state each request was in at the end of the period's last day; then `total`",
    (
        Metric("open", "Open", "Requests received and not closed at the end of the period."),
        Metric("overdue", "Overdue",
               "Of those, requests whose overall due date (as it stands now, extensions"
               " included) had passed by then."),
    ),
    snapshot=True,
)
BY_DIVISION = TableSpec(
    "by_division", "By division", "the area's registered divisions, then `unassigned`",
    (
        _APPLICATIONS,
        _DISCLOSURES,
        Metric("median_days", "Median days to close",
               "The median days from receipt to closure of the closures in the period, by"
               " nearest rank.", count=False),
    ),
)
MAPP = TableSpec(
    "mapp", "MAPP meetings and nominals",
    "by level (`level_2`, `level_3`): `meetings` held; `considered`, those that recorded a"
    " disclosure consideration, and `consideration_rate` as a %; `no_disclosure_needed`, those"
    " that found none needed; `agreed`, recipients of the disclosures those meetings agreed;"
    " `delivered` and `delivered_by_date`, of them, delivered (by the date agreed);"
    " `nominals.level_N.category_M` and `.total`: nominals managed in the community, as the"
    " published reports count them (category 1 registered sexual offenders, 2 violent, 3 other"
    " dangerous, 4 terrorism or terrorism-risk)",
    (
        Metric("in_period", "In the period",
               "Meetings held in the period and what they recorded; for nominals, those at the"
               " level in the community at any time in the period."),
        Metric("on_last_day", "On the last day",
               "Nominals at the level in the community at the end of the period's last day (a"
               " snapshot); blank for the meeting rows."),
    ),
)
THIRD_PARTY_AND_REASONS = TableSpec(
    "third_party_and_reasons", "Third-party applications, reasons for non-disclosure,"
    " withdrawals and continuations",
    "`third_party_applications`; `reason.no_information`, `reason.not_necessary_proportionate`;"
    " `withdrawn`; `continued_as_right_to_know`",
    (
        Metric("dvds", "DVDS", "DVDS figures in the period."),
        Metric("csods", "CSODS", "CSODS figures in the period."),
        Metric("mappa", "MAPPA", "MAPPA figures in the period."),
        Metric("total", "All schemes", "Every scheme's figures in the period."),
    ),
)
EQUALITY = TableSpec(
    "equality", "Equality monitoring",
    "`role.dimension.value`: applicant, person at risk (a CSODS child included) and subject,"
    " by sex, age band and high-level ONS 2021 ethnic group (`not_recorded` where none is"
    " recorded)",
    (
        Metric("closed", "Closed", "Closures in the period with a party of this description."),
        Metric("disclosed", "Disclosed",
               "Of them, closed disclosed to the person at risk or to another."),
        Metric("not_disclosed", "Not disclosed",
               "Of them, closed with no disclosure (no information, or the test not met)."),
        Metric("other", "Other outcomes",
               "Of them, closed any other way (not progressed, withdrawn, no engagement...)."),
    ),
)
DECISION_REVIEWS = TableSpec(
    "decision_reviews", "Decision reviews",
    "the outcome of each reviewed decision; then `total`",
    (
        Metric("reviewed", "Decisions reviewed",
               "Sampled decisions of the period's reviews with at least one finding."),
        Metric("defensible", "Defensible", "Findings that the decision was defensible."),
        Metric("concerns", "Concerns", "Findings that raised concerns."),
        Metric("learning_point", "Learning point", "Findings that recorded a learning point."),
    ),
)

TABLES: Final[tuple[TableSpec, ...]] = (
    DVDS_RETURN, CSODS_RETURN, OUTCOMES, TIMELINESS, OPEN_AT_PERIOD_END, BY_DIVISION, MAPP,
    THIRD_PARTY_AND_REASONS, EQUALITY, DECISION_REVIEWS,
)
SPECS: Final[dict[str, TableSpec]] = {spec.id: spec for spec in TABLES}

INTRO = """\
# Report metrics

Generated from `disclosure/reports/metrics.py` by `disclosure metrics`; do not edit by hand
(a test fails when this file is out of date).

Every table is for one area and a period: a financial year (`2025-26`, 1 April to 31 March),
a quarter (`2025-26-Q3`) or dates (`2025-04-01..2025-06-30`), whole days in Europe/London. Every
figure is worked out from the trail (events, closures and the stage records written with
them), not from where requests stand now: a request received in one year and closed in the
next counts as an application in the first and a closure in the second, and a reopened
request keeps its first closure in the period where it happened. With `as_at`, only what had
been recorded by then counts, so a published figure can be reproduced and compared.

Each metric column comes three times: the period (`id`), the previous period (`id_previous`)
and the change in % (`id_change`, blank when the previous figure is 0). A published report
(`--publish`, `publish=true`, and always for a lay adviser) shows every count from 1 to 4 as
`<5` (the threshold is `DISCLOSURE_SUPPRESS_BELOW`, 5 by default), blanks the change beside
it, and blanks the days and rates of that row; the `equality` table is always suppressed so.
"""


def render() -> str:
    """The whole text of docs/metrics.md."""
    parts = [INTRO]
    for spec in TABLES:
        kind = " A snapshot on the period's last day." if spec.snapshot else ""
        parts.append(f"## `{spec.id}`: {spec.title}\n\nRows: {spec.rows}.{kind}\n")
        parts.append("| column | metric | definition |\n|---|---|---|")
        parts += [f"| `{m.id}` | {m.name} | {m.definition} |" for m in spec.metrics]
        parts.append("")
    return "\n".join(parts)
