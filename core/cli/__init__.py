"""``python -m core <command> ...``: one module per command group in this package.

Each module defines ``register(subparsers) -> None`` which adds its parser and
sets ``func`` (taking the parsed args, returning an exit code). Modules are
discovered automatically, so adding a command never edits this file. Errors
that users can cause (bad arguments, bad files, bad config) exit non-zero with
one clear line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import logging
import os
import pkgutil
import sys
from collections.abc import Callable
from typing import Any

DEBUG_ENV = "CORE_DEBUG"  # set to 1 to see the traceback of an unexpected error


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, with a suggestion when possible
        hint = ""
        if "invalid choice" in message:
            word = message.split("'")[1] if "'" in message else ""
            choices = [c for a in self._actions if getattr(a, "choices", None) for c in a.choices]
            close = difflib.get_close_matches(word, choices, n=1)
            if close:
                hint = f" (did you mean '{close[0]}'?)"
        print(f"error: {message}{hint}", file=sys.stderr)
        raise SystemExit(2)


def emit(payload: Any, as_json: bool, text: str | None = None) -> None:
    """Print ``payload`` as JSON, or ``text`` (default: JSON pretty-printed)."""
    if as_json:
        print(json.dumps(payload, default=str))
    else:
        print(text if text is not None else json.dumps(payload, indent=2, default=str))


def emit_check(out: dict[str, Any], as_json: bool, describe: Callable[[dict[str, Any]], str]) -> int:
    """Report a connection test (``out["ok"]``, else ``out["error"]``): the JSON or ``describe(out)``; return the exit code."""
    if out["ok"]:
        emit(out, as_json, describe(out))
        return 0
    if as_json:
        emit(out, True)
    print(f"error: {out['error']}", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    """Return the CLI parser with every command module registered."""
    parser = _Parser(prog="python -m core", description="AI trading platform command line")
    parser.add_argument("--config", help="YAML config file (default: config.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    package = importlib.import_module(__name__)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


class _StderrNotes(logging.Handler):
    """Print a logger's warnings as ``note:`` lines on (the current) stderr, masked: e.g. which new database file was created."""

    def emit(self, record: logging.LogRecord) -> None:
        from core.log import MASK_FILTER

        print(f"note: {MASK_FILTER.mask(record.getMessage())}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    store_log = logging.getLogger("core.store")
    if not any(isinstance(h, _StderrNotes) for h in store_log.handlers):
        store_log.addHandler(_StderrNotes(logging.WARNING))
    from core.config import ConfigError
    from core.data.providers import DataError
    from core.data.validate import DataValidationError
    from core.store import StoreError

    try:
        if args.config:
            from core.config import load_settings
            from core.services import Context, set_context

            set_context(Context.create(load_settings(args.config)))
        return int(args.func(args) or 0)
    except (CliError, ConfigError, DataError, DataValidationError, StoreError, ValueError, KeyError) as exc:
        _print_error(str(exc) or type(exc).__name__)
        return 2
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not a user error: still one line, the traceback on request
        if os.environ.get(DEBUG_ENV):
            raise
        _print_error(f"unexpected {type(exc).__name__}: {exc} (a bug: please report it; set {DEBUG_ENV}=1 for the traceback)")
        return 1


def _print_error(text: str) -> None:
    """Print ``text`` as one ``error:`` line on stderr, with every known secret masked."""
    from core.log import MASK_FILTER

    line = " ".join(part.strip() for part in text.strip().splitlines())
    print(f"error: {MASK_FILTER.mask(line)}", file=sys.stderr)
