"""Each link file in the links folder is one batch: a dynamic partition named after the file."""

import dagster as dg

batches = dg.DynamicPartitionsDefinition(name="batches")

# A backfill of many batches runs as one run: the API steps then share one rate limiter and
# one poller, which is cheaper than a run per batch.
one_run_per_backfill = dg.BackfillPolicy.single_run()
