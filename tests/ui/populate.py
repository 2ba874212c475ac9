"""Fill a store with paper history the way a user gets it: the trading loop over bundled bars."""

from __future__ import annotations

from core.config import TradingSettings
from core.services import Context, trading_loop
from core.trading import toggle


def populate_paper(ctx: Context, symbols: tuple[str, ...] = ("AAPL", "MSFT"), bars: int = 300, cash: float = 100_000.0,
                   per_tick: int = 25) -> Context:
    """Run the paper loop (sma_cross 5/20, risk engine on) over ``bars`` bars of ``symbols`` after a 100-bar warm-up.

    The session keeps ``per_tick`` bars per tick: a server that later resumes it (the browser
    tests) ticks in steps that small, as a user's session does, not 300 bars at once.
    """
    cfg = TradingSettings(symbols=list(symbols), strategy="sma_cross", params={"fast": 5, "slow": 20}, cash=cash, commission=0.001,
                          warmup_bars=100, bars_per_tick=per_tick)
    toggle.set_enabled(ctx.store, True)
    loop = trading_loop(ctx, settings=cfg)
    for _ in range(-(-bars // per_tick)):
        loop.tick()
    toggle.set_enabled(ctx.store, False)
    loop.tick()  # the tick after the switch-off gives the account's lease up, as a user's loop does: a server started next need not wait lease_seconds
    assert loop.lease.current() is None, "the stopped loop kept the account's lease"
    return ctx
