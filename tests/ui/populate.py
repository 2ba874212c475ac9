"""Fill a store with paper history the way a user gets it: the trading loop over bundled bars."""

from __future__ import annotations

from core.config import TradingSettings
from core.services import Context, trading_loop
from core.trading import toggle


def populate_paper(ctx: Context, symbols: tuple[str, ...] = ("AAPL", "MSFT"), bars: int = 300, cash: float = 100_000.0) -> Context:
    """Run the paper loop (sma_cross 5/20, risk engine on) over ``bars`` bars of ``symbols`` after a 100-bar warm-up."""
    cfg = TradingSettings(symbols=list(symbols), strategy="sma_cross", params={"fast": 5, "slow": 20}, cash=cash, commission=0.001,
                          warmup_bars=100, bars_per_tick=bars)
    toggle.set_enabled(ctx.store, True)
    trading_loop(ctx, settings=cfg).tick()
    toggle.set_enabled(ctx.store, False)
    return ctx
