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


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("COZE_RPS", "2o", "COZE_RPS must be a number > 0, got '2o'"),
        ("COZE_MAX_IN_FLIGHT", "0", "COZE_MAX_IN_FLIGHT must be a whole number >= 1, got '0'"),
        ("PIPELINE_POLL_BUDGET", "nan", "PIPELINE_POLL_BUDGET must be a number >= 0, got 'nan'"),
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
