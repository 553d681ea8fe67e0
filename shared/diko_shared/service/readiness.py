"""Why a service is not ready, said in one line a person can act on."""

from __future__ import annotations


class NotReady(Exception):
    """A part the service needs is not there; the message says why, for /readyz."""


def short_error(exc: BaseException) -> str:
    """An exception as one line a person can act on, without the driver's topology dump."""
    text = str(exc).strip()
    if isinstance(exc, NotReady):
        return text
    for cut in (", Timeout:", " (configured timeouts", ", Topology Description"):
        text = text.split(cut, 1)[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
