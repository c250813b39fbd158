"""structlog production set-up: contextvars, UTC timestamps, orjson JSON, filtering logger.

Our own events are written by structlog; Faust's, mode's and aiokafka's stdlib records go
through the same JSON renderer (:func:`stdlib_logging_config`) so one process writes one format.
Never pass amounts, features, ciphertexts or keys to a logger: ids and sizes only.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog

__all__ = ["configure_logging", "get_logger", "stdlib_logging_config"]

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _add_module(_: Any, __: str, event_dict: Any) -> Any:
    """Name a library record's origin the way our own events do (``module=``)."""
    record = event_dict.get("_record")
    if record is not None:
        event_dict["module"] = record.name
    return event_dict


def _render_text(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    """Configure structlog to write one JSON object per line to stdout."""
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.BytesLoggerFactory(sys.stdout.buffer),
        cache_logger_on_first_use=True,
    )


def stdlib_logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` that renders library log records as our JSON lines."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(serializer=_render_text),
                ],
                "foreign_pre_chain": [*_SHARED, _add_module],
            },
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # aiokafka is chatty at INFO about every join and fetch; warnings are what matter
            # (unless DEBUG was asked for: then everything, to debug consumer positions).
            "aiokafka": {"level": "DEBUG" if level == "DEBUG" else "WARNING"},
            "kafka": {"level": "DEBUG" if level == "DEBUG" else "WARNING"},
        },
    }


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger bound to ``module=name``."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(module=name)
    return logger
