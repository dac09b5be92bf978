"""docs/schema.md is generated from the schema module and must match the live database."""

from pathlib import Path

from pipeline.schema import TABLES, VIEWS, schema_markdown
from pipeline.settings import PROJECT_ROOT
from pipeline.storage.db import connect


def test_committed_doc_is_the_generated_one() -> None:
    committed = (PROJECT_ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    assert committed == schema_markdown() + "\n", "run `python -m pipeline schema-doc`"


def test_live_database_has_exactly_the_documented_columns(tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as conn:
        live: dict[str, list[tuple[str, str]]] = {}
        for table, column, data_type in conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall():
            live.setdefault(table, []).append((column, data_type))
    documented = {t.name: [(c.name, c.type) for c in t.columns] for t in TABLES}
    documented |= {v.name: [(c.name, c.type) for c in v.columns] for v in VIEWS}
    assert live == documented
