"""Structured logs: key-value events, JSON lines in production, readable lines on a terminal.

Whatever the format, every event goes through the same two processors before it is rendered:

* `redact` blanks fields whose name says they hold a secret or a recipient's data (passwords, tokens, codes,
  names, addresses, e-mail addresses) and scrubs the signing key and `password=...`-like pairs out of every
  text, exception messages included (of a database error, only its primary message: its DETAIL quotes the
  row or key it refused);
* `compact_exception` renders an exception as a few lines (its type and message, then the innermost frames
  as `file:line in function`), never with local variables: a traceback with locals prints passwords, keys
  and recipients' addresses, and a deep one written synchronously stalls the event loop.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any

import psycopg
import structlog

from crowdship.settings import Settings

REDACTED = "[redacted]"
SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authori[sz]ation|cookie|api[_-]?key|credential|^(delivery_|bag_)?code$"
    r"|recipient|address|e-?mail|^username$|display_name|^name$",
    re.IGNORECASE,
)
"""Field names whose values never reach a log (`code` alone: delivery and bag codes)."""
SENSITIVE_PAIR = re.compile(
    r"(?P<key>pass(word|wd)?|secret|token|api[_-]?key|authorization|shopper|name|search|\bq)"
    r"(?P<sep>\s*[=:]\s*)(?P<value>[^\s,;&\"']+)",
    re.IGNORECASE,
)
"""`key=value` pairs in any text whose value is a secret, or a person's name (a search typed into the console,
which the access log's request line carries): `shopper_id=` and other ids are kept."""
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(\.[\w-]+)+")
"""An address starts where a run of its characters does (the lookbehind): tried inside the run too, a long line
of letters was read again from every position of it, in time quadratic in the line a client writes."""
EXCEPTION_FRAMES = 4
"""Innermost frames kept in a logged traceback: where it broke, and the few calls that led there."""
MAX_TEXT = 2_000
"""No single logged text is longer: an exception message can carry a whole request."""

LIBRARY_WARNINGS_EVERY_S = 5.0
"""How often a library's repeated warning (psycopg's pool, during an outage) is let through."""

_known_secrets: list[str] = []


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at the time of writing, not at configuration (test capture swaps it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def scrub(text: str) -> str:
    """The text without known secrets, `password=...`-like values and e-mail addresses, and not too long."""
    for secret in _known_secrets:
        text = text.replace(secret, REDACTED)
    text = SENSITIVE_PAIR.sub(lambda match: f"{match['key']}{match['sep']}{REDACTED}", text)
    text = EMAIL.sub(REDACTED, text)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " [...]"


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {key: REDACTED if SENSITIVE_KEY.search(str(key)) else _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_clean(item) for item in value]
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key == "exc_info":
            continue
        event[key] = REDACTED if SENSITIVE_KEY.search(key) else _clean(value)
    return event


def _message(error: BaseException) -> str:
    """An exception's message as logged. A database error's primary message only (which constraint of which
    table): its DETAIL quotes the values, the row refused (`Failing row contains (...)`, a recipient's name and
    address) or the key found taken (`Key (email)=(...)`)."""
    if isinstance(error, psycopg.Error):
        return scrub(error.diag.message_primary or str(error).split("\n", 1)[0])
    return scrub(str(error))


def format_exception(error: BaseException) -> str:
    """`Type: message` and the innermost frames, one per line, without locals; chained causes are named (the
    one given with `raise ... from`, else the one being handled, unless `from None` hid it)."""
    frames = traceback.extract_tb(error.__traceback__)[-EXCEPTION_FRAMES:]
    lines = [f"{type(error).__name__}: {_message(error)}"]
    lines += [f"  at {frame.filename}:{frame.lineno} in {frame.name}" for frame in frames]
    cause = error.__cause__ if error.__cause__ is not None or error.__suppress_context__ else error.__context__
    if cause is not None:
        lines.append(f"  from {type(cause).__name__}: {_message(cause)}")
    return "\n".join(lines)


def compact_exception(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    exc_info = event.pop("exc_info", None)
    error: BaseException | None = None
    if isinstance(exc_info, BaseException):
        error = exc_info
    elif isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        error = exc_info[1]
    elif exc_info:
        error = sys.exc_info()[1]
    if error is not None:
        event["exception"] = format_exception(error)
    return event


def remember_secrets(secrets: Iterable[str]) -> None:
    """Values scrubbed out of every logged text from now on (the signing key, for one)."""
    for secret in secrets:
        if secret and len(secret) >= 8 and secret not in _known_secrets:
            _known_secrets.append(secret)


def configure_logging(settings: Settings) -> None:
    if settings.secret_key is not None:
        remember_secrets([settings.secret_key.get_secret_value()])
    level = getattr(logging, settings.log_level)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        compact_exception,
        redact,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    # Libraries that log through the standard library (uvicorn, alembic, psycopg_pool) go the same way.
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic narrates every step at INFO; its failures still come through.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    pool_logger = logging.getLogger("psycopg.pool")
    for earlier in [found for found in pool_logger.filters if isinstance(found, SampledLibraryWarnings)]:
        pool_logger.removeFilter(earlier)
    pool_logger.addFilter(SampledLibraryWarnings(LIBRARY_WARNINGS_EVERY_S))


class Sampled:
    """Lets one event of each kind through per `every_s` and counts the rest: an outage answered 503 a thousand
    times a minute logs a line every few seconds, each saying how many it stands for, not a line per request."""

    def __init__(self, every_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self._every_s = every_s
        self._now = now
        self._last: dict[str, float] = {}
        self._held_back: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, kind: str) -> int | None:
        """None to stay quiet; else how many of this kind were held back since the last one let through."""
        with self._lock:
            now = self._now()
            last = self._last.get(kind)
            if last is not None and now - last < self._every_s:
                self._held_back[kind] = self._held_back.get(kind, 0) + 1
                return None
            self._last[kind] = now
            return self._held_back.pop(kind, 0)


class SampledLibraryWarnings(logging.Filter):
    """A library's warnings, let through once every `every_s` per message template (whatever its arguments), the
    next one let through saying how many like it were held back. psycopg's pool warns of every failed connection
    attempt, about one a second per process for as long as PostgreSQL is away, beside the 503s it causes, which
    are logged once every few seconds (`Sampled`) already. Errors and worse always pass."""

    def __init__(self, every_s: float, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._sampled = Sampled(every_s, now)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        held_back = self._sampled.take(str(record.msg))
        if held_back is None:
            return False
        if held_back:
            record.msg = f"{record.getMessage()} (and {held_back} more like it since the last)"
            record.args = ()
        return True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
