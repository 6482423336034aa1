"""A report as aligned text for a terminal (``standby report``): its period and facilities, each
card beside the previous period's, each table in columns, the notes."""

from __future__ import annotations

from signaling.reports.shape import Card, Report, Table, Unit, Value


def cell(value: Value, unit: Unit) -> str:
    """A value as a person reads it: seconds to a tenth, shares as percentages."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if unit == "seconds":
        return f"{value:.1f} s"
    if unit == "share":
        return f"{100 * value:.1f} %"
    if unit == "per_1000":
        return f"{value:.2f}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return str(int(value))


def _change(card: Card) -> str:
    change = card.change
    if change is None:
        return ""
    # round(...) + 0.0: a change too small to show is +0.0, never -0.0
    if card.unit == "share":
        return f"{round(100 * change, 1) + 0.0:+.1f} pt"
    if card.unit == "seconds":
        return f"{round(change, 1) + 0.0:+.1f} s"
    return f"{change:+g}"


def _columns(rows: list[list[str]], right: list[bool]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            text.rjust(w) if right[i] else text.ljust(w)
            for i, (text, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _table(table: Table) -> list[str]:
    right = [c.unit != "text" for c in table.columns]
    rows = [[c.label for c in table.columns]]
    rows += [
        [cell(v, c.unit) for v, c in zip(row, table.columns, strict=True)] for row in table.rows
    ]
    lines = _columns(rows, right)
    if not table.rows:
        lines.append("(none)")
    return [table.title, *lines]


def render(report: Report) -> str:
    """The whole report, cards first."""
    start, end = report.start, report.end
    lines = [
        report.title,
        f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
        "Facilities: " + (", ".join(report.facilities) or "none"),
        "",
    ]
    if report.cards:
        rows = [["", "Now", "Before", "Change"]]
        rows += [
            [c.label, cell(c.value, c.unit), cell(c.previous, c.unit), _change(c)]
            for c in report.cards
        ]
        lines += [*_columns(rows, [False, True, True, True]), ""]
    for table in report.tables:
        lines += [*_table(table), ""]
    lines += [f"* {note}" for note in report.notes]
    return "\n".join(lines).rstrip() + "\n"
