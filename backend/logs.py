"""Log lines for people (`text`, the default) or for a log shipper (`json`: one JSON object
per line, e.g. for journald, Loki or Vector), chosen by `[log] format`.

A JSON line has `ts` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `msg` (the
formatted message), every field the caller passed as `extra=` (so `reason`, `node`,
`transport` of a rejected uplink can be filtered on without parsing `msg`), and `exc` with
the traceback when there is one. The standard library's formatter is used for both: no
dependency (python-json-logger) for twenty lines.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# the attributes every LogRecord has; anything else on a record came from `extra=`
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
NOISY = ("aiocoap", "alembic", "httpx", "werkzeug")  # their INFO lines drown ours


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup(log_format: str, verbose: bool = False) -> None:
    """Configure the root logger once, for the whole process (replaces earlier handlers)."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True
    )
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
