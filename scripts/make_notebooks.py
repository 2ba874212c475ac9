"""Write the notebooks in ``notebooks/`` from the cell sources below (outputs stripped).

Edit the cells here and run ``.venv/bin/python scripts/make_notebooks.py``; the
test suite (``tests/test_notebooks.py``) executes every notebook and checks the
committed files equal what this script writes. Notebooks only call ``core``:
anything worth keeping belongs in ``core.services``, not in a cell.

Each cell is a string; a string starting with ``"# md\\n"`` is a markdown cell.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "notebooks"

# Every notebook starts here: the same context the app uses (settings from config.yaml,
# .env and APP__* variables); APP_MODELS_DIR lets the test suite keep model files out of data/.
BOOT = """\
import sys
from pathlib import Path

# Make `core` importable when Jupyter starts in notebooks/ (the project is not pip-installed).
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "core" / "__init__.py").exists())
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
"""

SETUP = (
    BOOT
    + """\
import os

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core import services

ctx = services.get_context()
if os.environ.get("APP_MODELS_DIR"):
    ctx.extras["models_dir"] = os.environ["APP_MODELS_DIR"]
pd.set_option("display.width", 160)
print("database:", services.safe_database_url(ctx))"""
)

NB01 = [
    """# md
# 01 · Data and features

Load the bundled real market data and your own OHLCV file through the same calls the app
and the CLI use (`services.load_bars`), see what validation rejects, and compute the
feature set the models train on (`core.features.compute`).""",
    SETUP,
    """# md
## Bundled data
`services.list_series()` lists every bundled series with its range (no network needed).""",
    """pd.DataFrame([s.to_dict() for s in services.list_series()])""",
    """aapl = services.load_bars("AAPL", start="2010-01-01", end="2012-12-31")
aapl.tail()""",
    """fig = go.Figure(go.Candlestick(x=aapl.index[-120:], open=aapl.open[-120:], high=aapl.high[-120:], low=aapl.low[-120:], close=aapl.close[-120:]))
fig.update_layout(title="AAPL, last 120 bars", template="plotly_dark", xaxis_rangeslider_visible=False, height=350)
fig""",
    """# md
## Your own data
Any CSV or Parquet file with `open, high, low, close, volume` and a time column works
(the CLI's `--data PATH`). Here we write one to a temporary folder and load it back.""",
    """import tempfile

tmp = Path(tempfile.mkdtemp(prefix="nb01-"))
own = tmp / "my_bars.csv"
aapl.reset_index().rename(columns={"ts": "date"}).to_csv(own, index=False)
mine = services.load_bars(data=str(own))
print(len(mine), "bars from", own.name, "- same as bundled:", bool((mine["close"].to_numpy() == aapl["close"].to_numpy()).all()))""",
    """# md
## What validation rejects
A bad row stops loading with one line naming the row and the rule; `repair=True` fixes
what can be fixed safely (it never invents prices).""",
    """from core.data.providers import DataError
from core.data.validate import DataValidationError

bad = aapl.reset_index().rename(columns={"ts": "date"})
bad.loc[5, "high"] = bad.loc[5, "low"] - 1.0  # a high below the low
bad_file = tmp / "bad_bars.csv"
bad.to_csv(bad_file, index=False)
try:
    services.load_bars(data=str(bad_file))
except DataValidationError as exc:
    print("rejected:", exc)
repaired = services.load_bars(data=str(bad_file), repair=True)
print("with repair=True:", len(repaired), "of", len(bad), "rows kept")""",
    """missing = tmp / "no_such_file.csv"
try:
    services.load_bars(data=str(missing))
except DataError as exc:
    print("rejected:", exc)""",
    """# md
## Features
`compute` returns 100+ causal columns (each value at t uses bars up to t only; the
leakage audit in the test suite checks this by truncation). The first `warmup` rows may be NaN.""",
    """from core.features import FeatureConfig, compute

cfg = FeatureConfig()
feats = compute(aapl, cfg)
print(feats.shape[1], "features; warm-up", cfg.warmup, "bars")
feats.iloc[cfg.warmup:].describe().T.head(12)""",
    """cols = [c for c in feats.columns if c.startswith(("rsi", "rv_", "ret_"))][:4]
px.line(feats[cols].iloc[cfg.warmup:], title="a few features", template="plotly_dark", height=350)""",
]

