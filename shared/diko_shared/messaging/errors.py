"""How a handler says that a message cannot be processed, and why.

A `DomainError` is final: the request is answered with its code, or (without
`reply_to`) dead-lettered with it as the reason; only `NotYetKnown` is retried first when
nobody waits for the answer. Any other exception is either

- permanent (`is_permanent`): an error of our own code that the same message meets again
  on every attempt (`OverflowError`, `ValueError`, `KeyError`, `TypeError`, … from data
  it cannot handle, or a bug). Retrying it would only hold the message, and whatever it
  claimed, for minutes: it is dead-lettered at once with reason `handler_error` (a
  request is first answered `internal`), and an operator replays it once the code or
  the data is fixed; or
- transient: anything else (the database restarting, a dropped connection, the SMTP
  server busy), retried with back-off. `TransientError` says so explicitly, also for a
  fault that would otherwise look permanent (a garbled answer of another system).
"""

from __future__ import annotations

from bson.errors import BSONError

from diko_shared.contract.envelope import ErrorCode, ErrorDetail

#: Exceptions our code raises deterministically: the same message fails the same way again.
PERMANENT: tuple[type[BaseException], ...] = (
    ArithmeticError,  # OverflowError (a date at the calendar's edge), ZeroDivisionError
    LookupError,  # KeyError, IndexError: a field or entry the code expected is missing
    ValueError,  # also UnicodeError and pydantic's ValidationError: data it cannot read
    TypeError,
    AttributeError,
    AssertionError,
    NotImplementedError,
    RecursionError,
    BSONError,  # a document the database driver cannot encode
)


def is_permanent(exc: BaseException) -> bool:
    """Whether `exc` will happen again on every attempt (see the module's docstring)."""
    return isinstance(exc, PERMANENT) and not isinstance(exc, TransientError)


class DomainError(Exception):
    """A final answer: the message is well-formed, but it cannot be carried out."""

    code: ErrorCode = ErrorCode.VALIDATION_ERROR

    def __init__(self, message: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class Invalid(DomainError):
    """The payload breaks a rule that its schema cannot express."""

    code = ErrorCode.VALIDATION_ERROR

    @classmethod
    def field(cls, field: str, problem: str) -> Invalid:
        return cls(f"{field}: {problem}", [ErrorDetail(field=field, problem=problem)])


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class NotYetKnown(NotFound):
    """Not found here, but what the message names reaches this service through another
    service's events, which may still be on their way (another queue, a replica that
    restarted). Nobody waits for the answer of a message without `reply_to`: it is retried
    like a transient fault and refused as `not_found` only when the retries are used up.
    A request (with `reply_to`) is answered `not_found` at once."""


class Conflict(DomainError):
    code = ErrorCode.CONFLICT


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class TransientError(Exception):
    """A fault that may pass: the message is retried after a delay."""


class Rejected(Exception):
    """The platform cannot even read the message: it is answered or dead-lettered at once.

    `reason` is the machine-readable header value on the dead letter (for example
    `malformed_json`, `too_large`); `code` is the error code of the reply.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        code: ErrorCode = ErrorCode.VALIDATION_ERROR,
        details: list[ErrorDetail] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.code = code
        self.details = details or []
