"""The media archive's parts: expiries and content checks (pure), the store, one download."""
