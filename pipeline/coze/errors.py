"""What went wrong, classified by scope: who the error is about decides what the caller does.

The scopes are those of `codes.py`. Retryable errors may succeed if the same call is made again
later; item and job errors will not, and retrying them only spends money; account and workflow
errors, and answers from something that is not Coze at all (`ServiceHaltError`), are nobody's
item's fault and stop the run. Messages are written for a person reading a log and never contain
a token.
"""

from __future__ import annotations

from pipeline.coze.codes import Scope
from pipeline.coze.models import RawExchange


class CozeError(Exception):
    scope: Scope = "item"

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        logid: str | None = None,
        raw: RawExchange | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.logid = logid
        self.raw = raw

    @property
    def retryable(self) -> bool:
        return self.scope in ("transient", "rate_limit")


class RetryableError(CozeError):
    scope: Scope = "transient"


class RateLimitedError(RetryableError):
    """HTTP 429 or Coze's RPM code: the whole client slows down."""

    scope: Scope = "rate_limit"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(RetryableError):
    """HTTP 5xx or a coded "try later": the call did not start a run."""


class TransportError(RetryableError):
    """No answer, and the request certainly never started a run (connect failed), or it was a
    poll, which costs nothing to repeat."""


class UnknownCodeError(CozeError):
    """A code in no table: nobody knows whose fault it is. Not re-sent at once (three such
    answers in a row halt the run, and re-sending would only delay that), never permanent:
    the video stays retryable for a later run."""

    scope: Scope = "unknown"

    @property
    def retryable(self) -> bool:
        return False


class JobStateUnknownError(CozeError):
    """A poll whose record says nothing usable: an `execute_status` outside Running, Success
    and Fail, or no record at all. The job is polled again with backoff, without holding the
    run, and ends only once it is older than Coze's run limit (`ledger`)."""

    scope: Scope = "transient"

    @property
    def retryable(self) -> bool:
        return False


class UncertainError(CozeError):
    """A paid POST that may have reached Coze (read timeout, connection dropped after sending).

    Never re-sent by the client: Coze has no idempotency key, so a blind retry can pay for a
    second run whose answer nobody sees."""

    scope: Scope = "transient"

    @property
    def retryable(self) -> bool:
        return False


class PermanentError(CozeError):
    """This item's request is at fault; the same call gets the same answer."""


class BadRequestError(PermanentError):
    """A bad parameter."""


class MalformedPayloadError(PermanentError):
    """The answer does not have the documented shape; `raw.body` holds what came."""


class AnswerTooLargeError(MalformedPayloadError):
    """An answer that ran past `config.MAX_ANSWER_BYTES` and was cut off unread, so a hostile
    or broken server cannot fill memory; `raw.body` holds only its start."""


class WorkflowFailedError(PermanentError):
    """The workflow ran and failed on Coze's side; a new submit would be a new paid run."""


class JobEndedError(CozeError):
    """A transcript job that is over without a usable transcript: its record is gone (4314) or
    its finished output cannot be read. The only errors that end a paid job besides `Fail`."""

    scope: Scope = "job"


# The metadata of a halted step's failure: whoever reads a run (the command line, the alert
# sensor) tells a halt from a crash by these keys.
HALT_SCOPE_KEY = "coze/halt_scope"
HALT_CODE_KEY = "coze/halt_code"


class ServiceHaltError(CozeError):
    """Every item would get this answer: the account, the workflow or the endpoint is unusable.
    Ends the run with nothing marked failed; `str()` is the one line a person needs."""

    scope: Scope = "account"

    def failure_metadata(self) -> dict[str, str | int | None]:
        return {HALT_SCOPE_KEY: self.scope, HALT_CODE_KEY: self.code}


class AccountError(ServiceHaltError):
    """Token, permission, balance, daily quota or plan."""


class WorkflowUnavailableError(ServiceHaltError):
    """The workflow is missing or not published."""

    scope: Scope = "workflow"


class ServiceFailingError(ServiceHaltError):
    """Every call of the run failed the same way, for several videos in a row and with nothing
    answered well: an outage, or a code nobody knows. The service's fault, not the videos'."""

    scope: Scope = "service"


class EndpointError(ServiceHaltError):
    """COZE_BASE_URL does not lead to Coze: a page instead of JSON (a proxy's login page), a
    path that does not exist (a base URL ending in /v1), or nothing listening. A deployment
    fault, not the items': failing them would fail every video of the batch for good."""

    scope: Scope = "endpoint"
