"""The paper session's own next-bar VaR forecasts against its realised returns (risk.forecast_var), from the app and the CLI.

The reference recomputes each tested bar independently: the position from the stored fills with
pandas, arch's GARCH(1,1)-t fitted directly on the returns up to the bar, the next bar's equity
return, and Kupiec's likelihood ratio by its formula.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from scipy import stats
from streamlit.testing.v1 import AppTest

from core import services
from core.portfolio import repo as portfolio_repo
from tests.trading._loop import loop_ctx

ROOT = Path(__file__).resolve().parents[2]


def _session(tmp_path, db_url):
    ctx = loop_ctx(tmp_path, db_url, symbols=["SPX"], warmup_bars=300, bars_per_tick=100)
    ctx.settings.risk.forecast_var = True  # the session starts with it: its risk_limits pin it
    loop = services.trading_loop(ctx)
    for _ in range(2):
        loop.tick()
    return ctx, loop


def _arch_var(r: np.ndarray, w: float) -> float:
    res = arch_model(r * 100, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off", show_warning=False)
    fc = res.forecast(horizon=1, reindex=False)
    nu = float(res.params["nu"])
    q = stats.t.ppf(0.01, nu) * math.sqrt((nu - 2) / nu)
    return -(w * fc.mean.iloc[-1, 0] / 100) - q * abs(w) * math.sqrt(fc.variance.iloc[-1, 0]) / 100


def test_session_forecasts_match_an_independent_recomputation(tmp_path, sqlite_url):
    ctx, _ = _session(tmp_path, sqlite_url)
    rep = services.session_forecasts(ctx=ctx)
    assert rep["used"] and rep["model"] == "garch_t" and rep["level"] == 0.99 and rep["bars"] == 200
    series, cov = rep["series"], rep["coverage"]
    fills = pd.DataFrame([(pd.Timestamp(f.ts), f.side.sign * f.quantity) for f in portfolio_repo.load_fills(ctx.store, "paper")], columns=["ts", "q"])
    held = fills.groupby("ts")["q"].sum().cumsum()
    points = portfolio_repo.load_equity(ctx.store, "paper")
    equity = pd.Series([p.equity for p in points], index=pd.DatetimeIndex([pd.Timestamp(p.ts) for p in points]))
    close = services.load_bars("SPX")["close"]
    traded = close.index[300:500]
    with_position = [t for t in traded[:-1] if abs(held.loc[:t].iloc[-1] if len(held.loc[:t]) else 0.0) > 0]
    assert list(series.index) == with_position and len(series) > 100
    for t in with_position[:: len(with_position) // 5]:
        w = held.loc[:t].iloc[-1] * close.loc[t] / equity.loc[t]
        r = close.loc[:t].pct_change().dropna().to_numpy()[-250:]
        assert series.at[t, "forecast_var"] == pytest.approx(_arch_var(r, w), rel=1e-3)
        nxt = traded[traded.get_loc(t) + 1]
        assert series.at[t, "realised"] == pytest.approx(equity.loc[nxt] / equity.loc[t] - 1, rel=1e-12)
    x, n = int((series["realised"] < -series["forecast_var"]).sum()), len(series)
    assert (cov["breaches"], cov["n"]) == (x, n)
    lr = -2 * ((n - x) * math.log(0.99) + x * math.log(0.01) - ((n - x) * math.log(1 - x / n) + (x * math.log(x / n) if x else 0.0)))
    assert cov["kupiec_p"] == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-9)
    print(f"\nsession forecasts: {x} breaches in {n} bars with a position ({x / n:.2%}), Kupiec p {cov['kupiec_p']:.3f}, cc p {cov['cc_p']:.3f}")


def test_cli_and_risk_page_show_the_session_forecast_test(tmp_path):
    db = f"sqlite:///{tmp_path}/cli.db"
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": db, "APP__LOG__DIR": str(tmp_path), "APP__SCHEDULER__EMBEDDED": "false"}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "core", "exposure", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)

    none = cli("--session")
    assert none.returncode == 2 and "start paper trading first" in none.stderr
    ctx, _ = _session(tmp_path, db)
    ref = services.session_forecast_summary(ctx=ctx)
    r = cli("--session", "paper", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["coverage"] == ref["coverage"]
    text = cli("--session")
    c = ref["coverage"]
    assert text.returncode == 0 and f"breaches {c['breaches']}/{c['n']}" in text.stdout and "used by risk.forecast_var" in text.stdout
    services.set_context(ctx)
    try:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        app.switch_page("pages/risk.py").run()
        app.button(key="risk_fx_session").click().run()
        assert not app.exception, app.exception
        table = next(d.value for d in app.dataframe if "forecasts" in d.value.columns)
        row = table.iloc[0]
        assert row["breaches"] == f"{c['breaches']}/{c['n']}" and row["Kupiec p"] == round(c["kupiec_p"], 4)
        assert row["Christoffersen ind p"] == round(c["ind_p"], 4) and row["conditional coverage p"] == round(c["cc_p"], 4)
    finally:
        services.set_context(None)
