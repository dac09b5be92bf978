"""Whether a run's failures are the videos' or the service's: the streaks that halt a run."""

from __future__ import annotations

from pipeline.coze.errors import (
    AccountError,
    BadRequestError,
    ServerError,
    ServiceFailingError,
    UncertainError,
    UnknownCodeError,
)
from pipeline.coze.health import RunHealth


def unknown(code: int = 4999) -> UnknownCodeError:
    return UnknownCodeError(f"Coze error of unknown meaning (code {code})", code=code)


def outage() -> ServerError:
    return ServerError("Coze asks to try later (HTTP 200, code 4013)", code=4013)


def test_the_same_unknown_code_for_three_videos_halts_as_account_wide() -> None:
    health = RunHealth()
    assert health.failure("metadata", "a", unknown()) is None
    assert health.failure("metadata", "a", unknown()) is None, "one video twice is one video"
    assert health.failure("metadata", "b", unknown()) is None
    halt = health.failure("metadata", "c", unknown())
    assert isinstance(halt, AccountError) and halt.code == 4999
    assert "3 videos in a row" in str(halt) and "Nothing was marked failed" in str(halt)


def test_a_good_answer_another_code_or_the_videos_own_error_breaks_a_streak() -> None:
    health = RunHealth()
    for breaker in (
        lambda: health.good_answer("submit"),
        lambda: health.failure("submit", "x", unknown(4998)),
        lambda: health.failure("submit", "x", BadRequestError("bad", code=4000)),
    ):
        health.failure("submit", "a", unknown())
        health.failure("submit", "b", unknown())
        breaker()
        assert health.failure("submit", "c", unknown()) is None


def test_kinds_keep_their_own_streaks_and_their_own_good_answers() -> None:
    health = RunHealth()
    health.failure("submit", "a", unknown())
    health.good_answer("metadata")  # a metadata answer between two submits
    health.failure("submit", "b", unknown())
    assert isinstance(health.failure("submit", "c", unknown()), AccountError)
    assert health.charges_failures("metadata") and not health.charges_failures("submit")


def test_an_outage_halts_only_before_anything_answered_well_and_charges_nobody() -> None:
    health = RunHealth()
    assert not health.charges_failures("poll")
    health.failure("poll", "a", outage())
    health.failure("poll", "b", outage())
    assert isinstance(health.failure("poll", "c", outage()), ServiceFailingError)

    healthy = RunHealth()
    healthy.good_answer("poll")
    assert healthy.charges_failures("poll")
    assert [healthy.failure("poll", key, outage()) for key in "abcd"] == [None] * 4


def test_an_uncertain_submit_is_never_part_of_an_outage() -> None:
    health = RunHealth()
    dropped = UncertainError("no answer after the request was sent")
    assert [health.failure("submit", key, dropped) for key in "abcd"] == [None] * 4
