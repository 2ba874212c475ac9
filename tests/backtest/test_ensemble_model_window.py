"""An ensemble backtest trades only a model whose training data ends before its first bar plus the embargo."""

import pytest

from core import services
from core.models.registry import get_run
from core.services import set_context


def test_ensemble_backtest_refuses_a_model_trained_on_its_bars_and_pins_an_earlier_one(ctx, tmp_path):
    ctx.extras["models_dir"] = str(tmp_path / "models")
    set_context(ctx)
    aapl = ctx.sample.bars("AAPL")
    mid = services.train(["AAPL"], horizon=5, preset="tiny", bars={"AAPL": aapl.iloc[:500]}, ctx=ctx)["model_id"]
    end = get_run(ctx.store, mid).data_end
    assert end.date() == aapl.index[499].date()
    # a backtest from a bar inside the model's training window: refused with the dates
    with pytest.raises(ValueError, match="overlaps the session's traded bars"):
        services.backtest("ensemble", symbol="AAPL", params={"model_id": mid}, start=str(aapl.index[300].date()), ctx=ctx)
    # four bars after the training end is still inside the 5-bar embargo
    with pytest.raises(ValueError, match="overlaps"):
        services.backtest("ensemble", symbol="AAPL", params={"model_id": mid}, start=str(aapl.index[504].date()), ctx=ctx)
    # from the first bar after the embargo, the stored model is picked without being named
    start = aapl.index[505]
    res = services.backtest("ensemble", symbol="AAPL", start=str(start.date()), end=str(aapl.index[700].date()), ctx=ctx)
    assert res.report["params"]["model_id"] == mid
    # a backtest from the data's first bar cannot have a model trained before it
    with pytest.raises(ValueError, match="no model can have been trained before it"):
        services.backtest("ensemble", symbol="AAPL", ctx=ctx)
