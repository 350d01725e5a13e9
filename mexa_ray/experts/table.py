"""Table profiling (F2): schema, statistics, notable values and the rows the question is about."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from mexa_ray.experts.base import Expert
from mexa_ray.experts.settings import TableSettings
from mexa_ray.media.table import read_table
from mexa_ray.text_utils import content_words, fmt_num, terms
from mexa_ray.types import Media, Query, Skill


def _mentioned(name: str, question_words: set[str]) -> bool:
    col_words = content_words(name.replace("_", " "))
    return bool(col_words) and col_words <= question_words


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


class TableExpert(Expert):
    """Profiles a CSV/Parquet table with pyarrow; each report line stands alone as evidence."""

    Settings = TableSettings
    settings: TableSettings
    reads_question = True

    def describe(self, item: Media, query: Query, skill: Skill) -> str:
        table = read_table(item.local_path(), item.resolved_format())
        max_columns = self.settings.max_columns
        max_rows = self.settings.max_rows
        qwords = content_words(query.question + " " + " ".join(query.options))
        lines = [f"Table with {table.num_rows} rows and {table.num_columns} columns."]
        schema = ", ".join(f"{f.name} ({f.type})" for f in table.schema)
        lines.append(f"Columns: {schema}.")

        names = table.column_names
        mentioned = [n for n in names if _mentioned(n, qwords)]
        categorical = [n for n in names if not _is_numeric(table.schema.field(n).type)]
        ordered = list(dict.fromkeys(mentioned + categorical + names))
        for name in ordered[:max_columns]:
            lines.append(self._column_line(name, table[name]))
        if len(ordered) > max_columns:
            lines.append(f"{len(ordered) - max_columns} more columns are not profiled here.")
        lines.extend(self._rankings(table, mentioned))
        lines.extend(self._relevant_rows(table, mentioned, query, max_rows))
        return "\n".join(lines)

    def _column_line(self, name: str, col: pa.ChunkedArray) -> str:
        nulls = col.null_count
        missing = f"; {nulls} missing" if nulls else ""
        if _is_numeric(col.type) and len(col) - nulls > 0:
            mm = pc.min_max(col)
            mean = pc.mean(col).as_py()
            std = pc.stddev(col).as_py() or 0.0
            median = pc.approximate_median(col).as_py()
            outliers = 0
            if std > 0:
                z = pc.abs(pc.divide(pc.subtract(pc.cast(col, pa.float64()), mean), std))
                outliers = pc.sum(pc.greater(z, 3.0)).as_py() or 0
            extra = f"; {outliers} values lie beyond 3 standard deviations" if outliers else ""
            return (
                f"Column '{name}' (number): min {fmt_num(mm['min'].as_py())}, "
                f"max {fmt_num(mm['max'].as_py())}, mean {fmt_num(mean)}, "
                f"median {fmt_num(median)}, std {fmt_num(std)}, "
                f"sum {fmt_num(pc.sum(col).as_py())}{missing}{extra}."
            )
        counts = pc.value_counts(col.drop_null()).to_pylist()
        counts.sort(key=lambda c: -c["counts"])
        total = max(1, len(col) - nulls)
        shown = "; ".join(
            f"'{c['values']}' in {c['counts']} rows ({100 * c['counts'] / total:.1f}%)"
            for c in counts[:5]
        )
        more = f"; {len(counts) - 5} more values" if len(counts) > 5 else ""
        most = f"; the most common value is '{counts[0]['values']}'" if counts else ""
        least = f"; the least common value is '{counts[-1]['values']}'" if len(counts) > 1 else ""
        return (
            f"Column '{name}' (text): {len(counts)} distinct values; "
            f"{shown}{more}{most}{least}{missing}."
        )

    def _rankings(self, table: pa.Table, mentioned: list[str]) -> list[str]:
        """Which numeric column has the highest and lowest mean, among all and among those the
        question names: a comparison the per-column lines leave to the reader."""
        means = {
            n: pc.mean(table[n]).as_py()
            for n in table.column_names
            if _is_numeric(table.schema.field(n).type) and table[n].null_count < len(table[n])
        }
        lines = []
        for scope, names in (
            ("Of all numeric columns", list(means)),
            ("Of the columns asked about", [n for n in mentioned if n in means]),
        ):
            if len(names) < 2 or (scope.startswith("Of the") and len(names) == len(means)):
                continue
            ranked = sorted(names, key=lambda n: -means[n])
            order = ", ".join(f"'{n}' {fmt_num(means[n])}" for n in ranked)
            lines.append(
                f"{scope}, by mean from highest to lowest: {order}; the highest mean is "
                f"column '{ranked[0]}'; the lowest mean is column '{ranked[-1]}'."
            )
        return lines

    def _relevant_rows(
        self, table: pa.Table, mentioned: list[str], query: Query, max_rows: int
    ) -> list[str]:
        asked = set(terms(query.question))  # "largest", "most", "top" ... are all "max"
        high, low = "max" in asked, "min" in asked
        picks: list[tuple[int, str]] = []
        for name in mentioned:
            col = table[name]
            if not _is_numeric(col.type) or len(col) == col.null_count:
                continue
            if high or not low:
                picks.append((pc.index(col, pc.max(col)).as_py(), f"highest {name}"))
            if low or not high:
                picks.append((pc.index(col, pc.min(col)).as_py(), f"lowest {name}"))
        text_cols = [
            n for n in table.column_names if pa.types.is_string(table.schema.field(n).type)
        ]
        question_terms = content_words(query.question)
        if text_cols and question_terms and len(picks) < max_rows:
            for i, row in enumerate(table.select(text_cols).to_pylist()):
                cells = content_words(" ".join(str(v) for v in row.values() if v is not None))
                if cells & question_terms:
                    picks.append((i, "mentions " + ", ".join(sorted(cells & question_terms))))
                if len(picks) >= max_rows:
                    break
        if not picks:
            picks = [(i, "first rows") for i in range(min(3, table.num_rows))]
        lines, seen = [], set()
        for index, why in picks[:max_rows]:
            if index in seen or index < 0:
                continue
            seen.add(index)
            row = table.slice(index, 1).to_pylist()[0]
            shown = ", ".join(
                f"{k}={fmt_num(v) if isinstance(v, float) else v}"
                for k, v in list(row.items())[:12]
            )
            lines.append(f"Row {index} ({why}): {shown}.")
        return lines
