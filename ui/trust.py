"""Panels that say whether to trust what the bot shows: model health, the retrain job, the sentiment ablation, forecast exposure."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import services
from core.services import format_pct as pct
from ui.auth import actor
from ui.charts import naive
from ui.common import background_result, context, guarded, start_in_background


def alarm_banner() -> None:
    """Show the drift alarm (and the entry stop) if the last health check raised it; nothing otherwise."""
    status = guarded(services.health_status, context(), what="reading the model health") or {}
    health, halt = status.get("health") or {}, status.get("halt") or {}
    if health.get("alarm"):
        stop = " New entries are **stopped** until a retrained model replaces it." if halt.get("active") else ""
        st.error(f"**Model health alarm** on {health['model_id']} (checked {health.get('checked_at', '?')[:19]}): "
                 + "; ".join(health.get("reasons", [])) + stop, icon=":material/warning:")  # fmt: skip


def _ci(m: dict | None) -> str:
    return f"{m['value']:.4f} [{m['lo']:.4f}, {m['hi']:.4f}]" if m else "—"


def health_panel() -> None:
    """Render the pinned model's health: drift, calibration, hit rate, with a button to run the check now."""
    st.subheader("Model health (pinned model)")
    ctx = context()
    d = ctx.settings.models.drift
    st.caption(f"Feature drift: PSI of each feature vs the training window (alarm when ≥ {pct(d.psi_share, 0)} of features exceed {d.psi_max:g}). "
               f"Calibration: Spiegelhalter z of live p(up) vs realised outcomes (alarm beyond ±{d.calibration_z:g}). Hit rate: Wilson "
               f"{pct(d.hit_rate_confidence, 0)} interval on n / horizon, alarm when it lies below the out-of-sample accuracy. Last {d.window} bars; "
               f"entry stop on alarm: {'on' if d.block_entries else 'off'} (models.drift.block_entries).")  # fmt: skip
    if st.button("Check model health now", key="models_health_check", icon=":material/monitor_heart:"):
        with st.spinner("checking the pinned model"):
            try:
                st.session_state["models_health"] = services.check_model_health(actor=actor(), ctx=ctx)
            except services.ModelNotFound as exc:
                st.info(f"{exc}")
            except (ValueError, KeyError, RuntimeError) as exc:
                st.error(f"Could not check the model health: {exc}")
    rep = st.session_state.get("models_health") or (services.health_status(ctx).get("health") or None)
    if not rep:
        st.caption("No health check yet: the scheduler runs one every models.drift.check_minutes, or press the button.")
        return
    alarm_banner() if rep.get("alarm") else st.success(f"{rep['model_id']}: every check within its bounds.", icon=":material/check_circle:")
    c = st.columns(4)
    c[0].metric("Live bars · outcomes", f"{rep['n_live']} · {rep['n_outcomes']}", f"{(rep.get('first_bar') or '')[:10]} → {(rep.get('last_bar') or '')[:10]}",
                delta_color="off")  # fmt: skip
    c[1].metric("Drifted features", f"{len(rep['drifted'])}/{rep.get('n_features', len(rep['psi']))}", "feature alarm" if rep["feature_alarm"] else "ok",
                delta_color="off")  # fmt: skip
    if rep.get("hit_rate") is not None:
        lo, hi = rep["hit_ci"]
        c[2].metric("Hit rate (live)", pct(rep['hit_rate'], 1), f"[{pct(lo, 1)}, {pct(hi, 1)}] vs OOS {pct(rep['oos_accuracy'], 1)}", delta_color="off")
        c[3].metric("Brier · calibration z", f"{rep['brier']:.3f} · {rep['calibration_z']:+.2f}", f"OOS Brier {rep['brier_oos'] or 0:.3f}", delta_color="off")
    else:
        c[2].caption("Not enough realised outcomes yet for calibration and hit rate.")
    left, right = st.columns(2)
    if rep["psi"]:
        psi = pd.Series(rep["psi"]).sort_values()
        fig = go.Figure(go.Bar(x=psi.to_numpy(), y=psi.index, orientation="h", marker_color=["#ef5350" if v > d.psi_max else "#26a69a" for v in psi]))
        fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), title="PSI vs training window (top 20)")
        left.plotly_chart(fig, width="stretch", key="models_psi")
    if rep.get("reliability"):
        rel = pd.DataFrame(rep["reliability"])
        fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="gray"), name="perfect"),
                         go.Scatter(x=rel["p_mean"], y=rel["observed"], mode="markers+lines", text=rel["n"], name="live")])  # fmt: skip
        fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), title="Reliability of live p(up)",
                          xaxis_title="mean p(up)", yaxis_title="share up")  # fmt: skip
        right.plotly_chart(fig, width="stretch", key="models_reliability")


