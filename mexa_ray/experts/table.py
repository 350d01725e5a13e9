"""Table analysis (F2): what the question asks of the table, computed, then the table's profile.

The expert reads the question (and its options) against the table's columns and cells
(`table_question`), computes what it asks with pandas (`table_analysis`: a row looked up by a key,
the most common value, a statistic per group, rows counted under a condition, the row with the
highest value) and writes those lines first; the profile follows (schema, row count, one line of
statistics per column, the columns ranked by mean, a few rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from mexa_ray.experts.base import Expert
from mexa_ray.experts.settings import TableSettings
from mexa_ray.experts.table_analysis import analyse, row_line
from mexa_ray.experts.table_question import TableQuestion, fmt, parse
from mexa_ray.media.table import read_table
from mexa_ray.types import Media, Query, Skill


class TableExpert(Expert):
    """Answers what a question computes over a CSV/Parquet table, then profiles the table; each
    report line stands alone as evidence."""

    settings: TableSettings
    reads_question = True

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        table = read_table(item.local_path(), item.resolved_format())
        df = _frame(table)
        df.columns = [str(c) for c in df.columns]
        s = self.settings
        q = parse(df, query.question, query.options)
        lines = analyse(q, s.max_rows, s.max_groups, s.max_items)
        computed = bool(lines)
        if not computed and query.question.strip():
            lines.append(
                "No computation planned: the question names no column, cell, condition or "
                "statistic of this table that a filter, a group or a ranking could use; the "
                "table's profile follows."
            )
        lines.append(f"Table with {table.num_rows} rows and {table.num_columns} columns.")
        schema = ", ".join(f"{f.name} ({f.type})" for f in table.schema)
        lines.append(f"Columns: {schema}.")
        lines += self._profile(q)
        lines += self._rankings(q)
        if not computed:  # a few rows show what the table holds
            for index in df.index[: min(3, s.max_rows)]:
                lines.append(row_line(q, index, "A first row", [], s.max_items))
        return "\n".join(lines[: s.max_lines])

    def _profile(self, q: TableQuestion) -> list[str]:
        """One line per column: the columns the question names first, then text columns."""
        mentioned = [m.column for m in q.mentions]
        ordered = list(dict.fromkeys(mentioned + q.texts + q.dates + list(q.df.columns)))
        limit = self.settings.max_columns
        lines = [_column_line(q, name) for name in ordered[:limit]]
        if len(ordered) > limit:
            lines.append(f"{len(ordered) - limit} more columns are not profiled here.")
        return lines

    def _rankings(self, q: TableQuestion) -> list[str]:
        """Which numeric column has the highest and lowest mean, among all and among those the
        question names: a comparison the per-column lines leave to the reader."""
        means = {c: q.df[c].mean() for c in q.numeric if q.df[c].notna().any()}
        mentioned = [m.column for m in q.mentions if m.column in means]
        options = {o.strip().lower().replace(" ", "_") for o in q.options}
        offered = [c for c in means if c.lower().replace(" ", "_") in options]
        lines = []
        for scope, names in (
            ("all numeric columns", list(means)),
            ("the columns asked about", mentioned),
            ("the columns in the options", offered),
        ):
            if len(names) < 2 or (scope.startswith("the") and len(names) == len(means)):
                continue
            ranked = sorted(names, key=lambda n: -means[n])
            order = ", ".join(f"'{n}' {fmt(means[n])}" for n in ranked)
            lines.append(
                f"Means of {scope}: {order}; the highest mean is column '{ranked[0]}'; "
                f"the lowest mean is column '{ranked[-1]}'."
            )
        return lines


def _frame(table: pa.Table) -> pd.DataFrame:
    """The table as pandas: decimals as floats, nested cells (lists, structs) as their text."""
    columns = []
    for field, col in zip(table.schema, table.columns):
        if pa.types.is_decimal(field.type):
            col = col.cast(pa.float64())
        elif pa.types.is_nested(field.type):
            col = pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())
        columns.append(col)
    return pa.table(columns, names=table.column_names).to_pandas(date_as_object=False)


def _column_line(q: TableQuestion, name: str) -> str:
    col = q.df[name]
    nulls = int(col.isna().sum())
    missing = f"; {nulls} missing" if nulls else ""
    values = col.dropna()
    if values.empty:
        kind = "number" if name in q.numeric else "date" if name in q.stamps else "text"
        return f"Column '{name}' ({kind}): no values{missing}."
    if name in q.numeric:
        with np.errstate(invalid="ignore"):  # infinite values have no spread
            std = float(values.std()) if len(values) > 1 else 0.0
        outliers = int(((values - values.mean()).abs() > 3 * std).sum()) if std > 0 else 0
        extra = f"; {outliers} values lie beyond 3 standard deviations" if outliers else ""
        return (
            f"Column '{name}' (number): min {fmt(values.min())}, max {fmt(values.max())}, "
            f"mean {fmt(values.mean())}, median {fmt(values.median())}, std {fmt(std)}, "
            f"sum {fmt(values.sum())}{missing}{extra}."
        )
    stamps = q.stamps.get(name)
    if stamps is not None and stamps.notna().any():
        first, last = col[stamps.idxmin()], col[stamps.idxmax()]  # as the table writes them
        return (
            f"Column '{name}' (date): from {fmt(first)} to {fmt(last)}; "
            f"{q.nunique[name]} distinct values{missing}."
        )
    counts = values.value_counts()
    total = max(1, len(values))
    shown = "; ".join(
        f"'{fmt(v)}' in {c} rows ({100 * c / total:.1f}%)" for v, c in counts.iloc[:5].items()
    )
    more = f"; {len(counts) - 5} more values" if len(counts) > 5 else ""
    most = least = ""
    if len(counts):
        top = counts[counts == counts.iloc[0]].index
        tie = f" (tied with {len(top) - 1} more)" if len(top) > 1 else ""
        most = f"; the most common value is '{fmt(top[0])}'{tie}"
    if len(counts) > 1:
        least = f"; the least common value is '{fmt(counts.index[-1])}'"
    return (
        f"Column '{name}' (text): {len(counts)} distinct values; "
        f"{shown}{more}{most}{least}{missing}."
    )
