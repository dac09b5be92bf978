"""One settings object: every variable it reads is documented, and nothing else reads the
environment."""

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.definitions import build_definitions
from pipeline.envvars import ConfigError
from pipeline.settings import PROJECT_ROOT, Settings

# Modules that hand the environment on whole to a child process, reading no setting from it.
PASSES_THE_ENVIRONMENT_ON = {"pipeline/runs.py"}


class RecordingEnviron(Mapping[str, str]):
    """An empty environment that remembers every name asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        raise KeyError(name)

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(name)
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_every_variable_the_settings_read_is_in_the_readme_table() -> None:
    environ = RecordingEnviron()
    Settings.from_env(environ)
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert {"COZE_RPS", "PIPELINE_DICTIONARY_DIR", "AWS_ACCESS_KEY_ID"} <= environ.asked
    assert environ.asked - documented == set()


def _reads_of_the_environment(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in ("environ", "getenv")
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    ]


def test_no_module_but_the_settings_reads_the_environment() -> None:
    readers = {
        str(path.relative_to(PROJECT_ROOT)): lines
        for path in sorted((PROJECT_ROOT / "pipeline").rglob("*.py"))
        if (lines := _reads_of_the_environment(path))
    }
    assert set(readers) - PASSES_THE_ENVIRONMENT_ON == {"pipeline/settings.py"}, readers


def test_the_definitions_resources_come_from_the_one_object(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "PIPELINE_LINKS_DIR": str(tmp_path / "links"),
            "PIPELINE_DICTIONARY_DIR": str(tmp_path / "dictionary"),
            "PIPELINE_LOCK_WAIT": "7",
            "COZE_RPS": "12.5",
            "PIPELINE_DUCKDB_MEMORY": "1.5GB",
        },
        db=tmp_path / "w.duckdb",
    )
    resources = build_definitions(settings).resources
    assert resources["warehouse"].path == str(tmp_path / "w.duckdb")
    assert resources["warehouse"].lock_wait_seconds == 7
    assert resources["warehouse"].location.duckdb_memory == "1.5GB"
    assert resources["link_files"].directory == str(tmp_path / "links")
    assert resources["dictionary"].directory == str(tmp_path / "dictionary")
    assert resources["coze"].settings().rps == 12.5


def test_db_wins_over_pipeline_db(tmp_path: Path) -> None:
    env = {"PIPELINE_DB": str(tmp_path / "from-env.duckdb")}
    assert Settings.from_env(env).db_path == tmp_path / "from-env.duckdb"
    assert Settings.from_env(env, db=tmp_path / "given.duckdb").db_path == tmp_path / "given.duckdb"


def test_a_bad_webhook_is_refused_with_the_rest_of_the_settings() -> None:
    with pytest.raises(ConfigError, match="PIPELINE_ALERT_WEBHOOK"):
        Settings.from_env({"PIPELINE_ALERT_WEBHOOK": "not a url"})


@pytest.mark.parametrize("command", [["sql", "SELECT 1"], ["check"], ["rebuild"]])
def test_every_command_refuses_a_bad_setting_in_one_line(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PIPELINE_LOCK_WAIT", "soon")
    assert main([*command, "--db", str(tmp_path / "w.duckdb")]) == 2
    assert capsys.readouterr().err.strip() == (
        "PIPELINE_LOCK_WAIT must be a number >= 0, got 'soon'"
    )


def test_search_refuses_a_bad_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COZE_RPS", "fast")
    assert main(["search", "以太币"]) == 2
    assert capsys.readouterr().err.strip() == "COZE_RPS must be a number > 0, got 'fast'"
