"""The signal processor's dedupe, cooldown and conflict rules acting in the paper loop (ensemble), shown on the Dashboard."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from core import services
from core.config import load_settings
from core.services import Context, set_context, trading_loop
from core.trading import toggle

SYMBOLS = ["AAPL", "MSFT"]
APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_duplicates_within_the_cooldown_hold_the_position_and_show_on_the_dashboard(tmp_path, sqlite_url):
    settings = load_settings(
        env_file=str(tmp_path / "none.env"), store={"database_url": sqlite_url}, log={"dir": str(tmp_path / "logs")}, scheduler={"embedded": False},
        signals={"cooldown_bars": 4, "conflict_margin": 0.02}, risk={"stop": {"enabled": False}},
        trading={"strategy": "ensemble", "symbols": SYMBOLS, "warmup_bars": 400, "bars_per_tick": 20, "commission": 0.0005,
                 "params": {"allow_short": True, "min_probability": 0.5, "rebalance_band": 0.0}},
    )
    ctx = Context.create(settings)
    ctx.extras["models_dir"] = str(tmp_path / "models")
    set_context(ctx)
    toggle.set_enabled(ctx.store, True)
    calendar = ctx.sample.bars(SYMBOLS[0]).index.union(ctx.sample.bars(SYMBOLS[1]).index)
    pre = {s: ctx.sample.bars(s).loc[: calendar[400 - 1 - 5]] for s in SYMBOLS}
    services.train(SYMBOLS, horizon=5, preset="tiny", bars=pre, ctx=ctx)
    loop = trading_loop(ctx)
    for _ in range(3):
        loop.tick()
    params = loop.session()["params"]
    assert (params["cooldown_bars"], params["conflict_margin"]) == (4, 0.02)  # read from signals.* and pinned
    signals = services.latest_signals(limit=1000, ctx=ctx)
    assert len(signals) == 2 * 60
    dupes = signals[signals["status"] == "suppressed (duplicate)"]
    passed = signals[signals["status"] == "passed"]
    assert len(dupes) >= 10 and len(passed) >= 5, signals["status"].value_counts().to_dict()
    orders = pd.DataFrame([(o.symbol, pd.Timestamp(o.created_at)) for o in loop.manager.orders()], columns=["symbol", "ts"])
    traded = set(zip(orders["symbol"], orders["ts"], strict=True))
    # a duplicate holds: no order for that symbol on that bar (with rebalance_band 0 every passed signal would resize it)
    assert not [(s, t) for s, t in zip(dupes["symbol"], dupes["ts"], strict=True) if (s, pd.Timestamp(t)) in traded]
    # and it is a duplicate of an intent that passed fewer than 4 bars earlier for the same symbol and direction
    for _, row in dupes.iterrows():
        earlier = passed[(passed["symbol"] == row["symbol"]) & (passed["ts"] < row["ts"])]
        gap = calendar.get_loc(pd.Timestamp(row["ts"])) - calendar.get_loc(pd.Timestamp(earlier["ts"].max()))
        assert 0 < gap < 4 + 3  # 4 bars of one day each; a weekend inside counts as time
    data = services.dashboard(ctx=ctx)
    assert data["signal_rules"] == {"cooldown_bars": 4, "conflict_margin": 0.02}
    toggle.set_enabled(ctx.store, False)
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    assert not app.exception, app.exception
    assert any("Signal rules: cooldown 4 bars" in c.value and "signals suppressed" in c.value for c in app.caption)
    assert any(c.value.startswith("Suppressed, by reason: suppressed (duplicate)") for c in app.caption)
    shown = next(d.value for d in app.dataframe if list(d.value.columns) == ["ts", "symbol", "p_up", "status", "note"])
    assert set(shown["status"]) >= {"suppressed (duplicate)"} and shown["note"].str.startswith("suppressed · ").all()
    set_context(None)
