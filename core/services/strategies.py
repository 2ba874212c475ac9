"""Strategy services: list every strategy (built-in, library, the user's), check one for look-ahead, write a template.

The look-ahead check (:mod:`core.strategies.lookahead`) runs on real bundled bars; its
result decides whether a strategy may be traded: :func:`require_checked` refuses paper
or live trading with a signals strategy that fails it, and backtests of such a strategy
carry a red warning.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from core.data.providers import DataError
from core.services.context import Context, get_context
from core.services.data import load_bars
from core.strategies import user as user_files
from core.strategies.catalog import describe
from core.strategies.lookahead import Problem, raised_at, where
from core.strategies.registry import catalog
from core.strategies.vectorised import SignalStrategy, Strategy, StrategyError

EVENT_NOTE = "event-driven: the engine shows it only the bars up to now, so it cannot look ahead"
TEMPLATE = '''"""{name}: describe your idea here (this text is shown in the strategy list).

A vectorised strategy. ``signals`` receives the bars of one symbol (a DataFrame with
columns open, high, low, close, volume and a UTC time index) and returns the target
exposure for every bar, a number in [-1, 1]: +1 is all of what the risk engine allows,
long; -1 the same short; 0 flat; 0.5 half long. The value at a bar is decided at its
close and filled at the next bar's open. NaN means "no decision" (keep what you hold).

To pass the look-ahead check (python -m core strategy check {name}):
* use only the current and past bars: rolling(...), ewm(...), shift(1) are fine;
  shift(-1), bfill() or a mean/std over the whole frame look into the future;
* set WARMUP to the bars of history one value needs: the paper loop evaluates
  signals() on that many bars, and the check proves this gives the backtest's values.
