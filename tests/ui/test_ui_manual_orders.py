"""Manual tickets: risk preview against the stored paper account and the durable queue for the trading loop."""

import math
from datetime import timedelta

import pytest

from core import services
from core.domain import OrderType, Side


def _close(symbol: str) -> float:
    return float(services.load_bars(symbol)["close"].iloc[-1])


def test_order_far_above_the_position_limit_is_shrunk_to_the_cap(ctx):
    # fresh account: 100,000 equity, max_position_pct 5 % -> at most 5,000 of AAPL at the last close, whole shares
    price = _close("AAPL")
    decision = services.preview_order({"symbol": "AAPL", "side": "buy", "quantity": 1000})
    assert str(decision.action) == "shrink"
    assert decision.quantity == math.floor(0.05 * 100_000 / price)
    assert "position capped at 5.00% of equity" in decision.reason
    # a short is capped the same way
    short = services.preview_order({"symbol": "MSFT", "side": "sell", "quantity": 10_000})
    assert short.quantity == math.floor(5_000 / _close("MSFT"))
    assert len(ctx.store.audit_log(kind="risk")) == 2  # every preview is audited


def test_limit_price_sets_the_notional_and_small_orders_pass(ctx):
    # 80 shares at a 50.00 limit = 4,000 < 5,000: approved as is
    decision = services.preview_order({"symbol": "AAPL", "side": "buy", "quantity": 80, "order_type": "limit", "limit_price": 50})
    assert str(decision.action) == "approve" and decision.quantity == 80
    # 120 at 50.00 = 6,000 > 5,000: shrunk to 5,000 / 50 = 100
    decision = services.preview_order({"symbol": "AAPL", "side": "buy", "quantity": 120, "order_type": "limit", "limit_price": 50})
    assert decision.quantity == 100


def test_kill_switch_vetoes_a_new_position_and_nothing_is_queued(ctx):
    services.engage_kill_switch(services.paper_state(), reason="test", actor="test")
    out = services.queue_manual_order({"symbol": "AAPL", "side": "buy", "quantity": 5})
    assert out["queued"] is False and out["action"] == "veto" and out["quantity"] == 0
    assert "kill switch engaged" in out["reason"]
    assert services.pending_manual_orders() == []
    services.rearm_kill_switch(actor="test")
    assert services.queue_manual_order({"symbol": "AAPL", "side": "buy", "quantity": 5})["queued"] is True


def test_queue_is_idempotent_per_ticket_and_second_and_holds_the_allowed_quantity(ctx):
    spec = {"symbol": "AAPL", "side": "buy", "quantity": 1000, "order_class": "bracket", "take_profit": 80, "stop_loss": 40}
    first = services.queue_manual_order(spec)
    again = services.queue_manual_order(dict(spec))  # a double click: same ticket, same second
    assert first["client_order_id"] == again["client_order_id"] == "manual-20240102000000-" + first["client_order_id"][-8:]
    queue = services.pending_manual_orders()
    assert len(queue) == 1
    assert queue[0]["spec"]["quantity"] == math.floor(5_000 / _close("AAPL")) and queue[0]["requested_quantity"] == 1000
    ctx.clock.advance(timedelta(seconds=1))
    assert services.queue_manual_order(spec)["client_order_id"] != first["client_order_id"]
    assert len(services.pending_manual_orders()) == 2


def test_cancel_removes_a_queued_ticket_and_rejects_unknown_ids(ctx):
    out = services.queue_manual_order({"symbol": "IBM", "side": "buy", "quantity": 1})
    assert services.request_cancel(out["client_order_id"]) == {"client_order_id": out["client_order_id"], "status": "removed"}
    assert services.pending_manual_orders() == []
    with pytest.raises(ValueError, match="not an open paper order"):
        services.request_cancel("nope")


def test_ticket_validation_and_order_legs():
    with pytest.raises(ValueError, match="needs limit price"):
        services.ticket_orders({"symbol": "AAPL", "side": "buy", "quantity": 1, "order_type": "limit"})
    with pytest.raises(ValueError, match="quantity"):
        services.ticket_orders({"symbol": "AAPL", "side": "buy", "quantity": 0})
    with pytest.raises(ValueError, match="bracket needs"):
        services.ticket_orders({"symbol": "AAPL", "side": "buy", "quantity": 1, "order_class": "bracket"})
    entry, tp, sl = services.ticket_orders({"symbol": "aapl", "side": "buy", "quantity": 3, "order_class": "bracket", "take_profit": 60, "stop_loss": 50},
                                           cid="x")
    assert entry.symbol == "AAPL" and tp.side is Side.SELL and sl.side is Side.SELL
    assert (tp.order_type, tp.limit_price, sl.order_type, sl.stop_price) == (OrderType.LIMIT, 60.0, OrderType.STOP, 50.0)
    assert tp.parent_id == sl.parent_id == "x" and tp.oco_group == sl.oco_group
    a, b = services.ticket_orders({"symbol": "AAPL", "side": "sell", "quantity": 2, "order_type": "stop", "stop_price": 40, "order_class": "oco",
                                   "oco_limit_price": 70}, cid="y")
    assert a.oco_group == b.oco_group == "oco-y" and (b.order_type, b.limit_price) == (OrderType.LIMIT, 70.0)


def test_unknown_symbol_is_vetoed_with_a_clear_reason(ctx):
    decision = services.preview_order({"symbol": "ZZZZ", "side": "buy", "quantity": 1})
    assert str(decision.action) == "veto" and "only bundled symbols" in decision.reason
