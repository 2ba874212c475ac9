"""Backtest, Risk, News, Portfolio and Trading pages through AppTest, on a fresh store and on one with paper history."""

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import services
from tests.ui.populate import populate_paper
from tests.ui.settle import settle

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = ["pages/backtest.py", "pages/risk.py", "pages/news.py", "pages/portfolio.py", "pages/trading.py"]


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """One store with ~300 bars of paper trading on AAPL and MSFT, shared by the populated-render test."""
    from core.config import load_settings
    from core.services import Context

    tmp = tmp_path_factory.mktemp("populated")
    settings = load_settings(config_file=None, env_file=str(tmp / "none.env"), store={"database_url": f"sqlite:///{tmp / 'p.db'}"},
                             log={"dir": str(tmp / "logs")}, scheduler={"embedded": False})
    ctx = Context.create(settings)
    populate_paper(ctx)
    return ctx


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_a_fresh_store(ctx, page):
    at = _open(page)
    assert at.title[0].value == Path(page).stem.capitalize()


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_paper_history(populated, page):
    from core.services import set_context

    set_context(populated)
    try:
        at = _open(page)
        if page == "pages/portfolio.py":
            # the overview opens first and runs alone (lazy tabs): the account, positions, allocation, equity curve
            labels = [m.label for m in at.metric]
            assert {"Equity", "Realized P&L", "Unrealized P&L"} <= set(labels) and "Sharpe" not in labels
            assert len(at.get("plotly_chart")) == 2 and not at.get("download_button")  # allocation and equity curve
            at.session_state["portfolio_view"] = "Performance"
            at.run()
            assert not at.exception and "Sharpe" in [m.label for m in at.metric]
            specs = [c.proto.spec for c in at.get("plotly_chart")]
            assert len(specs) == 3 and "Monthly returns" in specs[1] and "Rolling Sharpe" in specs[2]  # drawdown, monthly, rolling
            at.session_state["portfolio_view"] = "Trades"
            at.run()
            assert not at.exception and at.get("download_button") and not at.get("plotly_chart")
        if page == "pages/trading.py":
            spec = at.get("plotly_chart")[0].proto.spec
            assert "our buy fills" in spec or "our sell fills" in spec
        if page == "pages/risk.py":
            # the book view opens first and runs alone (lazy tabs): the book's correlations, no full-history chart
            assert len(at.get("plotly_chart")) == 1
            assert "Correlation of the book's symbols" in at.get("plotly_chart")[0].proto.spec
            assert not [s for s in at.subheader if s.value.startswith("Research")]
            book = services.book_risk(ctx=populated)
            metrics = {m.label: m.value for m in at.metric}
            assert metrics["1-day VaR 99 % (historical)"] == f"{book['var_99_hist_pct']:.2f} %"
            assert metrics["Max drawdown (book)"] == f"{book['max_drawdown_pct']:.2f} %"
            at.session_state["risk_view"] = "Research"
            at.run()
            assert not at.exception
            specs = [c.proto.spec for c in at.get("plotly_chart")]
            assert len(specs) == 2 and "rolling VaR" in specs[0]  # the research rolling VaR and the full-history correlations
            assert "1-day VaR 99 % (historical)" not in {m.label for m in at.metric}  # the book view no longer runs
        if page == "pages/news.py":
            asof = services.paper_asof(ctx=populated)
            assert any(f"Headlines up to the session clock {asof:%Y-%m-%d}" in c.value for c in at.caption)
            shown = at.dataframe[0].value
            assert len(shown) and (shown["published"] < asof + pd.Timedelta(days=1)).all()
    finally:
        set_context(None)


def test_backtest_runs_and_shows_stats_and_a_sweep_heatmap(ctx):
    at = _open("pages/backtest.py")
    assert at.selectbox(key="bt_strategy").value == "sma_cross"
    assert at.multiselect(key="bt_symbols").value == ["AAPL"]
    assert at.number_input(key="bt_p_sma_cross_fast").value == 10
    at.number_input(key="bt_commission").set_value(0.0)
    at.button(key="bt_run").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    ref = services.backtest("sma_cross", symbol="AAPL").report  # same run through the CLI facade
    assert metrics["Return"] == f"{ref['return_pct']:+.2f} %"
    assert len(at.get("plotly_chart")) == 3  # equity, drawdown, candlestick with trades
    from core.services.research import close_shared_research_executor

    try:
        services.shared_research_executor()  # start the page's local Dask cluster outside AppTest's per-run timeout
        at.text_input(key="sw_xs").set_value("5, 10, 20")
        at.text_input(key="sw_ys").set_value("20, 50")
        at.button(key="sw_run").click().run()
        at.number_input(key="wf_windows").set_value(3)
        at.button(key="wf_run").click().run()
        settle(at)
    finally:
        close_shared_research_executor()  # the page keeps its cluster for the next sweep; this test is done with it
    # the walk-forward section shows what the facade computes sequentially for the same grid and costs (stitched out-of-sample only)
    wf = services.walk_forward("sma_cross", "AAPL", {"fast": [5, 10, 20], "slow": [20, 50]}, windows=3, params={}, cash=10_000.0,
                               commission=0.0, size=1.0, risk="configured", sequential=True)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Out-of-sample return (stitched)"] == f"{wf.metrics['portfolio']['return_pct']:+.2f}%"
    assert [len(d.value) for d in at.dataframe if "test_sharpe" in d.value.columns] == [3]
    assert any("Stitched out-of-sample equity" in c.proto.spec for c in at.get("plotly_chart"))
    assert not at.exception, [e.message for e in at.exception]
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert any('"heatmap"' in c and "Sharpe by fast" in c for c in charts)
    assert any("In-sample vs out-of-sample rank" in c for c in charts)
    metrics = {m.label: m.value for m in at.metric}
    # 3 x 2 values with fast >= slow once: 5 trials on AAPL, judged by the deflated Sharpe ratio and the PBO.
    assert metrics["Trials"] == "5"
    stored = services.list_sweeps()[0]
    assert stored["trials"] == 5 and metrics["Deflated Sharpe"] == f"{stored['dsr']:.2f}" and metrics["PBO"] == f"{stored['pbo'] * 100:.0f} %"
    assert any("invalid combinations skipped" in c.value for c in at.caption)
    at.selectbox(key="sw_metric").set_value("Return %").run()  # the heatmap's fragment redraws with the other metric
    assert not at.exception
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert any('"heatmap"' in c and "Return % by fast" in c for c in charts) and not any("Sharpe by fast" in c for c in charts)


