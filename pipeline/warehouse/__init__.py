"""DuckDB warehouse: schema, durable recording of API answers, normalized tables."""
