"""`python -m pipeline COMMAND`: the scripted entry points."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path
from typing import NoReturn

from pipeline.envvars import ConfigError
from pipeline.reads.export import Format
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.storage.db import WarehouseUnreadableError, ensure_openable, warehouse_exists
from pipeline.storage.location import Warehouse
from pipeline.terminal import printable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the whole pipeline for one link file")
    run.add_argument(
        "--links",
        required=True,
        help="link file; its batch is its name when in $PIPELINE_LINKS_DIR, else its path",
    )
    run.add_argument("--db", help="DuckDB file (default: $PIPELINE_DB or data/warehouse.duckdb)")
    run.add_argument(
        "--resubmit-uncertain",
        action="store_true",
        help="submit again videos whose last submit may have started a paid job nobody saw",
    )
    run.add_argument(
        "--refresh-expired",
        action="store_true",
        help="run the metadata workflow again (paid) for videos whose media expired unsaved",
    )
    run.add_argument(
        "--max-calls",
        type=int,
        help="API calls this run may send (default: $PIPELINE_MAX_CALLS, no cap)",
    )

    plan = commands.add_parser(
        "plan", help="count the API calls a link file would cost, offline (no call made)"
    )
    plan.add_argument("--links", required=True, help="link file to count")
    plan.add_argument("--db", help="DuckDB file, read only (default: as for run)")
    plan.add_argument(
        "--resubmit-uncertain",
        action="store_true",
        help="count submits whose answer was lost (status uncertain) as resubmitted",
    )
    plan.add_argument(
        "--refresh-expired",
        action="store_true",
        help="count metadata calls for new links to media that expired unsaved",
    )
    plan.add_argument("--format", choices=("text", "json"), default="text")

    ui = commands.add_parser(
        "ui", help="dagster dev on the project's instance (with the emulator when no token)"
    )
    ui.add_argument("--port", default="3000")

    commands.add_parser(
        "search", help="full-text search over titles and transcripts", add_help=False
    )

    sql = commands.add_parser(
        "sql", help="one SQL query on the read-only snapshot (never waits for a run)"
    )
    sql.add_argument("query", help='e.g. "SELECT count(*) FROM videos"')
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("--db", help="warehouse whose snapshot to read (default: as for run)")

    rebuild = commands.add_parser(
        "rebuild", help="recompute all tables from raw_responses, offline"
    )
    rebuild.add_argument("--db")

    check = commands.add_parser(
        "check", help="read the whole warehouse: damage, schema, row counts, search index"
    )
    check.add_argument("--db", help="DuckDB file (default: $PIPELINE_DB or data/warehouse.duckdb)")

    export = commands.add_parser(
        "export", help="write the warehouse tables (or one batch's rows) as Parquet or CSV files"
    )
    export.add_argument("--to", required=True, help="folder for the files (created if missing)")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    export.add_argument("--batch", help="only this batch's rows (its name, as in `links.batch`)")
    export.add_argument("--db", help="DuckDB file, read only (default: as for run)")

    doc = commands.add_parser("schema-doc", help="write docs/schema.md from the schema")
    doc.add_argument("--output", default=str(PROJECT_ROOT / "docs" / "schema.md"))

    args, rest = parser.parse_known_args(argv)
    if getattr(args, "max_calls", None) is not None and args.max_calls < 1:
        parser.error("--max-calls must be a whole number >= 1")
    if args.command != "search" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if getattr(args, "links", None) and (problem := _unusable_path(args.links)):
        print(f"cannot read link file {problem}", file=sys.stderr)
        return 2
    try:
        if args.command in ("search", "schema-doc"):  # search reads its own --db and settings
            return _dispatch(args, rest, None)
        settings = Settings.from_env(db=getattr(args, "db", None))
        if args.command == "run":  # not under Dagster's stack trace from the first step
            ensure_openable(settings.warehouse)
        return _dispatch(args, rest, settings)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except WarehouseUnreadableError as error:
        print(error, file=sys.stderr)
        return 1


def _unusable_path(path: str) -> str | None:
    """The path and why the system refuses it (a name too long, a loop), before any work
    starts; a missing file is left to the command, which names it."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"{printable(path, 1000)}: {error.strerror}"
    return None