def retrain_panel() -> None:
    """Render the retrain job's last run, next run, result and whether its model replaced the pinned one."""
    st.subheader("Retrain job")
    st_ = guarded(services.retrain_status, context(), what="reading the retrain status") or {}
    c = st.columns(4)
    c[0].metric("Last run", (st_.get("last_run") or "never")[:19].replace("T", " "), st_.get("result", ""), delta_color="off")
    c[1].metric("Next run (UTC)", st_.get("next_run", "")[5:16].replace("T", " "), st_.get("next_run", "")[:4], delta_color="off")
    c[2].metric("Model produced", st_.get("model_id") or "—")
    c[3].metric("Replaced the pinned model", "yes" if st_.get("replaced") else "no", f"rule: {st_.get('replace_rule')}", delta_color="off")
    if st_.get("reason"):
        st.caption(st_["reason"])


def ablation_panel(symbols: list[str]) -> None:
    """Render the sentiment ablation behind a button (it trains two walk-forwards)."""
    st.subheader("Sentiment ablation")
    st.caption("The same walk-forward with and without the causal news-sentiment features, on the same rows and folds; "
               "all figures out-of-sample with n and 95% CIs (n_eff = n / horizon). Nothing is saved.")  # fmt: skip
    with_news = [s for s in ("AAPL", "MSFT", "GOOG", "IBM") if s in symbols]
    pick = st.multiselect("Symbols (with bundled news)", with_news, default=with_news[:2], key="models_ablation_symbols")
    if st.button("Run ablation", key="models_ablation_run", icon=":material/science:", disabled=not pick,
                 help="Two walk-forwards (about a minute per symbol), in the background: the page stays usable meanwhile."):
        st.session_state.pop("models_ablation", None)
        start_in_background("models_ablation_task", services.sentiment_ablation, pick, preset="tiny", what="the ablation", process=True)
    done = background_result("models_ablation_task", "the ablation (two walk-forwards)")
    if done is not None:
        st.session_state["models_ablation"] = done
    rep = st.session_state.get("models_ablation")
    if rep:
        rows = [{"features": name, "n": rep[name]["n"], "ROC AUC": _ci(rep[name].get("roc_auc")), "accuracy": _ci(rep[name].get("accuracy")),
                 "log loss": _ci(rep[name].get("log_loss")), "Brier": _ci(rep[name].get("brier"))} for name in ("without", "with")]  # fmt: skip
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="models_ablation_table")
        diff = rep["difference"]
        st.markdown(f"**with − without**: log loss {_ci(diff['log_loss'])}, Brier {_ci(diff['brier'])}. {rep['verdict']}. "
                    f"Rows with a headline: {rep['news_coverage']['rows_with_headline']} of {rep['news_coverage']['rows']}.")  # fmt: skip


