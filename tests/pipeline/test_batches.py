"""Batch keys name one file each and find it again; an emptied file keeps its batch's rows; a
tracking URL too long to send is replaced by its canonical URL."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipeline.defs.partitions import batch_file, batch_key
from pipeline.defs.resources import LinkFilesResource
from pipeline.reads.work import WorkItem
from pipeline.steps.inputs import MAX_URL_CHARS, metadata_input
from tests.pipeline.helpers import Project

# What Dagster refuses in a partition key, and what its UI refuses when selecting partitions.
NOT_IN_DAGSTER_KEYS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0", ",", "[", "]", " ")


def test_a_file_in_the_links_folder_keeps_its_plain_name(tmp_path: Path) -> None:
    folder = tmp_path / "links"
    folder.mkdir()
    (folder / "example.txt").write_text("x\n")
    assert batch_key(folder / "example.txt", folder) == "example.txt"
    assert batch_key(tmp_path / "links" / ".." / "links" / "example.txt", folder) == "example.txt"
    assert LinkFilesResource(directory=str(folder)).path("example.txt") == folder / "example.txt"


@pytest.mark.parametrize(
    "folder",
    ["2024", "2025", "my lists, [old]", "a...b", "100% 中文|x", "tab\there"],
)
def test_a_file_elsewhere_is_keyed_by_its_path_and_found_again(tmp_path: Path, folder: str) -> None:
    links_dir = tmp_path / "links"
    links_dir.mkdir()
    file = tmp_path / folder / "list.txt"
    file.parent.mkdir()
    file.write_text("x\n")
    key = batch_key(file, links_dir)
    assert key == batch_key(Path(str(file)), links_dir), "the same file, the same key"
    assert key != batch_key(links_dir / "list.txt", links_dir)
    assert not any(bad in key for bad in NOT_IN_DAGSTER_KEYS), key
    assert batch_file(key, links_dir) == file
    assert LinkFilesResource(directory=str(links_dir)).path(key) == file


def test_keys_of_same_named_files_differ(tmp_path: Path) -> None:
    names = [tmp_path / d / "list.txt" for d in ("2024", "2025", "a b", "a%20b")]
    assert len({batch_key(n, tmp_path / "links") for n in names}) == len(names)


@pytest.mark.parametrize("key", ["", "../secret.txt", "sub/list.txt", "nope.txt"])
def test_a_key_naming_no_link_file_is_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(FileNotFoundError, match="no link file"):
        LinkFilesResource(directory=str(tmp_path)).path(key)


CANONICAL = "https://www.douyin.com/video/7400000000000000001"


@pytest.mark.parametrize(
    ("raw", "url", "canonical", "sent"),
    [
        ("看看 " + CANONICAL, CANONICAL, CANONICAL, "看看 " + CANONICAL),
        ("x" * 1001 + " " + CANONICAL, CANONICAL + "?a=1", CANONICAL, CANONICAL + "?a=1"),
        (
            CANONICAL + "?t=" + "9" * 50_000_000,
            CANONICAL + "?t=" + "9" * 50_000_000,
            CANONICAL,
            CANONICAL,
        ),
        (
            "u" * 3000,
            "https://v.douyin.com/" + "a" * 3000,
            None,
            "https://v.douyin.com/" + "a" * 3000,
        ),
    ],
    ids=["share text", "long text, short url", "50 MB tracking url", "long url, no canonical"],
)
def test_metadata_input_never_sends_a_huge_url_when_a_canonical_one_exists(
    raw: str, url: str, canonical: str | None, sent: str
) -> None:
    assert len(CANONICAL) < MAX_URL_CHARS
    assert metadata_input(WorkItem("douyin:1", raw, url, canonical)) == sent


def _links_log(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> list[str]:
    records = instance.all_logs(result.run_id)
    return [r.user_message for r in records if r.step_key == "links" and r.level >= 30]


def test_an_emptied_link_file_keeps_its_rows_and_says_so(
    project: Project, instance: dg.DagsterInstance
) -> None:
    lines = [f"https://www.douyin.com/video/74{n:017d}" for n in range(3)]
    batch = project.write_batch("monday.txt", lines)
    assert project.run(instance, batch).success
    (project.links_dir / batch).write_bytes(b"")  # a save cut short

    result = project.run(instance, batch)
    assert result.success
    assert project.scalar("SELECT count(*) FROM links WHERE batch = ?", [batch]) == 3
    assert project.scalar("SELECT count(*) FROM link_status WHERE transcript_status = 'ok'") == 3
    warnings = _links_log(instance, result)
    assert len(warnings) == 1, warnings
    assert "monday.txt" in warnings[0] and "3 rows" in warnings[0] and "kept" in warnings[0]
    materialization = result.asset_materializations_for_node("links")[0]
    assert materialization.metadata["empty_files_rows_kept"].value == {"monday.txt": 3}

    (project.links_dir / batch).write_text(lines[0] + "\n", encoding="utf-8")
    result = project.run(instance, batch)
    listed = "SELECT count(*) FROM links WHERE batch = ? AND listed = ?"
    assert project.scalar(listed, [batch, True]) == 1, "a file with lines replaces the rows"
    assert project.scalar(listed, [batch, False]) == 2, "the removed lines' paid jobs stay"
    warnings = _links_log(instance, result)
    assert len(warnings) == 1 and "2 lines no longer in the link files" in warnings[0], warnings
