"""How a handler says that a message cannot be processed, and why.

A `DomainError` is final: the request is answered with its code, or (without
`reply_to`) dead-lettered with it as the reason. Any other exception is taken for a
passing fault (database restarting, SMTP server busy) and retried with back-off;
`TransientError` says so explicitly.
"""

from __future__ import annotations

from diko_shared.contract.envelope import ErrorCode, ErrorDetail


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
