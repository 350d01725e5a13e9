"""The job's output folder: predictions as parquet files, appended to by every run.

`DIR/predictions.parquet/` holds one file per written block. Parquet writes its footer last, so a
file cut short by a killed job does not open: such files are moved aside (`*.incomplete`) and
their items run again. Items are skipped on resume by id, so every item is written once; should a
killed job's last write task still land a file after the rerun began (Ray stops a dead driver's
tasks within moments, not at once), reading keeps the earliest run's row of each id.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mexa_ray.bulk.rows import OUTPUT_SCHEMA

log = logging.getLogger(__name__)

PREDICTIONS = "predictions.parquet"


def predictions_dir(out: str | Path) -> Path:
    return Path(out) / PREDICTIONS


def _complete_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.glob("*.parquet")):
        try:
            pq.read_metadata(path)
        except (OSError, pa.ArrowInvalid) as exc:
            aside = path.with_suffix(".parquet.incomplete")
            log.warning(
                "%s is incomplete (%s); its items will run again; moved to %s",
                path.name,
                exc,
                aside.name,
            )
            path.replace(aside)
            continue
        files.append(path)
    return files


def read_predictions(out: str | Path) -> pa.Table:
    """Every row written so far, by every run (an empty table before the first)."""
    folder = predictions_dir(out)
    files = _complete_files(folder) if folder.is_dir() else []
    if not files:
        return OUTPUT_SCHEMA.empty_table()
    table = pa.concat_tables([pq.read_table(f, schema=OUTPUT_SCHEMA) for f in files])
    table = table.sort_by([("run_id", "ascending")])
    seen: set[str] = set()
    keep = []
    for i, item_id in enumerate(table.column("id").to_pylist()):
        if item_id not in seen:
            seen.add(item_id)
            keep.append(i)
    if len(keep) < table.num_rows:
        log.warning(
            "%d rows repeat an id already written; the earliest run's row is kept",
            table.num_rows - len(keep),
        )
        table = table.take(keep)
    return table


def completed_ids(out: str | Path) -> set[str]:
    folder = predictions_dir(out)
    files = _complete_files(folder) if folder.is_dir() else []
    return {i for f in files for i in pq.read_table(f, columns=["id"]).column("id").to_pylist()}