NB02 = [
    """# md
# 02 · Train and evaluate the ensemble

`services.train` evaluates the ensemble **walk-forward** (purged and embargoed: no
training label overlaps a test fold) and only then fits it on all data. Every figure
below is out-of-sample, with its sample size `n` and a 95% confidence interval, next to
the baselines a model must beat. The `tiny` preset on a few years keeps this quick; use
`fast` or `standard` for real work.""",
    SETUP,
    """report = services.train(
    ["AAPL", "MSFT"], horizon=5, preset="tiny", members=("rf", "gb", "mlp", "cat"), n_splits=3,
    start="2008-01-01", end="2012-12-31", regime=False, importance_rows=300, importance_repeats=2, ctx=ctx,
)
print(report["model_id"], "-", report["n_samples"], "samples,", report["n_features"], "features, members", report["members"])""",
    """# md
## Out-of-sample metrics with n and 95% CI, against baselines
`n_eff` discounts the overlap of 5-bar labels. An AUC whose interval contains 0.5 is no
evidence of skill.""",
    """def row(name, m):
    out = {"": name, "n": m["n"], "n_eff": round(m["n_eff"])}
    for key in ("accuracy", "roc_auc", "brier"):
        if key in m:
            out[key] = f"{m[key]['value']:.3f} [{m[key]['lo']:.3f}, {m[key]['hi']:.3f}]"
    return out

table = [row("ensemble", report["overall"])] + [row(name, m) for name, m in report["baselines"].items() if isinstance(m, dict) and "n" in m]
pd.DataFrame(table).set_index("")""",
    """pd.DataFrame([{"fold": f["fold"], "train": f"{f['train']['start'][:10]} .. {f['train']['label_end'][:10]}",
               "test": f"{f['test']['start'][:10]} .. {f['test']['end'][:10]}", "n": f["metrics"]["n"],
               "auc": f["metrics"].get("roc_auc", {}).get("value"), "accuracy": f["metrics"]["accuracy"]["value"]}
              for f in report["folds"]]).set_index("fold")""",
    """# md
## Calibration
Predicted p(up) against the observed frequency of up-moves (quantile bins, out-of-sample).""",
    """full = services.model_report(report["model_id"], ctx=ctx)
cal = pd.DataFrame(full["calibration"])
fig = px.line(cal, x="prob_pred", y="prob_true", markers=True, hover_data=["count"], template="plotly_dark", height=350,
              title="calibration (out-of-sample)")
fig.add_shape(type="line", x0=cal.prob_pred.min(), y0=cal.prob_pred.min(), x1=cal.prob_pred.max(), y1=cal.prob_pred.max(), line={"dash": "dot"})
fig""",
    """# md
## Permutation importance
Drop in ROC AUC when a feature is shuffled, on the last validation fold. On data with no
edge these are noise around zero.""",
    """imp = pd.DataFrame(report["importance"]).head(15)
px.bar(imp, x="mean", y="feature", error_x="std", orientation="h", template="plotly_dark", height=400, title="top features")""",
    """services.list_models(ctx=ctx)[:3]""",
]

