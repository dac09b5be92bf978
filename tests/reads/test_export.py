"""`python -m pipeline export`: every table as a file, or one batch's rows, read back."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipeline.cli import main
from pipeline.schema import TABLES, VIEWS
from pipeline.storage.db import connect


def _two_batches(db: Path) -> None:
    with connect(db) as conn:
        for n, batch in ((1, "monday.txt"), (2, "monday.txt"), (3, "it's tuesday.txt")):
            key = f"douyin:{n}"
            conn.execute(
                "INSERT INTO links VALUES (?, ?, 'x', 'u', 'douyin', ?, 'u', ?, NULL, now(), true)",
                [batch, n, str(n), key],
            )
            conn.execute(
                "INSERT INTO videos (video_key, title, fetched_at) VALUES (?, ?, now())",
                [key, f"标题 {n}"],
            )


def test_every_table_and_view_is_written_and_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    _two_batches(db)
    assert main(["export", "--to", str(out), "--db", str(db)]) == 0
    names = {t.name for t in TABLES} | {v.name for v in VIEWS}
    assert {p.stem for p in out.glob("*.parquet")} == names
    videos = pl.read_parquet(out / "videos.parquet")
    assert sorted(videos["title"]) == ["标题 1", "标题 2", "标题 3"]
    assert "3  " + str(out / "videos.parquet") in capsys.readouterr().out.replace(",", "")


def test_one_batch_as_csv_holds_only_its_rows(tmp_path: Path) -> None:
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    _two_batches(db)
    assert (
        main(
            [
                "export",
                "--to",
                str(out),
                "--format",
                "csv",
                "--batch",
                "it's tuesday.txt",
                "--db",
                str(db),
            ]
        )
        == 0
    )
    assert pl.read_csv(out / "videos.csv")["video_key"].to_list() == ["douyin:3"]
    assert pl.read_csv(out / "links.csv")["batch"].to_list() == ["it's tuesday.txt"]
    assert not (out / "service_halts.csv").exists(), "bookkeeping belongs to no batch"


def test_an_unknown_batch_is_named_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    _two_batches(db)
    assert main(["export", "--to", str(out), "--batch", "nope.txt", "--db", str(db)]) == 1
    assert "no batch 'nope.txt'" in capsys.readouterr().err
    assert not out.exists()
