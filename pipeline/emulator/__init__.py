"""A Coze-compatible workflow service on loopback: the demo's, the tests' and the benchmarks'."""

from pipeline.emulator.config import EmulatorConfig
from pipeline.emulator.process import EmulatorProcess

__all__ = ["EmulatorConfig", "EmulatorProcess"]
