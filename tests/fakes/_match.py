"""The fakes' simple fill rules, shared by every venue fake.

- A market order fills at the current price.
- A limit buy fills at the current price when that is at or below the limit (a sell: at or above).
- A stop triggers when the price reaches the stop (buy: at or above, sell: at or below), then acts
  as a market order (stop) or a limit order (stop-limit).
- ``partial`` (0..1) fills only that fraction of the order; the rest stays open.
"""

from __future__ import annotations


def marketable(side: str, limit: float | None, price: float) -> bool:
    """Return True when an order with ``limit`` would trade at ``price``."""
    if limit is None:
        return True
    return price <= limit if side.lower() == "buy" else price >= limit


def triggered(side: str, stop: float, price: float) -> bool:
    """Return True when a stop at ``stop`` is hit by ``price``."""
    return price >= stop if side.lower() == "buy" else price <= stop
