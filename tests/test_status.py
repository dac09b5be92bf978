"""The one rule of what a video needs next, over every pair of step statuses."""

from __future__ import annotations

import itertools

import pytest

from pipeline.status import ItemStatus, JobStatus, LinkStatus, Outcome, listed, next_calls

STATES = [None, *ItemStatus]


@pytest.mark.parametrize(("metadata", "transcript"), list(itertools.product(STATES, STATES)))
@pytest.mark.parametrize("resubmit", [False, True])
def test_next_calls(metadata: ItemStatus | None, transcript: ItemStatus | None, resubmit: bool):
    calls = next_calls(metadata, transcript, resubmit_uncertain=resubmit)
    resolvable = metadata in (None, ItemStatus.RETRY, ItemStatus.OK)
    assert calls.needs_metadata == (metadata in (None, ItemStatus.RETRY))
    submittable = transcript in (None, ItemStatus.RETRY) or (
        resubmit and transcript == ItemStatus.UNCERTAIN
    )
    assert calls.may_submit == (resolvable and submittable)
    if metadata == ItemStatus.FAILED:
        assert not calls.any, "a video whose metadata failed for good is never paid for again"
    if transcript in (ItemStatus.OK, ItemStatus.RUNNING, ItemStatus.FAILED):
        assert not calls.may_submit, "a finished, live or failed job is never submitted again"


def test_statuses_are_the_strings_the_warehouse_stores() -> None:
    assert ItemStatus.RETRY == "retry" and f"{JobStatus.RUNNING}" == "Running"
    assert Outcome("service_fault") is Outcome.SERVICE_FAULT
    assert listed(LinkStatus) == "`ok`, `failed`, `pending` or `uncertain`"