def test_ticket_veto_shows_the_reason_and_queues_nothing(ctx):
    services.engage_kill_switch(services.paper_state(), reason="test", actor="test")
    at = _open("pages/trading.py")
    at.number_input(key="tk_qty").set_value(5.0)
    at.button(key="tk_submit").click().run()
    assert not at.exception
    assert any("veto" in e.value and "kill switch engaged" in e.value for e in at.error)
    assert services.pending_manual_orders() == []


def test_ticket_shrink_is_queued_and_cancellable(ctx):
    at = _open("pages/trading.py")
    at.number_input(key="tk_qty").set_value(1000.0)
    at.button(key="tk_submit").click().run()
    assert any("shrink" in w.value for w in at.warning)
    assert any("queued: executes at the next bar while paper trading is on" in i.value for i in at.info)
    [queued] = services.pending_manual_orders()
    at.button(key=f"tr_cancel_{queued['client_order_id']}").click().run()
    assert not at.exception and services.pending_manual_orders() == []


def test_kill_switch_needs_confirmation(ctx):
    at = _open("pages/risk.py")
    at.button(key="risk_kill").click().run()
    assert services.risk_status()["kill_switch"]["engaged"] is False  # not yet: a confirmation step first
    at.button(key="risk_kill_confirm").click().run()
    assert not at.exception
    assert services.risk_status()["kill_switch"]["engaged"] is True
    assert any("Kill switch ENGAGED" in e.value for e in at.error)
    assert ctx.store.audit_log(kind="risk")[0].actor == "ui"
    at.button(key="risk_rearm").click().run()
    assert services.risk_status()["kill_switch"]["engaged"] is False


def test_news_filters_by_symbol(ctx):
    at = _open("pages/news.py")
    total = int(at.metric[0].value.replace(",", ""))
    at.selectbox(key="news_symbol").set_value("MSFT").run()
    msft = int(at.metric[0].value.replace(",", ""))
    assert 0 < msft < total == len(services.list_news(limit=None))
    assert msft == len(services.list_news(symbol="MSFT", limit=None))
    assert "MSFT close with headlines" in at.get("plotly_chart")[0].proto.spec


def test_portfolio_empty_state_points_to_the_toggle(ctx):
    at = _open("pages/portfolio.py")
    assert any("Switch on paper trading in the sidebar" in i.value for i in at.info)


def test_beta_and_concentration_are_shown_and_equal_an_independent_computation(populated):
    import numpy as np
    import pandas as pd

    from core.services import set_context

    root = Path(__file__).resolve().parents[2]
    spx = pd.read_parquet(root / "data/sample/SPX__1d.parquet")["close"].pct_change()
    aapl = pd.read_parquet(root / "data/sample/AAPL__1d.parquet")["close"].pct_change()

    def beta(r, b):
        both = pd.concat([r, b], axis=1, join="inner").dropna().to_numpy()
        cov = np.cov(both[:, 0], both[:, 1])
        return cov[0, 1] / cov[1, 1]

    book = services.paper_book(ctx=populated)
    book_beta = beta(book["equity_curve"].pct_change(), spx)
    value = book["positions"]["value"].abs()
    hhi = float(((value / value.sum()) ** 2).sum())
    assert len(value) == 2 and 0.5 <= hhi < 1
    set_context(populated)
    try:
        for page in ("pages/portfolio.py", "pages/risk.py"):
            at = _open(page)
            shown = {m.label: m.value for m in at.metric}
            assert shown["Beta vs SPX"] == f"{book_beta:.3f}", page
            assert shown["Concentration (HHI)"] == f"{hhi:.3f}", page
        at.session_state["risk_view"] = "Research"  # the Risk page's research view: one symbol over its full history
        at.run()
        shown = {m.label: m.value for m in at.metric}
        assert shown["AAPL beta vs SPX"] == f"{beta(aapl, spx):.3f}"
    finally:
        set_context(None)


def test_risk_page_asks_for_the_toggle_only_while_it_is_off(ctx):
    from core.trading import toggle

    def hint() -> str:
        return next(c.value for c in _open("pages/risk.py").caption if c.value.startswith("No book risk yet"))

    assert hint().endswith("; switch on paper trading in the sidebar.")
    toggle.set_enabled(ctx.store, True)  # on, but no bar traded yet: nothing to switch on
    assert hint().endswith("; it fills as the trading loop runs.")