"""

import pandas as pd

# Defaults of the parameters (their types are the parameter types); the Backtest page shows them.
PARAMS = {{"fast": 20, "slow": 50}}

# Bars of history one value needs (at least the longest window).
WARMUP = 60

# Optional protective stop: {{"stop_pct": 0.05}} (5 % from the entry) or {{"trail_pct": 0.05}}.
# STOP = {{"stop_pct": 0.05}}


def signals(bars: pd.DataFrame, fast: int = 20, slow: int = 50) -> pd.Series:
    """Be long while the fast moving average of the close is above the slow one, else flat."""
    close = bars["close"]
    trend = close.rolling(fast).mean() - close.rolling(slow).mean()
    return (trend > 0).astype(float)
'''


def registry(ctx: Context | None = None) -> tuple[dict[str, type[Strategy]], dict[str, str], list[str]]:
    """Return every strategy by name, each name's origin (built-in, library, user) and the user files' errors."""
    ctx or get_context()  # the context points core.strategies.user at the configured folder
    return catalog()


def strategy_catalog(ctx: Context | None = None, *, checks: bool = False, symbol: str | None = None) -> dict[str, Any]:
    """Return ``{"strategies": [...], "errors": [...]}``: every strategy described, optionally with its check status."""
    known, origin, errors = registry(ctx)
    rows = []
    for name in sorted(known):
        row = describe(known[name], origin[name])
        if checks:
            row["check"] = check_strategy(name, symbol=symbol, ctx=ctx)
        rows.append(row)
    return {"strategies": rows, "errors": errors, "dir": str(user_files.strategies_dir())}


def _instance(strategy: Any, params: Mapping[str, Any] | None, ctx: Context | None = None) -> Strategy:
    from core.services.strategy import build_strategy
    from core.strategies.catalog import as_strategy

    ctx = ctx or get_context()
    return as_strategy(strategy, dict(params or {}), lambda name, **kw: build_strategy(name, kw, ctx))


def check_strategy(strategy: Any, *, symbol: str | None = None, params: Mapping[str, Any] | None = None, timeframe: str = "1d",
                   ctx: Context | None = None) -> dict[str, Any]:
    """Run the look-ahead check of ``strategy`` (a name, class, instance or signals function) on a bundled symbol.

    Returns ``{"name", "kind", "symbol", "ok", "lookahead", "problems": [...], ...}``. A signals
    strategy gets the truncation and recursive warm-up tests; an event-driven one sees only
    bars up to now by construction, and a user's event-driven strategy is run once over the
    last 300 bars so that a crash is reported with its file and line. Results are cached
    per strategy, parameters, symbol and file version.
    """
    ctx = ctx or get_context()
    symbol = (symbol or ctx.settings.data.default_symbol).upper()
    cls = registry(ctx)[0].get(strategy) if isinstance(strategy, str) else None
    if cls is not None and not issubclass(cls, SignalStrategy) and getattr(cls, "source", None) is None:
        return {"name": strategy, "kind": "event", "symbol": symbol, "ok": True, "lookahead": False, "problems": [], "note": EVENT_NOTE}
    try:
        inst = _instance(strategy, params, ctx)
    except (StrategyError, ValueError) as exc:
        name = strategy if isinstance(strategy, str) else getattr(strategy, "__name__", type(strategy).__name__)
        return {"name": name, "kind": "?", "symbol": symbol, "ok": False, "lookahead": False, "problems": [vars(Problem("contract", str(exc)))]}
    source = getattr(type(inst), "source", None)
    stamp = Path(source).stat().st_mtime_ns if source and Path(source).exists() else None
    key = json.dumps([inst.name, inst.get_params(), symbol, timeframe, stamp, id(getattr(type(inst), "signals_fn", None))], default=str)
    cache = ctx.extras.setdefault("strategy_checks", {})
    if key in cache:
        return cache[key]
    bars = load_bars(symbol, timeframe=timeframe, ctx=ctx)
    if isinstance(inst, SignalStrategy):
        out = {"kind": "signals", **inst.check(bars).to_dict()}
    else:
        out = {"name": inst.name, "kind": "event", "ok": True, "lookahead": False, "problems": [], "bars": len(bars),
               "note": EVENT_NOTE}
        if source:
            out.update(_smoke(inst, bars.tail(300), symbol))
    out["symbol"] = symbol
    cache[key] = out
    return out


def _smoke(inst: Strategy, bars: pd.DataFrame, symbol: str) -> dict[str, Any]:
    from core.backtest.run import run_backtest
    from core.engine import UNLIMITED

    try:
        run_backtest(bars, inst, symbol=symbol, baseline=False, path="event", risk=UNLIMITED)
    except Exception as exc:
        at = raised_at(exc, type(inst).on_bar)
        return {"ok": False, "problems": [vars(Problem("error", f"a backtest over the last {len(bars)} bars raised {type(exc).__name__}: {exc} (at {at})",
                                                    where=where(type(inst).on_bar)))]}
    return {}


def require_checked(strategy: str, params: Mapping[str, Any] | None, symbols: Sequence[str], ctx: Context | None = None,
                    timeframe: str = "1d") -> None:
    """Raise ``ValueError`` when ``strategy`` cannot be traded: it fails to load, or fails the look-ahead check on one of ``symbols``.

    Each symbol is checked on its bundled ``timeframe`` bars; a symbol without bundled bars
    (a venue's ``BTC/USDT``) is checked on the default symbol's daily bars instead: the check
    tests the function, which must be causal on any data.
    """
    ctx = ctx or get_context()
    for symbol in symbols or [None]:
        try:
            result = check_strategy(strategy, symbol=symbol, params=params, timeframe=timeframe, ctx=ctx)
        except DataError:
            result = check_strategy(strategy, symbol=None, params=params, ctx=ctx)
        if not result["ok"]:
            problem = result["problems"][0] if result["problems"] else {"kind": "error", "message": "failed"}
            # A file that does not load or breaks the contract says so itself (file and line); a look-ahead names the bar.
            why = f"it fails the look-ahead check on {result.get('symbol')}: " if problem["kind"] in ("lookahead", "warmup") else ""
            raise ValueError(f"refusing to trade strategy '{strategy}': {why}{problem['message']} "
                             f"(see: python -m core strategy check {strategy} --symbol {result.get('symbol')})")


def new_strategy(name: str, *, force: bool = False, ctx: Context | None = None) -> Path:
    """Write a commented template ``NAME.py`` into the strategies folder and return its path."""
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise ValueError(f"a strategy name must be a Python identifier not starting with _ (letters, digits, _), not {name!r}")
    known, origin, _ = registry(ctx)
    if name in known and origin[name] != "user":
        raise ValueError(f"'{name}' is the name of a {origin[name]} strategy; pick another name")
    folder = user_files.strategies_dir()
    path = folder / f"{name}.py"
    if path.exists() and not force:
        raise ValueError(f"{path} already exists; edit it, or pass --force to overwrite it with the template")
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE.format(name=name), encoding="utf-8")
    return path


def strategy_for_backtest(strategy: Any, params: Mapping[str, Any] | None, frames: Mapping[str, pd.DataFrame],
                          ctx: Context | None = None) -> tuple[Strategy, dict[str, Any] | None]:
    """Return the strategy instance to backtest on ``frames`` and, for a signals strategy, its look-ahead check on them.

    A signals strategy that passes is evaluated once on each whole frame (the fast way);
    one that fails runs bar by bar on past bars only (see :mod:`core.strategies.vectorised`).
    The ensemble trades only a model trained before the first bar plus an embargo
    (:func:`core.services.strategy.pin_for_backtest`).
    """
    if strategy == "ensemble":
        from core.services.strategy import pin_for_backtest

        params = pin_for_backtest("ensemble", dict(params or {}), dict(frames), ctx)
    inst = _instance(strategy, params, ctx)
    if not isinstance(inst, SignalStrategy):
        return inst, None
    return inst, {"kind": "signals", **inst.prepare(frames).to_dict()}


def mark_checked(report: dict[str, Any], check: dict[str, Any] | None) -> None:
    """Record ``check`` in a backtest ``report``; a failed check adds a warning saying what it means."""
    if check is None:
        return
    report["check"] = check
    if not check["ok"]:
        first = check["problems"][0]["message"] if check["problems"] else "failed"
        what = "LOOKS AHEAD" if check["lookahead"] else "fails the look-ahead check"
        report.setdefault("warnings", []).insert(0, f"{what}: {first}. This backtest evaluated it bar by bar on past bars only; "
                                                    "it cannot be paper- or live-traded until the check passes")
