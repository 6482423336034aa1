"""One table of a report as CSV: a header row of column keys, then the rows; shares as fractions,
seconds as numbers, an empty cell for none. What the API's ``.csv`` and ``standby report --csv``
give (the printed review has its own renderer)."""

from __future__ import annotations

import csv
import io

from signaling.reports.shape import Table


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.key for c in table.columns])
    writer.writerows(["" if v is None else v for v in row] for row in table.rows)
    return out.getvalue()
