"""The paper-loop context the loop tests share: sma_cross on AAPL and MSFT after a 100-bar warm-up, 40 bars a tick."""

from __future__ import annotations

from typing import Any

from core.config import load_settings
from core.services import Context
from core.trading import toggle

SYMBOLS = ["AAPL", "MSFT"]
WARMUP = 100


def loop_ctx(tmp_path: Any, db_url: str, **trading: Any) -> Context:
    """Return a context on ``db_url`` with the toggle on; ``trading`` overrides the loop settings."""
    settings = load_settings(
        env_file=str(tmp_path / "none.env"), store={"database_url": db_url}, log={"dir": str(tmp_path / "logs")},
        scheduler={"embedded": False},
        trading={"strategy": "sma_cross", "symbols": SYMBOLS, "warmup_bars": WARMUP, "bars_per_tick": 40, "commission": 0.0005, **trading},
    )
    ctx = Context.create(settings)
    toggle.set_enabled(ctx.store, True)
    return ctx
