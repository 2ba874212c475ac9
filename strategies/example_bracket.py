"""Example: an event-driven breakout with a bracket (take-profit and stop-loss as one OCO pair).

For orders of any type, state or several symbols, subclass the engine's ``Strategy``: it
is found by its ``name``. ``on_bar`` runs at every bar's close and sees only the bars up to
that bar (``ctx.history(symbol)``), so it cannot look ahead. Every order goes through the
risk engine, in backtests, paper and live trading alike.
"""

from typing import ClassVar

from core.domain import OrderType
from core.engine import Strategy


class BreakoutBracket(Strategy):
    """Buy a close above the previous ``window``-bar high; exit at +``take`` or -``stop`` (whichever comes first)."""

    name = "example_bracket"
    defaults: ClassVar[dict] = {"window": 20, "take": 0.10, "stop": 0.05, "fraction": 0.5}  # the types are the parameter types

    def min_bars(self) -> int:
        return int(self.params["window"]) + 2

    def on_bar(self, ctx):
        p = self.params
        for symbol in ctx.symbols:
            close = ctx.history(symbol).close  # numpy array of the closes up to this bar
            if len(close) <= p["window"] or ctx.position(symbol) != 0 or ctx.open_orders(symbol):
                continue  # not enough history, already in a trade, or its exits are still resting
            if close[-1] > close[-p["window"] - 1 : -1].max():
                qty = int(p["fraction"] * ctx.equity() // close[-1])
                if qty < 1:
                    continue
                entry = ctx.buy(symbol, qty)  # market: fills at the next bar's open
                group = f"{entry.client_order_id}-exits"
                ctx.sell(symbol, qty, order_type=OrderType.LIMIT, limit_price=close[-1] * (1 + p["take"]),
                         parent_id=entry.client_order_id, oco_group=group)
                ctx.sell(symbol, qty, order_type=OrderType.STOP, stop_price=close[-1] * (1 - p["stop"]),
                         parent_id=entry.client_order_id, oco_group=group)
