"""The user's own strategies: ``NAME.py`` files in the strategies folder, found by name.

The folder is the config key ``strategies.dir`` (default ``strategies/`` at the project
root, environment ``APP__STRATEGIES__DIR``); :func:`configure` points this module at it
(the service context does so when it is created). A file may define

* ``signals(bars, **params) -> pandas.Series`` of target exposures in [-1, 1], with
  optional ``PARAMS`` (defaults; otherwise the keyword defaults of ``signals``),
  ``WARMUP`` (bars of history one value needs, or ``warmup(**params)``) and ``STOP``
  (a protective stop, ``{"stop_pct": 0.05}`` or ``{"trail_pct": 0.05}``): it becomes a
  strategy named after the file;
* or one or more subclasses of the engine's ``Strategy``, each found by its ``name``
  (the file's name when it keeps the default).

Files whose name starts with ``_`` are skipped. A file that fails to import or breaks
the contract is listed with a one-line message naming the file and line; it never
raises out of :func:`discover`, so a broken file cannot take down a page or the loop.
Modules are re-imported only when their file changes.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from core.strategies.vectorised import SignalStrategy, Strategy, StrategyError, check_stop, default_params, signal_strategy

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "strategies"
_PACKAGE = "user_strategies"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass
class UserFile:
    """One file of the strategies folder: the strategies it defines, or why it has none."""

    path: Path
    strategies: dict[str, type[Strategy]] = field(default_factory=dict)
    error: str | None = None
    stamp: tuple[int, int] = (0, 0)


_state: dict[str, Any] = {"dir": None}
_cache: dict[Path, UserFile] = {}


def configure(directory: str | Path | None) -> None:
    """Use ``directory`` as the strategies folder (None: the default ``strategies/``)."""
    _state["dir"] = Path(directory) if directory is not None else None


def strategies_dir() -> Path:
    """Return the strategies folder in use."""
    return _state["dir"] or DEFAULT_DIR


def discover(directory: str | Path | None = None) -> list[UserFile]:
    """Load every ``*.py`` file of the strategies folder (cached per file until it changes)."""
    folder = Path(directory) if directory is not None else strategies_dir()
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _cache.get(path)
        if cached is None or cached.stamp != stamp:
            cached = _cache[path] = load_file(path)
            cached.stamp = stamp
        out.append(cached)
    return out


def user_strategies(directory: str | Path | None = None) -> tuple[dict[str, type[Strategy]], list[UserFile]]:
    """Return the user's strategies by name, and the files that failed (with their messages)."""
    found: dict[str, type[Strategy]] = {}
    broken = []
    for entry in discover(directory):
        if entry.error:
            broken.append(entry)
        for name, cls in entry.strategies.items():
            if name in found:
                broken.append(UserFile(entry.path, error=f"{entry.path}:1: strategy name '{name}' is defined twice; rename one"))
                continue
            found[name] = cls
    return found, broken


def _line_of(path: Path, name: str) -> int:
    try:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(rf"^\s*(def\s+{name}\b|{name}\s*[:=])", line):
                return i
    except OSError:
        pass
    return 1


def _import(path: Path) -> ModuleType:
    module_name = f"{_PACKAGE}.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def load_file(path: Path) -> UserFile:
    """Import one strategy file and return what it defines, or the one-line reason it defines nothing usable."""
    entry = UserFile(path)
    name = path.stem
    if not _NAME.match(name):
        entry.error = f"{path}:1: a strategy file name must be a Python identifier (letters, digits, _), not '{name}'"
        return entry
    try:
        module = _import(path)
    except SyntaxError as exc:
        entry.error = f"{exc.filename or path}:{exc.lineno or 1}: syntax error: {exc.msg}"
        return entry
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else 1
        entry.error = f"{path}:{line}: importing the file raised {type(exc).__name__}: {exc}"
        return entry
    try:
        entry.strategies = _strategies_of(module, path)
    except StrategyError as exc:
        entry.error = str(exc)
    return entry


def _strategies_of(module: ModuleType, path: Path) -> dict[str, type[Strategy]]:
    classes = {obj for obj in vars(module).values() if isinstance(obj, type) and issubclass(obj, Strategy)
               and obj.__module__ == module.__name__ and obj is not Strategy and not issubclass(obj, SignalStrategy)}
    fn = getattr(module, "signals", None)
    if fn is None and not classes:
        raise StrategyError(f"{path}:1: defines neither signals(bars, **params) nor a Strategy subclass; "
                            f"start from the template: python -m core strategy new {path.stem}")
    out: dict[str, type[Strategy]] = {}
    for cls in sorted(classes, key=lambda c: c.__name__):
        name = cls.name if cls.name != Strategy.name else path.stem
        if not isinstance(getattr(cls, "defaults", None), dict):
            raise StrategyError(f"{path}:{_line_of(path, 'class ' + cls.__name__)}: {cls.__name__}.defaults must be a dict of parameter defaults")
        if name != cls.name:
            cls = type(cls.__name__, (cls,), {"name": name, "__module__": module.__name__})
        cls.source = str(path)  # type: ignore[attr-defined]
        out[name] = cls
    if fn is not None:
        out[path.stem] = _signals_class(module, fn, path)
    return out


def _signals_class(module: ModuleType, fn: Any, path: Path) -> type[Strategy]:
    at = f"{path}:{_line_of(path, 'signals')}"
    if not callable(fn):
        raise StrategyError(f"{at}: signals must be a function signals(bars, **params), not {type(fn).__name__}")
    params = getattr(module, "PARAMS", None)
    if params is None:
        params = default_params(fn)
    elif not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise StrategyError(f"{path}:{_line_of(path, 'PARAMS')}: PARAMS must be a dict of name -> default value, e.g. {{'window': 20}}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        ps = list(sig.parameters.values())
        if not ps or ps[0].kind not in (ps[0].POSITIONAL_ONLY, ps[0].POSITIONAL_OR_KEYWORD):
            raise StrategyError(f"{at}: signals must take the bars as its first argument: def signals(bars, **params)")
        takes_any = any(p.kind is p.VAR_KEYWORD for p in ps)
        names = {p.name for p in ps[1:]}
        missing = [k for k in params if k not in names]
        if missing and not takes_any:
            raise StrategyError(f"{path}:{_line_of(path, 'PARAMS')}: PARAMS has {', '.join(missing)} but signals() takes no such argument; "
                                "add it to the signature or to **params")
    warmup = getattr(module, "WARMUP", None)
    if warmup is None:
        warmup = getattr(module, "warmup", None)
    if warmup is not None and not callable(warmup) and (not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 1):
        raise StrategyError(f"{path}:{_line_of(path, 'WARMUP')}: WARMUP must be a positive whole number of bars, not {warmup!r}")
    stop = getattr(module, "STOP", None)
    try:
        check_stop(stop)
    except StrategyError as exc:
        raise StrategyError(f"{path}:{_line_of(path, 'STOP')}: {exc}") from None
    return signal_strategy(fn, name=path.stem, params=params, warmup=warmup, stop=stop, source=str(path), doc=module.__doc__)
