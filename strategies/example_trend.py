"""Example: long while the close is above its moving average (edit me, copy me, or delete me).

A vectorised strategy is a function ``signals(bars, **params)``: it gets the bars of one
symbol (columns open, high, low, close, volume; a UTC time index) and returns the target
exposure of every bar in [-1, 1] (+1 all of what the risk engine allows, long; -1 short;
0 flat; 0.5 half). The value at a bar is decided at its close and filled at the next open.
Use only the current and past bars (rolling, ewm, shift(1)); shift(-1) or a statistic of
the whole frame looks into the future and fails ``python -m core strategy check example_trend``.
"""

PARAMS = {"window": 50}  # defaults, shown as inputs on the Backtest page; --param window=100 on the CLI
WARMUP = 60  # bars of history one value needs: the paper loop evaluates signals() on this many bars


def signals(bars, window=50):
    close = bars["close"]
    return (close > close.rolling(window).mean()).astype(float)
