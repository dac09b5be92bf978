"""Coze's numeric codes, in one place so they can be corrected as facts arrive.

Only 0 (success) is confirmed from recorded answers. The rate-limit and auth codes are the
ones the emulator sends (see shared/coze/API.md); the client never relies on them alone:
HTTP 429 is a rate limit and any 5xx is transient whatever the body says.
"""

SUCCESS = 0
BAD_PARAMETER = 4000
RATE_LIMITED = 4013
AUTH_FAILED = 4100
WORKFLOW_NOT_FOUND = 4200
WORKFLOW_FAILED = 6000
INTERNAL_ERROR = 5000

RETRYABLE_CODES = frozenset({RATE_LIMITED, INTERNAL_ERROR})
AUTH_CODES = frozenset({AUTH_FAILED})
