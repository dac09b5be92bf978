"""SQL text for the statements DuckDB takes no parameters in (ATTACH, LOAD, COPY … TO, CREATE
SECRET): a value goes in as a quoted literal, a quote in it doubled."""


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
