"""Positions, cash, realised/unrealised P&L, trades and the equity curve of an account."""

from core.portfolio.portfolio import ClosedTrade, EquityPoint, Portfolio, floor_to_lot

__all__ = ["ClosedTrade", "EquityPoint", "Portfolio", "floor_to_lot"]
