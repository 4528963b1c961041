"""JSON-lines logging for every process, so log pipelines can index dispatch, issue, team and client."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

CONTEXT_FIELDS: Final = ("dispatch", "issue", "team", "provider", "route", "method", "status", "client")
"""Extra attributes copied into the JSON line when a log call passes them with `extra=`."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the process's identity, context, exception.

    `identity` is stamped on every line (`client` from CLIENT_SLUG, `flyApp` from FLY_APP_NAME), so
    that several deployments can share one log store without any call site passing them. A context
    field a call site passes itself wins over the stamped one of the same name: the line says what
    the call said.
    """

    def __init__(self, identity: Mapping[str, str | None] | None = None) -> None:
        super().__init__()
        self.identity = {name: value for name, value in (identity or {}).items() if value}
        """The fields of `identity` that have a value; an unset CLIENT_SLUG adds no `client` field."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **self.identity,
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str, *, client: str | None = None, fly_app: str | None = None) -> None:
    """Send every logger's records to stderr as JSON lines at `level` and above.

    `client` (CLIENT_SLUG) and `fly_app` (FLY_APP_NAME) go on every line when set, to tell apart the
    deployments that share a log store.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter({"client": client, "flyApp": fly_app}))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)  # one line per request, URLs included
