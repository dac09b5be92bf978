"""Each link file is one batch: a dynamic partition whose key names the file.

A file directly in the links folder (where the sensor looks) is keyed by its file name, as it
always was. Any other file is keyed by its absolute path, so two files that share a name never
share a batch (re-reading one would replace the other's rows and orphan its paid jobs), the
same file keeps its key, and the schedule finds the file again from the key alone.
"""

import re
from pathlib import Path
from urllib.parse import unquote

import dagster as dg

batches = dg.DynamicPartitionsDefinition(name="batches")

# A backfill of many batches runs as one run: its Coze step then has one rate limiter and
# one poller, which is cheaper than a run per batch.
one_run_per_backfill = dg.BackfillPolicy.single_run()

# What a path key must not hold: Dagster refuses `...` and control characters in partition keys,
# its UI also `,`, `[`, `]` and spaces, and `|` joins multi-partition keys; `%` is the escape.
_NOT_IN_KEY = re.compile(r"[%,\[\] |\x00-\x1f\x7f]|(?<=\.\.)\.")


def batch_key(links_file: Path, links_dir: Path) -> str:
    """The batch of a link file: its name in the links folder, else its escaped absolute path."""
    links_file = links_file.resolve()
    if links_file.parent == links_dir.resolve():
        return links_file.name
    return _NOT_IN_KEY.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), str(links_file))


def batch_file(key: str, links_dir: Path) -> Path | None:
    """Where the batch's link file is; None when the key names no place a batch can be."""
    if key.startswith("/"):
        return Path(unquote(key))
    path = links_dir / key
    return path if key and path.parent == links_dir else None
