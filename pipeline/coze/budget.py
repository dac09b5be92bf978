"""A cap on the API calls one run may send: the free plan has 500 calls in total, ever.

Every request counts (metadata runs, submits, polls and their retries), because every one is a
call on the account. Reaching the cap is not an error of any item: the run stops starting new
work and leaves the rest pending for the next run.
"""

from __future__ import annotations


class BudgetSpent(Exception):
    """The run's call budget is used up; nothing more may be sent in this run."""


class CallBudget:
    def __init__(self, limit: int | None, already_used: int = 0) -> None:
        self.limit = limit
        self.used = already_used
        self.sent = 0
        """Calls sent through this budget object (this step), as opposed to the run's total."""

    def take(self) -> None:
        if self.limit is not None and self.used >= self.limit:
            raise BudgetSpent(
                f"PIPELINE_MAX_CALLS={self.limit} reached: the run stops here and leaves the "
                "rest pending"
            )
        self.used += 1
        self.sent += 1

    @property
    def spent(self) -> bool:
        return self.limit is not None and self.used >= self.limit
