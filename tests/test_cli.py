"""The scripted entry refuses bad arguments with a line a person can act on, not a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import connect


def test_a_missing_link_file_is_named_and_exits_2(
    tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.txt"
    assert main(["run", "--links", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"no link file at {missing}"


def test_unknown_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--links", "x.txt", "--bogus"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("COZE_RPS", "2o", "COZE_RPS must be a number > 0, got '2o'"),
        ("COZE_MAX_IN_FLIGHT", "0", "COZE_MAX_IN_FLIGHT must be a whole number >= 1, got '0'"),
        ("PIPELINE_POLL_BUDGET", "nan", "PIPELINE_POLL_BUDGET must be a number >= 0, got 'nan'"),
        (
            "PIPELINE_DUCKDB_MEMORY",
            "32MB",
            "PIPELINE_DUCKDB_MEMORY must be a size of at least 64MiB, such as 256MiB or 2GB, "
            "got '32MB'",
        ),
        (
            "PIPELINE_DUCKDB_MEMORY",
            "80%",
            "PIPELINE_DUCKDB_MEMORY must be a size of at least 64MiB, such as 256MiB or 2GB, "
            "got '80%'",
        ),
    ],
)
def test_an_unusable_setting_is_named_and_exits_2(
    tmp_path: Path,
    dagster_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    links = tmp_path / "batch.txt"
    links.write_text("https://www.douyin.com/video/7400000000000000000\n", encoding="utf-8")
    monkeypatch.setenv(variable, value)
    assert main(["run", "--links", str(links), "--db", str(tmp_path / "w.duckdb")]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == message
    assert "emulator" not in captured.out
    assert not (tmp_path / "w.duckdb").exists()


def _one_line(text: str) -> str:
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize("limit", ["-1", "0", "ten"])
def test_a_search_limit_below_one_is_refused(
    capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "以太币", "--limit", limit])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"argument --limit: must be a whole number >= 1, got '{limit}'" in err


def test_a_search_without_a_warehouse_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "none.duckdb"
    assert main(["search", "以太币", "--db", str(db)]) == 1
    assert _one_line(capsys.readouterr().err) == f"no warehouse at {db}; run the pipeline first"


def test_a_search_before_any_text_analysis_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "w.duckdb"
    with connect(db):  # the schema, as after a run whose videos have no transcript yet
        pass
    assert main(["search", "以太币", "--db", str(db)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"no search index for {db} yet")


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_link_file_name_too_long_for_the_system_is_one_line(
    tmp_path: Path, dagster_home: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    links = tmp_path / ("长" * 300 + ".txt")
    assert main([command, "--links", str(links), "--db", str(tmp_path / "w.duckdb")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("cannot read link file ") and line.endswith(": File name too long")
    assert not (tmp_path / "w.duckdb").exists()


EXITING = """
import sys, threading, time
from pathlib import Path
from pipeline.cli import exit_at_once
def finish():
    time.sleep(0.3)
    Path(sys.argv[1]).write_text("finished")
if sys.argv[2] == "with-thread":
    threading.Thread(target=finish).start()
print("buffered output", end="")
print("buffered error", end="", file=sys.stderr)
exit_at_once(7)
"""


@pytest.mark.parametrize("thread", ["with-thread", "alone"])
def test_the_fast_exit_keeps_the_status_the_output_and_a_working_thread(
    tmp_path: Path, thread: str
) -> None:
    """The command exits skipping the interpreter's teardown: that must not lose buffered
    output (stdout is a pipe here, so fully buffered), the status, or a thread's work."""
    marker = tmp_path / "marker"
    done = subprocess.run(
        [sys.executable, "-c", EXITING, str(marker), thread],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (7, "buffered output", "buffered error")
    assert marker.exists() == (thread == "with-thread")
