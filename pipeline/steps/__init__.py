"""The API steps' logic, free of Dagster: each takes a client, a recorder and its work list."""
