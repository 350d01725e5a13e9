"""Tables (CSV, TSV, Parquet) read with pyarrow."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("csv", "tsv", "parquet")


def read_table(path: str | Path, fmt: str) -> pa.Table:
    if fmt == "parquet":
        return pq.read_table(path)
    delimiter = "\t" if fmt == "tsv" else ","
    # "NA", "null", "" are missing values in text columns too, as in numeric ones
    return pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    )


def probe(path: str | Path, fmt: str) -> dict:
    if fmt == "parquet":
        meta = pq.read_metadata(path)
        return {"rows": meta.num_rows, "columns": meta.num_columns}
    table = read_table(path, fmt)
    if table.num_columns == 0:
        raise ValueError("the table has no columns")
    return {"rows": table.num_rows, "columns": table.num_columns}
