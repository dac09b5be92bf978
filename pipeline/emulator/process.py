"""The emulator in its own process, so a test can kill the pipeline and keep the server."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx

from pipeline.emulator.config import EmulatorConfig


class EmulatorProcess:
    """`python -m pipeline.emulator` on a free loopback port; `url` once entered."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> EmulatorProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.emulator", "--port", "0", *self.config.argv()],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._process.stdout.readline() if self._process.stdout else ""
        if "listening on " not in line:
            self.stop()
            raise RuntimeError(f"Coze emulator did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[-1].strip()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_emulator/stats", timeout=30).json()

    def set_faults(self, **changes: Any) -> None:
        """Change config fields of the running emulator (a revoked token, a top-up, ...)."""
        httpx.post(f"{self.url}/_emulator/config", json=changes, timeout=30).raise_for_status()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
