"""Dagster wiring: partitions, resources, assets, checks, sensor, schedule."""

import warnings

import dagster as dg

# `backfill_policy` (several batches in one run) is marked beta in Dagster 1.13; it is used
# knowingly, so its warning would only be noise in every run's output.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
