"""The one shape every report has, so the page, the API, CSV, the terminal and the printed review
read any report the same way: cards (a figure with the previous period's beside it) and tables
(named columns, rows of plain values), plus notes that say what a figure means."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Value = str | int | float | None
Unit = Literal["count", "seconds", "share", "per_1000", "text"]


@dataclass(frozen=True)
class Card:
    """One headline figure. ``share`` is a fraction 0..1; ``change`` is ``value - previous``
    (None when either is None); ``better`` says which way is good ("lower", "higher", None)."""

    key: str
    label: str
    value: float | int | None
    previous: float | int | None
    unit: Unit
    better: Literal["lower", "higher"] | None = None

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return float(self.value) - float(self.previous)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: Unit = "text"


@dataclass(frozen=True)
class Table:
    """``rows`` hold one value per column, in the columns' order."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Value, ...], ...]

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.key}: a row of {len(row)} values for {len(self.columns)} columns"
                )


@dataclass(frozen=True)
class Report:
    """What one report says for one scope. ``start``/``end`` are the period read (UTC);
    ``facilities`` names the facilities it covers."""

    key: str
    title: str
    start: datetime
    end: datetime
    facilities: tuple[str, ...]
    cards: tuple[Card, ...] = ()
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def table(self, key: str) -> Table:
        for t in self.tables:
            if t.key == key:
                return t
        raise KeyError(f"report {self.key} has no table {key!r}")
