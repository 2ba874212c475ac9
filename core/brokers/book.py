"""An order dict that keeps its open orders indexed, so per-bar scans stay O(open orders)."""

from __future__ import annotations

from core.domain import Order


class OrderBook(dict[str, Order]):
    """``client_order_id -> Order`` in submission order, plus :attr:`open` (non-terminal ones, same order)."""

    def __init__(self) -> None:
        super().__init__()
        self.open: dict[str, Order] = {}
        self._sequence: list[str] = []  # keys in first-insertion order: the orders after the n-th without a scan

    def __setitem__(self, key: str, order: Order) -> None:
        if key not in self:
            self._sequence.append(key)
        super().__setitem__(key, order)
        if order.status.is_terminal:
            self.open.pop(key, None)
        else:
            self.open[key] = order

    def since(self, n: int) -> list[Order]:
        """Return the orders after the first ``n`` (O(new orders), not O(all))."""
        return [self[k] for k in self._sequence[n:]]

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return the open orders (of ``symbol``), oldest first."""
        return [o for o in self.open.values() if symbol is None or o.symbol == symbol]
