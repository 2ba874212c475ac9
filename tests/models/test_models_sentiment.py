"""A model trained with models.features.sentiment: its columns, prediction, the leakage audit and the ensemble strategy."""

from __future__ import annotations

import pandas as pd
import pytest

from core.news.features import FEATURE_COLUMNS
from core.risk.limits import RiskEngine, RiskLimits


def test_sentiment_model_predicts_passes_the_truncation_audit_and_trades(ctx):
    from core import services
    from core.backtest.run import run_backtest

    ctx.settings.models.features.sentiment = True  # the setting, not an argument, switches it on
    bars = {"AAPL": services.load_bars("AAPL").loc[:"2006-12-31"]}
    rep = services.train(["AAPL"], bars=bars, preset="tiny", members=("rf",), n_splits=3, regime=False, importance_rows=0, ctx=ctx)
    art = services.load_model(rep["model_id"], ctx)
    assert set(FEATURE_COLUMNS) <= set(art.columns) and art.feature_config.extra == {"sentiment": True}
    hist = services.load_bars("AAPL").loc[:"2007-01-17"]
    p = services.predict("AAPL", bars=hist, model_id=art.model_id, ctx=ctx)
    assert 0 < p["p_up"] < 1
    from core.models.model_features import model_features

    # The model's sentiment columns are the news service's causal features of the stored headlines.
    ours = model_features(hist, art.feature_config, "AAPL", services.news_frame(ctx))[FEATURE_COLUMNS]
    pd.testing.assert_frame_equal(ours, services.news_features(pd.DatetimeIndex(hist.index), "AAPL", ctx=ctx), check_freq=False)
    assert ours["news_count"].sum() > 0  # AAPL has bundled headlines in this range
    audit = services.audit("AAPL", model_id=art.model_id, n_points=3, ctx=ctx)
    assert audit["ok"] and audit["columns_checked"] >= len(art.columns)
    strategy = services.build_strategy("ensemble", {"model_id": art.model_id, "min_probability": 0.5}, ctx)
    assert strategy.news is not None  # the service hands the headlines to a sentiment model
    res = run_backtest({"AAPL": services.load_bars("AAPL").loc["2006-06-01":"2007-06-30"]}, strategy,
                       risk=RiskEngine(RiskLimits.from_settings(ctx.settings.risk)), warmup=150, baseline=False)  # fmt: skip
    assert res.report["strategy"] == "ensemble" and len(strategy.drain_signals()) > 0
    with pytest.raises(ValueError, match="news sentiment"):
        model_features(hist, art.feature_config, "AAPL", None)
