"""A tick of the paper loop writes its bar in one bulk transaction, and a crash inside it leaves no trace.

buy_and_hold on AAPL and MSFT, one bar a tick, no protective stops: the first traded bar
(T1) sends two market buys, the next bar (T2) fills both at its open. Those counts are
what the strategy and the paper matching rules say, not what an earlier run printed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from core import services
from core.config import load_settings
from core.execution import repo as order_repo
from core.portfolio import repo as portfolio_repo
from core.services import Context
from core.trading import toggle

SYMBOLS = ["AAPL", "MSFT"]
WARMUP = 100
_WRITE = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
# Everything but the lease (the guard a tick takes, in its own transaction, before it runs).
TABLES = ["orders", "order_events", "fills", "trades", "positions", "accounts", "equity_snapshots", "signals", "settings", "audit_log"]


def _ctx(tmp_path: Any, db_url: str) -> Context:
    settings = load_settings(
        env_file=str(tmp_path / "none.env"), store={"database_url": db_url}, log={"dir": str(tmp_path / "logs")},
        scheduler={"embedded": False}, risk={"stop": {"enabled": False}},
        trading={"strategy": "buy_and_hold", "symbols": SYMBOLS, "warmup_bars": WARMUP, "bars_per_tick": 1, "commission": 0.0005},
    )  # fmt: skip
    ctx = Context.create(settings)
    toggle.set_enabled(ctx.store, True)
    return ctx


@contextmanager
def _transactions(engine: sa.engine.Engine) -> Iterator[list[dict[str, Any]]]:
    """Yield the list of committed write transactions on ``engine``: the tables each wrote and its write statements."""
    open_: dict[int, dict[str, Any]] = {}
    done: list[dict[str, Any]] = []

    def statement(conn: Any, cursor: Any, sql: str, params: Any, context: Any, executemany: bool) -> None:
        match = _WRITE.match(sql)
        if match:  # rows written: the driver's count (an executemany's rows summed on SQLite, one multi-row VALUES on PostgreSQL)
            tx = open_.setdefault(id(conn.connection.dbapi_connection), {"tables": set(), "statements": []})
            tx["tables"].add(match.group(1))
            tx["statements"].append((match.group(1), sql.split(None, 1)[0].upper(), cursor.rowcount))

    def commit(conn: Any) -> None:
        tx = open_.pop(id(conn.connection.dbapi_connection), None)
        if tx is not None:
            done.append(tx)

    def rollback(conn: Any) -> None:
        open_.pop(id(conn.connection.dbapi_connection), None)

    hooks = [("after_cursor_execute", statement), ("commit", commit), ("rollback", rollback)]
    for name, fn in hooks:
        sa.event.listen(engine, name, fn)
    try:
        yield done
    finally:
        for name, fn in hooks:
            sa.event.remove(engine, name, fn)


def _dump(ctx: Context) -> dict[str, list[tuple]]:
    """Every row of every table a tick writes (the lease aside), in a stable order."""
    with ctx.store.engine.connect() as conn:
        return {t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}"))), key=repr) for t in TABLES}


def test_a_tick_writes_its_bar_in_one_bulk_transaction(tmp_path, db_url):
    ctx = _ctx(tmp_path, db_url)
    loop = services.trading_loop(ctx)
    loop.tick()  # T1: two market buys
    t1, t2 = loop.feed.calendar[WARMUP], loop.feed.calendar[WARMUP + 1]
    assert loop.last_processed == t1
    assert [(o.symbol, o.side.value, o.status.value) for o in loop.manager.orders()] == [("AAPL", "buy", "accepted"), ("MSFT", "buy", "accepted")]

    with _transactions(ctx.store.engine) as transactions:
        report = loop.tick()  # T2: both fill at T2's open

    assert report.bars == [t2.isoformat()] and (report.orders, report.fills) == (0, 2)
    # Two committed write transactions: the lease renewal, then everything the tick wrote.
    assert [tx["tables"] for tx in transactions][:1] == [{"leases"}]
    assert len(transactions) == 2
    tick = transactions[1]
    assert {"orders", "order_events", "fills", "equity_snapshots", "positions", "accounts", "settings"} <= tick["tables"]
    # Bulk: one statement per table and kind, the two fills (and the two filled orders, their two events) in one statement each.
    writes = [(table, kind) for table, kind, _ in tick["statements"]]
    assert len(writes) == len(set(writes)), writes
    rows = {(table, kind): n for table, kind, n in tick["statements"]}
    assert rows[("fills", "INSERT")] == 2 and rows[("orders", "INSERT")] == 2 and rows[("order_events", "INSERT")] == 2
    assert rows[("equity_snapshots", "INSERT")] == 1 and rows[("positions", "INSERT")] == 2

    # What it wrote: two fills at T2's open (no slippage by default), two positions, one equity point at T2.
    opens = {s: ctx.sample.bars(s).loc[t2, "open"] for s in SYMBOLS}
    fills = portfolio_repo.load_fills(ctx.store, "paper")
    assert sorted((f.symbol, f.ts, f.price) for f in fills) == [(s, t2.to_pydatetime(), pytest.approx(opens[s], rel=1e-12)) for s in SYMBOLS]
    assert [o.status.value for o in order_repo.load_orders(ctx.store, "paper")] == ["filled", "filled"]
    assert [p.ts for p in portfolio_repo.load_equity(ctx.store, "paper")] == [t1.to_pydatetime(), t2.to_pydatetime()]
    assert sorted(portfolio_repo.load_state(ctx.store, "paper").positions) == SYMBOLS
    assert ctx.store.get_setting("loop.paper.last_bar") == t2.isoformat()


def test_a_crash_inside_the_ticks_transaction_leaves_no_partial_bar_and_the_next_tick_records_it_once(tmp_path, sqlite_url, monkeypatch):
    straight = _ctx(tmp_path / "a", f"sqlite:///{tmp_path}/a.db")
    for _ in range(2):
        services.run_tick(straight)
    ctx = _ctx(tmp_path / "b", sqlite_url)
    services.run_tick(ctx)  # T1: two market buys stored
    t2 = ctx.extras["trading_loop"].feed.calendar[WARMUP + 1]
    before = _dump(ctx)

    def power_cut(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut")

    # The positions are replaced after the bar's orders, events, fills and equity point were written (queued).
    monkeypatch.setattr(ctx.store, "delete_where", power_cut)
    with pytest.raises(RuntimeError, match="power cut"):
        services.run_tick(ctx)
    assert "trading_loop" not in ctx.extras, "a failed tick is dropped from memory"
    assert _dump(ctx) == before, "nothing of T2 (nor the tick's status) was stored"

    monkeypatch.undo()
    report = services.run_tick(ctx)  # a new loop: replays T1 from the store, then records T2
    assert report.bars == [t2.isoformat()] and report.fills == 2
    assert ctx.store.audit_log(kind="recovery_mismatch") == []
    fills = [(f.client_order_id, f.symbol, f.quantity, f.price, f.fee, f.ts) for f in portfolio_repo.load_fills(ctx.store, "paper")]
    assert len(fills) == 2 and {f[5] for f in fills} == {t2.to_pydatetime()}
    assert fills == [(f.client_order_id, f.symbol, f.quantity, f.price, f.fee, f.ts) for f in portfolio_repo.load_fills(straight.store, "paper")]
    curve = portfolio_repo.load_equity(ctx.store, "paper")
    assert [(p.ts, p.equity) for p in curve] == [(p.ts, p.equity) for p in portfolio_repo.load_equity(straight.store, "paper")]
    orders = order_repo.load_orders(ctx.store, "paper")
    assert [(o.client_order_id, o.status.value, o.filled_quantity) for o in orders] == [
        (o.client_order_id, o.status.value, o.filled_quantity) for o in order_repo.load_orders(straight.store, "paper")]
    assert len(order_repo.load_events(ctx.store)) == len(order_repo.load_events(straight.store))
