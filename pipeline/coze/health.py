"""Whether a run's failures are the videos' or the service's. Pure: fed every answer of a run.

A video must not pay for the service's bad day. So a failure that may be the service's costs
the video no attempt until the run has had one good answer, and the run halts (nothing marked
failed, exit status 3) once `IN_A_ROW` different videos in a row get

- the same code that no table of Coze's lists: whatever it means, it is not about one video;
- or, before any good answer, a "try later" error (a transient code, HTTP 5xx, a rate limit
  or no answer) that the client's own retries could not get past: an outage.

Without the halt, an outage would cost every video of a batch an attempt each hourly run until
they all failed for good, and an unknown account-wide code would fail them at once.
"""

from __future__ import annotations

from pipeline.coze.errors import AccountError, CozeError, ServiceFailingError, ServiceHaltError

IN_A_ROW = 3
NOTHING_FAILED = "Nothing was marked failed; unfinished videos stay pending"


class RunHealth:
    """Kept per kind of call (metadata run, submit, poll), since one endpoint can fail while
    the others answer: a submit streak is not broken by the metadata answers between its
    submits."""

    def __init__(self, in_a_row: int = IN_A_ROW) -> None:
        self.in_a_row = in_a_row
        self._answered_well: set[str] = set()
        self._streaks: dict[str, tuple[tuple[str, int | None], set[str]]] = {}

    def charges_failures(self, kind: str) -> bool:
        """Whether a retryable failure of this kind of call counts against its video's
        attempts: only once a call of its kind has answered well in this run."""
        return kind in self._answered_well

    def good_answer(self, kind: str) -> None:
        self._answered_well.add(kind)
        self._streaks.pop(kind, None)

    def failure(self, kind: str, video_key: str, error: CozeError) -> ServiceHaltError | None:
        """The halt this failure completes, if any. Errors about one video or one job, an
        answer that may have started a paid run (`UncertainError`) and the halts (which stop
        the run anyway) break a streak."""
        if error.scope == "unknown":
            cause: tuple[str, int | None] = ("unknown", error.code)
        elif error.retryable and kind not in self._answered_well:
            cause = ("outage", None)
        else:
            self._streaks.pop(kind, None)
            return None
        current, videos = self._streaks.get(kind, (cause, set()))
        if current != cause:
            videos = set()
        videos.add(video_key)
        self._streaks[kind] = (cause, videos)
        return self._halt(error) if len(videos) >= self.in_a_row else None

    def _halt(self, error: CozeError) -> ServiceHaltError:
        details = {"code": error.code, "http_status": error.http_status, "logid": error.logid}
        support = f"; logid {error.logid}" if error.logid else ""
        said = str(error)  # built from decoded, valid text
        if error.scope == "unknown":
            line = (
                f"Coze refused the account: code {error.code}, which no table of Coze's error "
                f"codes lists, came back for {self.in_a_row} videos in a row ({said}). To do: "
                "look the code up on Coze's error-code page or ask Coze support with the logid; "
                f"then run again. {NOTHING_FAILED}{support}"
            )
            return AccountError(line, **details)
        line = (
            f"Coze failed every call of this run: {self.in_a_row} videos in a row got "
            f"'{said}' after every retry, and nothing has answered well yet. To do: nothing but "
            "wait; the next run (the hourly schedule, or run again later) picks everything up. "
            f"{NOTHING_FAILED}{support}"
        )
        return ServiceFailingError(line, **details)
