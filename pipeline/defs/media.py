"""What the catalog shows of the media archive: counts by status, bytes, and one saved cover.

The cover is embedded in the asset's Markdown as a `data:` URI, read back from the store: the
UI's page cannot open a `file://` path, and an object store's URL would need credentials.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import dagster as dg
import duckdb

from pipeline.defs.resources import MediaResource
from pipeline.reads import reports

# A larger cover is named, not embedded: the metadata is stored with every materialization.
PREVIEW_MAX_BYTES = 256 * 1024


def media_figures(
    conn: duckdb.DuckDBPyConnection, batches: Sequence[str], media: MediaResource
) -> dict[str, dg.RawMetadataValue]:
    counts = reports.media_counts(conn, batches)
    figures: dict[str, dg.RawMetadataValue] = {
        **{f"files_{status}": count for status, count in counts.files.items()},
        "bytes_saved": counts.saved_bytes,
        "stored_files": counts.stored_files,
        "media_store": media.location,
    }
    cover = reports.a_saved_cover(conn, batches)
    if cover is not None:
        figures["a_saved_cover"] = dg.MetadataValue.md(_preview(media, *cover))
    return figures


def _preview(media: MediaResource, title: str, path: str, content_type: str) -> str:
    caption = f"{title} — `{path}`"
    try:
        data = b"".join(media.store().chunks(path))
    except Exception:  # a store out of reach: the preview never fails the step
        return f"{caption} (not readable from the store now)"
    if len(data) > PREVIEW_MAX_BYTES:
        return caption
    encoded = base64.b64encode(data).decode("ascii")
    return f"![cover](data:{content_type};base64,{encoded})\n\n{caption}"
