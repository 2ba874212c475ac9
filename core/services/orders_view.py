"""Orders and fills as the Trading page and the Dashboard show them: one row each, prices in words, newest first."""

from __future__ import annotations

from typing import Any

from core.services.context import Context, get_context


def _price(value: Any) -> str:
    return f"{float(value):,.2f}"


def ticket_prices(spec: dict[str, Any]) -> str:
    """Return every price of a ticket and its legs in words, e.g. ``"limit 101.50 · take-profit 105.00 · stop-loss 95.00"``."""
    parts = []
    for key, name in (("limit_price", "limit"), ("stop_price", "stop"), ("trail_amount", "trail"), ("take_profit", "take-profit"),
                      ("stop_loss", "stop-loss"), ("oco_limit_price", "second leg limit"), ("oco_stop_price", "second leg stop")):
        if spec.get(key):
            parts.append(f"{name} {_price(spec[key])}")
    if spec.get("trail_percent"):
        parts.append(f"trail {float(spec['trail_percent']):g} %")
    return " · ".join(parts) or "market"


def open_order_rows(ctx: Context | None = None) -> list[dict[str, Any]]:
    """Return the queued tickets and the open paper orders, one row each with its prices (OCO and bracket legs included).

    Keys: ``id``, ``state``, ``symbol``, ``side``, ``type``, ``class``, ``quantity``, ``prices``.
    Queued tickets come first (oldest first), then open orders; a pending cancel is named in ``state``.
    """
    from core.services.execution import list_orders
    from core.services.manual import pending_cancels, pending_manual_orders

    ctx = ctx or get_context()
    cancels = {c["client_order_id"] for c in pending_cancels(ctx)}
    rows = []
    for q in pending_manual_orders(ctx):
        spec = q["spec"]
        rows.append({"id": q["client_order_id"], "state": "queued for the next bar", "symbol": spec["symbol"], "side": spec["side"],
                     "type": spec["order_type"].replace("_", " "), "class": spec.get("order_class", "simple"), "quantity": float(spec["quantity"]),
                     "prices": ticket_prices(spec)})
    for o in list_orders(open_only=True, ctx=ctx):
        klass = "oco leg" if o.oco_group else ("bracket leg" if o.parent_id else "simple")
        spec = {"limit_price": o.limit_price, "stop_price": o.stop_price, "trail_amount": o.trail_amount, "trail_percent": o.trail_percent}
        state = str(o.status).replace("_", " ") + (" · cancel requested" if o.client_order_id in cancels else "")
        rows.append({"id": o.client_order_id, "state": state, "symbol": o.symbol, "side": str(o.side), "type": str(o.order_type).replace("_", " "),
                     "class": klass, "quantity": float(o.remaining), "prices": ticket_prices(spec)})
    return rows


def fill_rows(account: str | None = None, limit: int = 200, ctx: Context | None = None) -> list[dict[str, Any]]:
    """Return the account's latest ``limit`` fills, newest first: time, symbol, side in words, quantity, price, fee, order."""
    from core.portfolio import repo as portfolio_repo

    ctx = ctx or get_context()
    fills = portfolio_repo.load_fills(ctx.store, account or ctx.settings.trading.account)
    out = []
    for f in sorted(fills, key=lambda f: f.ts, reverse=True)[:limit]:
        out.append({"time": f.ts, "symbol": f.symbol, "side": "bought" if str(f.side) == "buy" else "sold", "quantity": float(f.quantity),
                    "price": float(f.price), "fee": float(f.fee), "order": f.client_order_id})
    return out


def trade_rows(trades: Any) -> Any:
    """Return closed trades for display: newest first, the side in words (long/short), the quantity unsigned, duration in days.

    Accepts the trades frame of a backtest (signed ``quantity``) or of the paper book (``side`` already in words).
    """
    import pandas as pd

    frame = pd.DataFrame(trades).copy()
    if frame.empty:
        return frame
    if "side" not in frame:
        frame.insert(1, "side", ["long" if q > 0 else "short" for q in frame["quantity"]])
    frame["quantity"] = frame["quantity"].abs()
    if "duration" in frame:
        frame["days"] = frame.pop("duration").dt.days
    frame = frame.drop(columns=[c for c in ("mae", "mfe") if c in frame])
    return frame.sort_values("exit_ts", ascending=False, kind="stable").reset_index(drop=True)
