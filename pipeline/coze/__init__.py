"""Coze workflow API: typed client, shared rate limiter, batch poller, and a local emulator."""
