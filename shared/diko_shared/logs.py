"""Structured JSON logs that carry the message id and correlation id of the message at hand."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

message_id: ContextVar[str | None] = ContextVar("message_id", default=None)
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
message_type: ContextVar[str | None] = ContextVar("message_type", default=None)


class _MessageContext(logging.Filter):
    """Adds the ids of the message being handled (if any) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for var in (message_id, correlation_id, message_type):
            value = var.get()
            if value is not None:
                setattr(record, var.name, value)
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-coloured duplicate
        return True


def configure(service: str, level: str = "INFO") -> None:
    """Send JSON lines to stderr; quieten FastStream's per-message logs and the access log."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_MessageContext())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
            timestamp=False,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "pymongo", "uvicorn.access", "faststream.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
