"""Alerts: one message to `PIPELINE_ALERT_WEBHOOK` when a run halts or fails, once per cause.

`message` says what went wrong in each chat service's words (pure), `send` posts it, `once`
decides whether this cause was already told; the CLI (`pipeline.runs`) and the Dagster sensor
(`pipeline.defs.alerts`) both go through `once.alert_failed_run`.
"""
