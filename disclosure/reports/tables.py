"""The shape every report table takes, the metrics its columns hold, and small-cell suppression.

A table is JSON with a stable `id`, a `title`, `columns` (`id`, `label`) and `rows` (`id`,
`label`, `cells` keyed by column id). Each metric column comes three times: the period's
figure, the previous period's (`<id>_previous`) and the change in % (`<id>_change`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

# A count, a number of days or a rate, "<5" where suppressed, or None where it does not apply
# (the median of nothing, the change from zero).
Cell = int | float | str | None
SUPPRESSED_THRESHOLD = 5


@dataclass(frozen=True)
class Metric:
    """One figure a column holds: its name and a one-line definition (docs/metrics.md)."""

    id: str
    name: str
    definition: str
    # Counts of people or requests, which publishing suppresses when small; not days or rates.
    count: bool = True


@dataclass(frozen=True)
class TableSpec:
    """A table as the code defines it: what its rows are and which metrics its columns hold."""

    id: str
    title: str
    rows: str
    metrics: tuple[Metric, ...]
    # A snapshot on the period's last day, kept apart from the period's totals.
    snapshot: bool = False


class Column(msgspec.Struct, kw_only=True):
    id: str
    label: str


class Row(msgspec.Struct, kw_only=True):
    id: str
    label: str
    cells: dict[str, Cell]


class Table(msgspec.Struct, kw_only=True):
    id: str
    title: str
    columns: list[Column]
    rows: list[Row]


def change(current: Cell, previous: Cell) -> Cell:
    """The change from the previous period in %, to one decimal; None from zero or nothing."""
    if not isinstance(current, int | float) or not isinstance(previous, int | float):
        return None
    if previous == 0:
        return None
    return round((current - previous) * 100.0 / previous, 1)


def build(
    spec: TableSpec,
    rows: Iterable[tuple[str, str]],
    current: Mapping[tuple[str, str], Cell],
    previous: Mapping[tuple[str, str], Cell],
    *,
    current_label: str,
    previous_label: str,
) -> Table:
    """A table from figures keyed by (row id, metric id); a count missing is zero."""
    columns: list[Column] = []
    for metric in spec.metrics:
        columns += [
            Column(id=metric.id, label=f"{metric.name} {current_label}"),
            Column(id=f"{metric.id}_previous", label=f"{metric.name} {previous_label}"),
            Column(id=f"{metric.id}_change", label=f"{metric.name}: change %"),
        ]
    built = []
    for row_id, label in rows:
        cells: dict[str, Cell] = {}
        for metric in spec.metrics:
            now = current.get((row_id, metric.id), 0 if metric.count else None)
            before = previous.get((row_id, metric.id), 0 if metric.count else None)
            cells[metric.id] = now
            cells[f"{metric.id}_previous"] = before
            cells[f"{metric.id}_change"] = change(now, before)
        built.append(Row(id=row_id, label=label, cells=cells))
    return Table(id=spec.id, title=spec.title, columns=columns, rows=built)


def suppress(table: Table, spec: TableSpec, threshold: int) -> Table:
    """Counts from 1 to threshold-1 shown as "<threshold", and the change beside them left out
    (it would give the small number away); in a period where a row has such a count, its days
    and rates are left out too, since they are worked out from those few cases."""
    counts = [m.id for m in spec.metrics if m.count]
    figures = [m.id for m in spec.metrics if not m.count]
    shown = f"<{threshold}"
    rows = []
    for row in table.rows:
        cells = dict(row.cells)
        for suffix in ("", "_previous"):
            small = False
            for metric in counts:
                value = cells.get(metric + suffix)
                if isinstance(value, int) and 0 < value < threshold:
                    cells[metric + suffix] = shown
                    cells[f"{metric}_change"] = None
                    small = True
            if small:
                for metric in figures:
                    cells[metric + suffix] = None
                    cells[f"{metric}_change"] = None
        rows.append(Row(id=row.id, label=row.label, cells=cells))
    return Table(id=table.id, title=table.title, columns=table.columns, rows=rows)