def _dispatch(args: argparse.Namespace, rest: list[str], settings: Settings | None) -> int:
    if args.command == "search":
        from pipeline.text.cli import search_main

        return search_main(rest)
    if args.command == "schema-doc":
        from pipeline.schema import schema_markdown

        Path(args.output).write_text(schema_markdown() + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
        return 0
    assert settings is not None
    if args.command == "run":
        from pipeline.runs import main_run

        return main_run(
            args.links,
            settings,
            resubmit_uncertain=args.resubmit_uncertain,
            refresh_expired=args.refresh_expired,
            max_calls=args.max_calls,
        )
    if args.command == "plan":
        from pipeline.plan import main_plan

        return main_plan(
            args.links,
            settings,
            resubmit_uncertain=args.resubmit_uncertain,
            refresh_expired=args.refresh_expired,
            output=args.format,
        )
    if args.command == "ui":
        from pipeline.runs import main_ui

        return main_ui(args.port, settings)
    if args.command == "rebuild":
        return _rebuild(settings)
    if args.command == "sql":
        from pipeline.reads.sql import main_sql

        return main_sql(args.query, args.format, settings.warehouse)
    if args.command == "check":
        return _check(settings)
    return _export(Path(args.to), args.format, args.batch, settings.warehouse)


def _missing(warehouse: Warehouse) -> bool:
    if warehouse_exists(warehouse):
        return False
    print(f"no warehouse at {warehouse.describe()}: check --db or PIPELINE_DB", file=sys.stderr)
    return True


def _rebuild(settings: Settings) -> int:
    """Links re-keyed by the current parser, then state and normalized tables in one transaction,
    then the text tables and the index from scratch through the text analysis's own code."""
    from pipeline.derive.rekey import rekey
    from pipeline.derive.tables import rebuild_all
    from pipeline.storage.db import connect
    from pipeline.storage.snapshot import after_write
    from pipeline.text.analysis import update_text_tables
    from pipeline.text.index import refresh_lake_index

    warehouse = settings.warehouse
    if _missing(warehouse):
        return 1
    with connect(warehouse, wait_seconds=settings.lock_wait_seconds) as conn:
        rekeyed = rekey(conn)
        counts = rebuild_all(conn, settings.max_attempts)
    if rekeyed.lines:
        print(
            f"re-keyed {rekeyed.lines} link lines with the current parser: answers of "
            f"{rekeyed.moved} old keys moved, {rekeyed.split} old keys split"
        )
    text = update_text_tables(
        lambda: connect(warehouse, wait_seconds=settings.lock_wait_seconds),
        dictionary_dir=settings.dictionary_dir,
    )
    refresh_lake_index(warehouse, changed=True)
    print(
        f"rebuilt from raw_responses: {counts.videos} videos, {counts.transcripts} transcripts, "
        f"{text.processed} segmented and indexed"
    )
    done = after_write(warehouse, settings.lock_wait_seconds, logging.getLogger("pipeline"))
    if "snapshot" in done:
        print(f"published the read-only snapshot {done['snapshot']}")
    return 0


def _export(directory: Path, fmt: Format, batch: str | None, warehouse: Warehouse) -> int:
    from pipeline.reads.export import export_warehouse
    from pipeline.storage.snapshot import read_snapshot

    if _missing(warehouse):
        return 1
    with read_snapshot(warehouse) as reader:
        if not reader.published:
            print(
                f"{warehouse.describe()} is being written and nothing has been published yet: "
                "the files hold no rows",
                file=sys.stderr,
            )
        try:
            exported = export_warehouse(reader.conn, directory, fmt=fmt, batch=batch)
        except LookupError as error:
            print(error, file=sys.stderr)
            return 1
    for item in exported:
        print(f"{item.rows:>10,}  {item.path}")
    return 0


def _check(settings: Settings) -> int:
    from pipeline.media.store import open_store
    from pipeline.reads.check import check_warehouse

    media = settings.media
    store = open_store(media.location, credentials=settings.object_store, staging=media.staging)
    report = check_warehouse(settings.warehouse, settings.lock_wait_seconds, store)
    for line in [*report.facts, *report.problems]:
        print(line)
    where = settings.warehouse.describe()
    if report.problems:
        count = len(report.problems)
        print(f"{where}: {count} problem{'s' if count > 1 else ''} found")
        return 1
    print(f"{where}: no problem found")
    return 0


def exit_at_once(status: int) -> NoReturn:
    """Exit without the interpreter's teardown of Dagster, DuckDB and Polars (about 0.4 s that
    every command, a cron caller's and a test's alike, would wait for). Safe once `main` has
    returned: every file it opened is closed and every answer committed. Output is flushed
    first, and a thread still working is waited for, as a normal exit would."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    main_thread = threading.main_thread()
    if any(not t.daemon for t in threading.enumerate() if t is not main_thread):
        sys.exit(status)
    os._exit(status)


if __name__ == "__main__":
    exit_at_once(main())
