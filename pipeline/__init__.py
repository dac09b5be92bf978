"""Short-video share links -> Coze metadata and transcripts -> a DuckDB warehouse."""