def exposure_panel(symbols: list[str]) -> None:
    """Render forecast-driven exposure: forecast vs realised, breach rates, Kupiec and Christoffersen."""
    st.subheader("Forecast-driven exposure")
    ctx = context()
    st.caption(f"risk.forecast_var is **{'on' if ctx.settings.risk.forecast_var else 'off'}** ({ctx.settings.risk.forecast_model}): the VaR budget "
               f"({pct(ctx.settings.risk.var_budget_pct, 1)} of equity) is checked against the next-bar forecast and the ensemble's targets are scaled to it. "
               "Below, a fully invested book with and without that scaling, through the risk engine.")  # fmt: skip
    c1, c2, c3 = st.columns(3)
    sym = c1.selectbox("Symbol", symbols, index=symbols.index("SPX") if "SPX" in symbols else 0, key="risk_fx_symbol")
    start = c2.text_input("From", "2008-01-01", key="risk_fx_start")
    end = c3.text_input("To", "2008-12-31", key="risk_fx_end")
    if st.button("Run the forecast backtest", key="risk_fx_run", icon=":material/query_stats:",
                 help="Fits a GARCH forecast per bar, in the background: the page stays usable meanwhile."):
        st.session_state.pop("risk_fx", None)
        start_in_background("risk_fx_task", services.forecast_exposure, sym, start, end, what="the forecast backtest", process=True)
    done = background_result("risk_fx_task", "the forecast backtest (a GARCH fit per bar)")
    if done is not None:
        st.session_state["risk_fx"] = done
    rep = st.session_state.get("risk_fx")
    if not rep:
        return
    rows = []
    for name in ("scaled", "unscaled"):
        for what, key in (("vs budget", "vs_budget"), ("vs forecast used", "forecast_vs_realised")):
            r = rep[name][key]
            rows.append({"book": name, "breaches of": what, "breaches": f"{r['breaches']}/{r['n']}", "rate": pct(r['rate']),
                         "expected": pct(r['expected_rate'], 1), "Kupiec p": round(r["kupiec_p"], 4), "Christoffersen ind p": round(r["ind_p"], 4),
                         "conditional coverage p": round(r["cc_p"], 4)})  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="risk_fx_table")
    s = rep["series"]["scaled"]
    fig = go.Figure([go.Scatter(x=naive(s.index), y=-s["realised"], mode="lines", name="realised loss (scaled book)", line=dict(color="#78909c", width=0.8)),
                     go.Scatter(x=naive(s.index), y=s["forecast_var"], mode="lines", name="forecast VaR used", line=dict(color="#ffca28"))])  # fmt: skip
    hit = s[-s["realised"] > s["forecast_var"]]
    fig.add_trace(go.Scatter(x=naive(hit.index), y=-hit["realised"], mode="markers", name="breach", marker=dict(color="#ef5350", size=7)))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), yaxis_tickformat=".1%",
                      title=f"{rep['symbol']}: forecast vs realised (mean exposure {pct(rep['scaled']['mean_scale'], 0)})")  # fmt: skip
    st.plotly_chart(fig, width="stretch", key="risk_fx_chart")


def session_forecast_panel() -> None:
    """Render the paper session's own forecasts against its realised returns (behind a button: a GARCH fit per bar)."""
    st.markdown("**The paper session's forecasts vs realised**")
    ctx = context()
    st.caption("At every processed bar's close, the next-bar VaR forecast of the book the session held (the risk engine's forecaster with the "
               "limits the session started with) against the next bar's equity return; bars without a position are left out.")  # fmt: skip
    if st.button("Test the session's forecasts", key="risk_fx_session", icon=":material/fact_check:"):
        with st.spinner("forecasting the held book at every bar"):
            try:
                st.session_state["risk_fx_session_rep"] = services.session_forecasts(ctx=ctx)
            except services.NoSession as exc:
                st.info(str(exc))
    rep = st.session_state.get("risk_fx_session_rep")
    if not rep:
        return
    c = rep["coverage"]
    used = "used by risk.forecast_var" if rep["used"] else "not used (risk.forecast_var was off when the session started)"
    if c is None:
        st.caption(f"Forecasts {used}; not enough bars with a position yet.")
        return
    st.dataframe(pd.DataFrame([{"forecaster": rep["model"], "forecasts": used, "breaches": f"{c['breaches']}/{c['n']}", "rate": pct(c["rate"]),
                                "expected": pct(c["expected_rate"], 1), "Kupiec p": round(c["kupiec_p"], 4),
                                "Christoffersen ind p": round(c["ind_p"], 4), "conditional coverage p": round(c["cc_p"], 4)}]),
                 hide_index=True, width="stretch", key="risk_fx_session_table")  # fmt: skip
    s = rep["series"]
    fig = go.Figure([go.Scatter(x=naive(s.index), y=-s["realised"], mode="lines", name="realised loss (next bar)", line=dict(color="#78909c", width=0.8)),
                     go.Scatter(x=naive(s.index), y=s["forecast_var"], mode="lines", name="forecast VaR of the held book",
                                line=dict(color="#ffca28"))])  # fmt: skip
    hit = s[-s["realised"] > s["forecast_var"]]
    fig.add_trace(go.Scatter(x=naive(hit.index), y=-hit["realised"], mode="markers", name="breach", marker=dict(color="#ef5350", size=7)))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), yaxis_tickformat=".2%",
                      title=f"Paper session {rep['account']}: forecast vs realised")  # fmt: skip
    st.plotly_chart(fig, width="stretch", key="risk_fx_session_chart")
