import importlib
from pathlib import Path

from benchmarks.run_all import BENCHMARKS


def test_every_benchmark_has_a_smoke_size_and_a_smoke_test() -> None:
    """A benchmark added to `make bench` without a smoke test could rot unseen again."""
    here = Path(__file__).parent
    for module in BENCHMARKS:
        assert importlib.import_module(module).SMOKE, module
        name = module.removeprefix("benchmarks.")
        assert (here / f"test_{name}.py").exists(), f"no smoke test for {module}"
