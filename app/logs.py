"""What the server writes to its logs: no secret, and nothing an outsider can forge or flood.

## Secrets

No secret reaches a log line: credentials in URL query strings are redacted before any handler
writes a record.

Old dashboards open `/ws?token=...` (browsers can't set socket headers), and uvicorn writes the
path with its query on every request and socket it logs (`"GET /x?token=..." 200` on uvicorn.access,
`"WebSocket /ws?token=..." [accepted]` on uvicorn.error, both at INFO, the default level). Log files
are read by more people, kept longer and shipped further than the token store: a token in one is a
leaked token. So `install()` puts a filter on uvicorn's loggers (whoever configured their handlers:
`sufrah serve`, the uvicorn command line, a test) and on the root logger's handlers (our own
loggers and the libraries', as `sufrah serve` configures them), which rewrites `token=sfr_...`,
`access_token=`, `ticket=`, `api_key=`, `secret=`, `password=`... into `token=[redacted]`.

The filter costs a substring test per string argument of a record; only a record holding a URL
with such a parameter is rewritten.

## Values from outside

Log lines about what the outside world sent: escaped, and at a bounded rate.

Anyone who can reach a webhook URL chooses the values a refusal would log, and how often:

- a phone number or MessageSid holding a newline or a terminal escape would start a forged line of
  its own (or recolour the next ones) in a plain-text log. `untrusted(value)` writes the value as a
  Python literal (`'SM1\\n2026-01-01 ERROR …'`, `'\\x1b[31m'`), cut to a length;
- one warning per refused request is one line per request: a flood of junk becomes a flood of log.
  `Throttled` lets at most `per_minute` lines of each kind (its format string) through per minute
  and per process, and says how many it held back on the next line of that kind.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

REDACTED = "[redacted]"
# A query parameter whose name says it carries a credential, and its value (up to the next separator).
_SECRET_PARAM = re.compile(
    r"(?i)((?:^|[?&;\s])[\w.-]*(?:token|ticket|secret|password|passwd|api_?key|signature)=)[^&;#\s\"'<>]*"
)


def redact(text: str) -> str:
    """`text` with the value of every credential-like query parameter replaced by [redacted]."""
    if "=" not in text:
        return text
    return _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and arguments so that no query-string credential is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_redact_arg(a) for a in args)
        elif isinstance(args, dict):
            record.args = {k: _redact_arg(v) for k, v in args.items()}
        return True


def _redact_arg(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float):
        return value
    text = str(value)  # a URL object (httpx logs its requests' URLs so)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn")


def install() -> None:
    """Redact on uvicorn's loggers and the root logger's handlers (idempotent)."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in LOGGERS]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())


# -- values from outside ----------------------------------------------------------------------

MAX_SHOWN = 80  # characters of an untrusted value written to a log line


class untrusted:
    """A value from the outside, formatted (lazily: only when the line is written) escaped and cut."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        text = self.value if isinstance(self.value, str) else str(self.value)
        if len(text) > MAX_SHOWN:
            return f"{text[:MAX_SHOWN]!r}…(+{len(text) - MAX_SHOWN} characters)"
        return repr(text)

    __repr__ = __str__


@dataclass(slots=True)
class _Window:
    started: float
    logged: int = 0
    held_back: int = 0


class Throttled:
    """A logger's lines at most `per_minute` per kind (the format string) per minute."""

    def __init__(
        self, logger: logging.Logger, *, per_minute: int = 10, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.per_minute = per_minute
        self._clock = clock
        self._windows: dict[str, _Window] = {}  # one per format string: bounded by the code

    def info(self, msg: str, *args: object) -> None:
        self.log(logging.INFO, msg, *args)

    def warning(self, msg: str, *args: object) -> None:
        self.log(logging.WARNING, msg, *args)

    def error(self, msg: str, *args: object) -> None:
        self.log(logging.ERROR, msg, *args)

    def log(self, level: int, msg: str, *args: object) -> None:
        if not self.logger.isEnabledFor(level):
            return
        now = self._clock()
        window = self._windows.get(msg)
        held_back = 0
        if window is None or now - window.started >= 60.0:
            held_back = window.held_back if window is not None else 0
            window = self._windows[msg] = _Window(now)
        if window.logged >= self.per_minute:
            window.held_back += 1
            return
        window.logged += 1
        if held_back:
            msg, args = msg + " (%d more like this were not logged)", (*args, held_back)
        self.logger.log(level, msg, *args)
