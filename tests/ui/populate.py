"""Fill a store with paper history: sma_cross trading bundled bars through a stored paper session."""

from __future__ import annotations

from core import services
from core.clock import FixedClock
from core.domain import Bar
from core.services import Context
from core.store import Store


def populate_paper(ctx: Context, symbols: tuple[str, ...] = ("AAPL", "MSFT"), bars: int = 300, cash: float = 100_000.0) -> Context:
    """Step a paper session over the last ``bars`` shared daily bars of ``symbols``; return the context on the replay clock."""
    frames = {s: services.load_bars(s, ctx=ctx).tail(bars) for s in symbols}
    index = sorted(set.intersection(*(set(f.index) for f in frames.values())))
    clock = FixedClock(index[0].to_pydatetime())
    run = Context(ctx.settings, Store(ctx.settings.database_url, clock=clock), clock, ctx.sample)
    session = services.paper_session("sma_cross", list(symbols), params={"fast": 5, "slow": 20}, cash=cash, commission=0.001, size=0.3, ctx=run)
    for ts in index:
        clock.set(ts.to_pydatetime())
        session.step([Bar(s, ts.to_pydatetime(), *(float(frames[s].at[ts, c]) for c in ("open", "high", "low", "close", "volume"))) for s in symbols])
    return run
