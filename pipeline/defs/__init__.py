"""Dagster wiring: partitions, resources, assets, checks, sensor, schedule."""
