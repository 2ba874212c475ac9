"""``python -m core predict --symbol AAPL [--json]``: latest p_up and regime."""

from __future__ import annotations

import argparse

from core.cli import _args, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``predict`` command."""
    p = sub.add_parser("predict", help="latest probability of an up-move and the regime of a symbol")
    p.add_argument("--symbol", required=True, help="symbol, e.g. AAPL")
    p.add_argument("--model", help="model id (default: the latest)")
    p.add_argument("--timeframe", type=_args.timeframe, default="1d")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from core import services
    from core.cli import CliError
    from core.models.registry import ModelNotFound

    try:
        res = services.predict(args.symbol, model_id=args.model, timeframe=args.timeframe)
    except ModelNotFound as exc:
        raise CliError(str(exc)) from None
    text = f"{res['symbol']} at {res['ts']}: p_up {res['p_up']:.4f} over {res['horizon']} bars, regime {res['regime']}, model {res['model_id']}"
    emit(res, args.json, text)
    return 0
