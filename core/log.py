"""One logging set-up: console, rotating file under ``data/logs/``, optional JSON lines.

:class:`SecretMaskFilter` replaces every configured secret value with ``***``
in the message, its arguments and any exception text, on every handler, so no
key can reach a log line however it was formatted.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import threading
from collections.abc import Iterable
from pathlib import Path

from core.config import Settings

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_lock = threading.Lock()
_configured: dict[str, object] = {}


MIN_SECRET_LEN = 6


class SecretMaskFilter(logging.Filter):
    """Mask known secret strings in log records.

    Values shorter than ``MIN_SECRET_LEN`` are ignored: no real key or token is that
    short, and masking e.g. ``"t"`` would garble every log line.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Register more secret values to mask."""
        self._secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_LEN)

    def mask(self, text: str) -> str:
        """Return ``text`` with every known secret replaced by ``***``."""
        # Longest first so a secret containing another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        masked = self.mask(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """Format records as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload)


MASK_FILTER = SecretMaskFilter()


def setup_logging(settings: Settings, console: bool = True) -> logging.Logger:
    """Configure the ``core`` and ``jobs`` loggers once per process and return ``core``'s.

    Calling it again only registers new secrets and updates the level.
    """
    MASK_FILTER.add(*settings.secret_values())
    root = logging.getLogger("core")
    with _lock:
        level = getattr(logging, settings.log.level)
        for name in ("core", "jobs", "pages"):
            logging.getLogger(name).setLevel(level)
        if _configured.get("done"):
            return root
        handlers: list[logging.Handler] = []
        if console:
            handlers.append(logging.StreamHandler())
        log_dir = settings.path(settings.log.dir)
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            file_handler = logging.handlers.RotatingFileHandler(
                Path(log_dir) / "app.log", maxBytes=5_000_000, backupCount=5, encoding="utf-8"
            )
            handlers.append(file_handler)
        except OSError as exc:  # a read-only checkout still runs, just without a log file
            logging.getLogger("core").warning("cannot write logs to %s: %s", log_dir, exc)
        for handler in handlers:
            handler.addFilter(MASK_FILTER)
            handler.setFormatter(JsonFormatter() if settings.log.json_lines else logging.Formatter(_FORMAT))
            for name in ("core", "jobs", "pages"):
                logging.getLogger(name).addHandler(handler)
        _configured["done"] = True
    return root
