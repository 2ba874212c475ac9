"""Feature configuration: which windows the feature set uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class FeatureConfig:
    """Windows of the feature set; every window looks back only.

    Parameters
    ----------
    ma_windows
        Moving-average lengths; each gives SMA and EMA distance-to-close columns.
    return_windows
        Log-return horizons (bars).
    vol_windows
        Realized-volatility windows (bars).
    volume_windows
        Volume z-score windows (bars).
    candles
        Include the curated candlestick patterns.
    """

    ma_windows: tuple[int, ...] = (5, 10, 20, 50, 100)
    return_windows: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 60)
    vol_windows: tuple[int, ...] = (5, 10, 20, 60)
    volume_windows: tuple[int, ...] = (5, 20, 60)
    candles: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def warmup(self) -> int:
        """Return the number of leading bars whose features may be NaN.

        The longest lookback wins: the moving averages, the return and
        volatility windows (one bar more, they use returns), and 63 bars for
        TA-Lib's Hilbert-transform cycle indicators.
        """
        longest = max(
            max(self.ma_windows),
            max(self.return_windows) + 1,
            max(self.vol_windows) + 1,
            max(self.volume_windows),
            63,  # HT_* lookback in TA-Lib
            44,  # TRIX(15): 3 * (15 - 1) + 1
        )
        return longest

    def to_dict(self) -> dict:
        """Return the configuration as plain JSON-ready values."""
        return asdict(self)