NB03 = [
    """# md
# 03 · Market regimes

`RegimeClassifier` combines a Markov-switching model of returns (which state is
turbulent) with rules on trend, realized volatility and drawdown, giving one of
bull, bear, sideways, volatile, crisis per bar. It is fitted on a training window
and then applied causally (filtered, not smoothed, probabilities), so 2008 below is
classified by a model that never saw it.""",
    SETUP,
    """from core.models.regime import RegimeClassifier

spx = services.load_bars("SPX", start="1999-01-01", end="2012-12-31")
train_bars = spx.loc[:"2007-06-30"]  # the model never sees the 2008 crash
rc = RegimeClassifier(k_regimes=2).fit(train_bars)  # k_regimes=3 is the default (a few seconds more)
regime = rc.classify(spx).astype(str)
print("fitted on", rc.fit_range_[0][:10], "..", rc.fit_range_[1][:10], "- turbulent state variance", rc.state_variance_.max().round(6))
regime.value_counts()""",
    """# md
## Regime timeline over price""",
    """frame = spx[["close"]].assign(regime=regime)
fig = px.scatter(frame.reset_index(), x="ts", y="close", color="regime", template="plotly_dark", height=400,
                 title="S&P 500 with the causal regime of each day", log_y=True)
fig.update_traces(marker={"size": 3})
fig""",
    """frame.loc["2008-09-01":"2008-12-31", "regime"].value_counts()""",
    """# md
## Regime-conditional returns
The regime known at the close of day t against the return from t to t+1 (the next day
is not used to classify t).""",
    """nxt = spx["close"].pct_change().shift(-1)
cond = pd.DataFrame({"regime": regime, "next_return": nxt}).dropna()
stats = cond.groupby("regime")["next_return"].agg(days="count", mean="mean", std="std")
stats["ann_vol"] = stats["std"] * 252 ** 0.5
stats["mean_bp"] = stats["mean"] * 1e4
stats[["days", "mean_bp", "ann_vol"]].round(3)""",
    """ind = rc.indicators(spx)
px.line(ind[["p_turbulent"]], template="plotly_dark", height=300, title="filtered probability of the turbulent state")""",
]

