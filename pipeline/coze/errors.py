"""What went wrong, classified by what the caller should do about it.

Retryable errors may succeed if the same call is made again later; permanent ones will not,
and retrying a permanent one only spends money. Messages are written for a person reading a
log and never contain a token.
"""

from __future__ import annotations

from pipeline.coze.models import RawExchange


class CozeError(Exception):
    retryable = False

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


class RetryableError(CozeError):
    retryable = True


class RateLimitedError(RetryableError):
    """HTTP 429 or Coze's rate-limit code."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(RetryableError):
    """HTTP 5xx or Coze's internal-error code."""


class TransportError(RetryableError):
    """No answer: connection refused or dropped, or a timeout."""


class PermanentError(CozeError):
    pass


class AuthError(PermanentError):
    """The token is missing, invalid or expired."""


class BadRequestError(PermanentError):
    """A bad parameter, or a workflow that does not exist or is not published."""


class MalformedPayloadError(PermanentError):
    """The answer does not have the documented shape; `raw.body` holds what came."""


class WorkflowFailedError(PermanentError):
    """The workflow ran and failed on Coze's side; a new submit would be a new paid run."""
