"""Numbers read from environment variables, refused with the variable's name when unusable.

A typo in a cron line's `COZE_RPS=2o` should say which variable and what it needs, not end in
a traceback from `float()` deep inside Dagster's definitions loading.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TypeVar

N = TypeVar("N", int, float)


class ConfigError(ValueError):
    """A deployment setting is unusable; the message names the variable and the rule."""


def env_int(environ: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    """The variable as a whole number >= minimum; `default` when unset or empty."""
    rule = f"a whole number >= {minimum}"
    return _number(environ, name, default, int, rule, lambda v: v >= minimum)


def env_float(
    environ: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float,
    inclusive: bool = True,
) -> float:
    """The variable as a finite number >= minimum (> when not inclusive); `default` when unset."""

    def accept(value: float) -> bool:
        return math.isfinite(value) and (value >= minimum if inclusive else value > minimum)

    rule = f"a number {'>=' if inclusive else '>'} {minimum:g}"
    return _number(environ, name, default, float, rule, accept)


def _number(
    environ: Mapping[str, str],
    name: str,
    default: N,
    cast: type[N],
    rule: str,
    accept: Callable[[N], bool],
) -> N:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {rule}, got {raw!r}") from None
    if not accept(value):
        raise ConfigError(f"{name} must be {rule}, got {raw!r}")
    return value
