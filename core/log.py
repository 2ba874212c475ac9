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
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from core.config import Settings

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_lock = threading.Lock()
_configured: dict[str, object] = {}


MIN_SECRET_LEN = 6


def _token_like(segment: str) -> bool:
    """Return True for a path segment that may be a credential (long, or holding a digit), not a word like 'webhooks'."""
    return len(segment) >= MIN_SECRET_LEN and (len(segment) >= 16 or any(ch.isdigit() for ch in segment))


def secret_parts(secret: str) -> set[str]:
    """Return ``secret`` and every part of it that must never be shown on its own.

    For any value: the value and its URL-encoded forms. For a URL: also the URL
    without its scheme, its path (with and without the leading slash), the path from
    the first token-like segment on, each token-like segment, the query string and
    each query value, and the user and password. Parts shorter than ``MIN_SECRET_LEN``
    are left out: masking e.g. ``"api"`` would garble every log line.
    """
    parts = {secret, quote(secret, safe=""), quote_plus(secret)}
    try:
        url = urlsplit(secret.strip())
    except ValueError:
        url = None
    if url is not None and url.scheme and url.netloc:
        parts.add(secret.split("://", 1)[1])
        path = url.path
        parts.update({path, path.lstrip("/"), path + ("?" + url.query if url.query else "")})
        segments = [seg for seg in path.split("/") if seg]
        first = next((i for i, seg in enumerate(segments) if _token_like(seg)), None)
        if first is not None:
            parts.add("/".join(segments[first:]))
            parts.update(seg for seg in segments[first:] if _token_like(seg))
        values = [value for _, value in parse_qsl(url.query) if len(value) >= MIN_SECRET_LEN]
        if values:
            parts.update([url.query, *values])
        parts.update(p for p in (url.username, url.password) if p)
    return {p for p in parts if p and len(p) >= MIN_SECRET_LEN}


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
        """Register more secret values to mask (each with its parts, see :func:`secret_parts`)."""
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_LEN:
                self._secrets.update(secret_parts(secret))

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
