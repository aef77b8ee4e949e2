"""Writers of an export to a file or a stream, batch by batch: CSV as chunks of bytes
and Parquet to a file, so that no export is ever held whole in memory."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from reach.export import Format

# Between the digests of one person in a CSV cell (a hex digest never holds a space).
CSV_LIST_SEPARATOR = " "
MEDIA_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def _flat(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A batch for CSV: each list of digests joined into one cell."""
    columns = [
        pc.binary_join(column, CSV_LIST_SEPARATOR) if pa.types.is_list(column.type) else column
        for column in batch.columns
    ]
    return pa.record_batch(columns, names=batch.schema.names)


def _drain(buffer: io.BytesIO) -> bytes:
    data = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return data


def csv_chunks(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[bytes]:
    """A header line, then one line per member, as one chunk of bytes per batch (the header
    comes alone when there is no member). Values are quoted only where CSV needs it."""
    flat = pa.schema(
        pa.field(f.name, pa.string()) if pa.types.is_list(f.type) else f for f in schema
    )
    # Arrow quotes every header name; the column names need no quotes.
    yield (",".join(flat.names) + "\n").encode()
    buffer = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    with pa_csv.CSVWriter(buffer, flat, write_options=options) as writer:
        for batch in batches:
            writer.write_batch(_flat(batch))
            yield _drain(buffer)


def write_csv(batches: Iterable[pa.RecordBatch], schema: pa.Schema, sink: BinaryIO) -> None:
    for chunk in csv_chunks(batches, schema):
        sink.write(chunk)


def write_parquet(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, sink: str | BinaryIO
) -> None:
    """A Parquet file (zstd), one row group per batch."""
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for batch in batches:
            writer.write_batch(batch)


WRITERS: dict[Format, Callable[[Iterable[pa.RecordBatch], pa.Schema, BinaryIO], None]] = {
    "csv": write_csv,
    "parquet": write_parquet,
}
