"""The scripted entry refuses bad arguments with a line a person can act on, not a traceback."""

from pathlib import Path

import pytest

from pipeline.cli import main


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