NB04 = [
    """# md
# 04 · Backtest and risk

A strategy against buy-and-hold through the same backtester the app uses, VaR/CVaR of
the series by five methods with Kupiec's test of how often each was exceeded, and what
Kelly sizing does to the position size.""",
    SETUP,
    """res = services.backtest("sma_cross", symbol="AAPL", cash=10_000, commission=0.001, start="2004-01-01", end="2012-12-31", ctx=ctx)
keys = ["return_pct", "buy_and_hold_return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct"]
{k: res.report.get(k) for k in keys if k in res.report}""",
    """bh = services.backtest("buy_and_hold", symbol="AAPL", cash=10_000, commission=0.001, start="2004-01-01", end="2012-12-31", ctx=ctx)
curves = pd.DataFrame({"sma_cross": res.equity, "buy_and_hold": bh.equity})
px.line(curves, template="plotly_dark", height=350, title="equity: SMA cross vs buy-and-hold (AAPL)", log_y=True)""",
    """# md
## Your own strategy, checked for look-ahead
A strategy can be a plain function: `signals(bars, **params)` returns the target exposure
per bar in [-1, 1] (+1 all-in long, -1 short, 0 flat), decided at the close and filled at
the next open. Pass it to `services.backtest` directly; saved as `strategies/NAME.py` it is
found by name by the app, the CLI and the paper loop (README: *Write your own strategy*).
The look-ahead check recomputes it on truncated history: the second function peeks one
bar ahead with `shift(-1)` and is caught, with the first offending bar named.""",
    """def breakout(bars, window=50):
    close = bars["close"]
    return (close > close.rolling(window).max().shift(1)).astype(float).where(close > close.rolling(window).mean(), 0.0)


def peeking(bars, window=50):
    close = bars["close"]
    return (close.shift(-1) > close).astype(float)


for fn in (breakout, peeking):
    check = services.check_strategy(fn, symbol="AAPL", ctx=ctx)
    print(fn.__name__, "ok" if check["ok"] else check["problems"][0]["message"][:160])""",
    """mine = services.backtest(breakout, symbol="AAPL", cash=10_000, commission=0.001, start="2004-01-01", end="2012-12-31", ctx=ctx)
{**{k: mine.report.get(k) for k in keys}, "look-ahead check passed": mine.report["check"]["ok"]}""",
    """# md
## The library side by side
Six classic strategies ship as vectorised signals (`python -m core strategy list`), each
checked and reproduced trade for trade by backtesting.py in the tests. Same data and costs:""",
    """frames = services.lab_frames(["AAPL"], start="2004-01-01", end="2012-12-31", ctx=ctx)
names = ["rsi_reversion", "bollinger_reversion", "donchian_breakout", "ts_momentum", "macd_trend", "vol_target_trend", "sma_cross"]
table, curves = services.compare_strategies(frames, names, cash=10_000, commission=0.001)
table[["return_pct", "sharpe", "max_drawdown_pct", "trades", "check"]].round(2)""",
    """px.line(pd.DataFrame(curves), template="plotly_dark", height=380, title="equity by strategy (AAPL 2004-2012)", log_y=True)""",
    """# md
## VaR and CVaR by method
One-day 95% and 99% figures as positive loss percents: historical, normal (parametric),
Cornish-Fisher, Monte Carlo and GARCH(1,1)-t.""",
    """risk = services.risk_report("SPX", ctx=ctx)
methods = ["hist", "param", "cf", "mc", "garch"]
pd.DataFrame({m: {f"{kind}_{lvl}": risk.get(f"{kind}_{lvl}_{m}_pct") for kind in ("var", "cvar") for lvl in (95, 99)} for m in methods}).round(2)""",
    """# md
## Kupiec backtest
Each day's VaR is forecast from the previous 500 returns only; an exceedance is a day
whose loss is larger. Kupiec's test asks whether the exceedance rate is consistent with
1% (99% VaR). A small p-value rejects the method. 2007–2009 is the hard case.""",
    """from core.risk import var_backtest

r = services.load_bars("SPX", start="2005-01-01", end="2009-12-31")["close"].pct_change().dropna()
rows = []
for method in var_backtest.METHODS:
    k = var_backtest.backtest(r, method, level=0.99, window=500, refit_every=50) if method != "monte_carlo" else None
    if k is None:  # Monte Carlo is the slow one: fewer draws per day here
        fc = var_backtest.rolling_var(r, "monte_carlo", 0.99, window=500, n_sims=2_000)
        k = var_backtest.kupiec_pof(int((r.to_numpy()[500:] < -fc).sum()), len(fc), 0.99)
    rows.append({"method": method, "n": k.n, "exceedances": k.exceedances, "expected": round(k.expected, 1), "p_value": round(k.p_value, 4),
                 "rejected at 5%": k.rejected()})
pd.DataFrame(rows).set_index("method")""",
    """# md
## Kelly sizing
The fractional Kelly sizer (settings `risk.kelly_fraction`, capped by `risk.max_position_pct`)
turns a probability of winning `p` and a payoff ratio `b` into a fraction of equity, shrunk
in volatile regimes and zero in a crisis.""",
    """sizer = services.kelly_sizer(ctx)
grid = []
for p in (0.50, 0.52, 0.55, 0.60, 0.70):
    for regime in ("bull", "volatile", "crisis"):
        d = sizer.size_binary(p, b=1.0, equity=100_000, price=100.0, regime=regime, lot_size=1)
        grid.append({"p": p, "regime": regime, "kelly f*": round(d.explanation.f_star, 3), "fraction": round(d.fraction, 4), "shares": d.quantity,
                     "caps": ",".join(d.explanation.caps)})
pd.DataFrame(grid).pivot(index="p", columns="regime", values="fraction")""",
    """# md
The effect on the backtest: the same SMA-cross signals sized all-in versus at a
quarter-Kelly fraction (p = 0.55, b = 1, uncapped here to show the size effect).""",
    """from core.sizing import KellySizer

f = KellySizer(fraction=0.25, max_position_pct=1.0).size_binary(0.55, 1.0, equity=1.0).fraction
sized = services.backtest("sma_cross", symbol="AAPL", cash=10_000, commission=0.001, size=f, start="2004-01-01", end="2012-12-31", ctx=ctx)
pd.DataFrame({"all-in": {k: res.report.get(k) for k in ("return_pct", "max_drawdown_pct", "sharpe")},
              f"kelly {f:.3f}": {k: sized.report.get(k) for k in ("return_pct", "max_drawdown_pct", "sharpe")}})""",
]

