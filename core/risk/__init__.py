"""Risk: metrics, VaR/CVaR, pre-trade limits (the risk engine) and the kill switch."""