NB05 = [
    """# md
# 05 · Paper trading from a notebook

The trading loop the background scheduler runs, driven by hand: the replay feed releases
bundled bars a tick at a time, each bar goes through strategy → risk engine → order manager
→ paper broker, and everything one bar changes is stored in one database transaction.
This notebook uses its own temporary SQLite database, so it never touches your `data/app.db`.""",
    BOOT
    + """import tempfile

import pandas as pd
import plotly.express as px

from core import services
from core.config import load_settings
from core.portfolio import repo as portfolio_repo
from core.services import trading_loop

tmp = Path(tempfile.mkdtemp(prefix="nb05-"))
settings = load_settings(
    store={"database_url": f"sqlite:///{tmp}/paper.db"},
    scheduler={"embedded": False},
    trading={"strategy": "sma_cross", "symbols": ["AAPL", "MSFT"], "warmup_bars": 100, "bars_per_tick": 20},
)
ctx = services.Context.create(settings)
settings.trading""",
    """# md
## Start, tick, watch
`paper_start` is the same switch as the app's toggle and `python -m core paper start`.
Each `tick()` processes the bars released since the last one (20 here).""",
    """print(services.paper_start(actor="notebook", ctx=ctx))
loop = trading_loop(ctx)
for _ in range(5):
    rep = loop.tick()
    print(f"{rep.state}: {len(rep.bars)} bars up to {rep.bars[-1][:10]}, {rep.orders} new orders, {rep.fills} fills, equity {rep.equity:,.2f}")""",
    """orders = services.list_orders(ctx=ctx)
pd.DataFrame([{"id": o.client_order_id, "symbol": o.symbol, "side": o.side.value, "qty": o.quantity, "status": o.status.value,
               "avg_price": o.avg_fill_price, "shrunk by risk from": o.tags.get("risk_shrunk_from", "")} for o in orders])""",
    """fills = portfolio_repo.load_fills(ctx.store, "paper")
pd.DataFrame([{"ts": f.ts, "symbol": f.symbol, "side": f.side.value, "qty": f.quantity, "price": f.price, "fee": f.fee} for f in fills])""",
    """eq = services.equity_frame(ctx=ctx)
px.line(eq[["equity"]], template="plotly_dark", height=300, title="paper equity (stored per bar)")""",
    """board = services.dashboard(ctx=ctx)
pd.DataFrame(board["positions"])""",
    """# md
## Stop, and what a restart does
After `paper_stop` a tick does nothing. A new loop object (a restarted process) rebuilds
its state by replaying the stored bars and checks it against the store before going on.""",
    """print(services.paper_stop(actor="notebook", ctx=ctx))
print(loop.tick().state)
services.paper_start(actor="notebook", ctx=ctx)
again = trading_loop(ctx)
rep = again.tick()
print(rep.state, len(rep.bars), "bars;", [a.message for a in ctx.store.audit_log(kind="recovery")][:1])
services.paper_stop(actor="notebook", ctx=ctx)""",
]

NOTEBOOKS = {
    "01_data_and_features.ipynb": NB01,
    "02_train_and_evaluate.ipynb": NB02,
    "03_market_regimes.ipynb": NB03,
    "04_backtest_and_risk.ipynb": NB04,
    "05_paper_trading.ipynb": NB05,
}


def build(cells: list[str]) -> nbformat.NotebookNode:
    """Return a notebook (no outputs, no execution counts) of ``cells``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, src in enumerate(cells):
        is_md = src.startswith("# md\n")
        cell = nbformat.v4.new_markdown_cell(src[len("# md\n") :]) if is_md else nbformat.v4.new_code_cell(src)
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives the same file
        nb.cells.append(cell)
    return nb


def render(cells: list[str]) -> str:
    """Return the .ipynb text of ``cells``."""
    return nbformat.writes(build(cells)) + "\n"


def main() -> int:
    """Write every notebook; with ``--check``, only report files that differ (exit 1)."""
    check = "--check" in sys.argv[1:]
    OUT.mkdir(exist_ok=True)
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = OUT / name
        text = render(cells)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run scripts/make_notebooks.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
