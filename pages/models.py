"""Models: train the ensemble, its out-of-sample report, regimes over price, versions and the leakage audit.

Every score on this page comes from the walk-forward test folds (purged and
embargoed); in-sample scores are never shown.
"""

import importlib.util

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import services
from ui.auth import actor
from ui.charts import naive
from ui.common import background_result, context, guarded, start_in_background, task_result
from ui.trust import ablation_panel, health_panel, retrain_panel

OOS = "out-of-sample (walk-forward, purged, embargoed)"
# Hard-coded so the page does not import scikit-learn (core.models.ensemble.MEMBERS) on first render.
MEMBER_NAMES = {"rf": "random forest", "gb": "gradient boosting", "mlp": "neural net (MLP)", "cat": "CatBoost", "torch": "PyTorch sequence net"}
METRICS = {  # key -> (label, higher is better)
    "roc_auc": ("ROC AUC", True),
    "accuracy": ("accuracy", True),
    "balanced_accuracy": ("balanced accuracy", True),
    "log_loss": ("log loss", False),
    "brier": ("Brier score", False),
}
REGIME_COLORS = {"bull": "#26a69a", "bear": "#ef5350", "sideways": "#78909c", "volatile": "#ffa726", "crisis": "#ab47bc"}


@st.cache_data(ttl=600, show_spinner=False)
def _timeline(model_id: str, symbol: str) -> pd.DataFrame:
    return services.regime_timeline(symbol, model_id=model_id)


def _members() -> list[str]:
    names = ["rf", "gb", "mlp", "cat"]
    return [*names, "torch"] if importlib.util.find_spec("torch") is not None else names


def _ci(m: dict | None) -> str:
    return f"[{m['lo']:.3f}, {m['hi']:.3f}]" if m else "—"


def _val(m: dict | None) -> float | None:
    return round(m["value"], 4) if m else None


def _verdict(model: dict | None, base: dict | None, higher: bool) -> str:
    """Say whether the model's 95% CI clears the majority baseline's value."""
    if not model or not base:
        return "—"
    if (model["lo"] > base["value"]) if higher else (model["hi"] < base["value"]):
        return "better"
    if (model["hi"] < base["value"]) if higher else (model["lo"] > base["value"]):
        return "worse"
    return "not distinguishable"


def metrics_table(overall: dict, baselines: dict) -> pd.DataFrame:
    """Return one row per metric: the ensemble, both baselines, each with its 95% CI, and n."""
    maj, coin = baselines.get("majority", {}), baselines.get("coin_flip", {})
    rows = []
    for key, (label, higher) in METRICS.items():
        rows.append({
            "metric": label, "ensemble": _val(overall.get(key)), "ensemble 95% CI": _ci(overall.get(key)),
            "majority class": _val(maj.get(key)), "majority 95% CI": _ci(maj.get(key)),
            "coin flip": _val(coin.get(key)), "coin flip 95% CI": _ci(coin.get(key)),
            "vs majority": _verdict(overall.get(key), maj.get(key), higher),
            "n": overall.get("n"), "n_eff": round(overall.get("n_eff", 0.0), 1),
        })  # fmt: skip
    return pd.DataFrame(rows)


def folds_table(folds: list[dict]) -> pd.DataFrame:
    """Return one row per walk-forward fold: train/test ranges and sizes, scores with CIs, the majority baseline."""
    rows = []
    for f in folds:
        m, maj = f["metrics"], f["baselines"]["majority"]
        rows.append({
            "fold": f["fold"], "train": f"{f['train']['start'][:10]} → {f['train']['end'][:10]}", "train n": f["train"]["n"],
            "test": f"{f['test']['start'][:10]} → {f['test']['end'][:10]}", "test n": m.get("n"),
            "ROC AUC": _val(m.get("roc_auc")), "ROC AUC 95% CI": _ci(m.get("roc_auc")),
            "accuracy": _val(m.get("accuracy")), "accuracy 95% CI": _ci(m.get("accuracy")),
            "majority accuracy": _val(maj.get("accuracy")), "log loss": _val(m.get("log_loss")),
        })  # fmt: skip
    return pd.DataFrame(rows)


def calibration_figure(cal: dict) -> go.Figure:
    """Return the reliability curve (predicted vs observed share of ups) with the count per bin under it."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.06)
    lo = min([*cal["prob_pred"], *cal["prob_true"], 0.3]) - 0.02
    hi = max([*cal["prob_pred"], *cal["prob_true"], 0.7]) + 0.02
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(color="#888", dash="dash"), name="perfectly calibrated"), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=cal["prob_pred"], y=cal["prob_true"], mode="lines+markers", marker=dict(size=9, color="#42a5f5"), name="ensemble",
        customdata=cal["count"], hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>n = %{customdata}<extra></extra>",
    ), row=1, col=1)  # fmt: skip
    gaps = np.diff(sorted(cal["prob_pred"]))
    width = 0.7 * float(gaps[gaps > 0].min()) if (gaps > 0).any() else 0.01
    fig.add_trace(go.Bar(x=cal["prob_pred"], y=cal["count"], marker_color="#42a5f5", opacity=0.6, name="predictions per bin", width=width), row=2, col=1)
    fig.update_xaxes(title_text="predicted p(up)", row=2, col=1, range=[lo, hi])
    fig.update_yaxes(title_text="observed share up", row=1, col=1, range=[lo, hi])
    fig.update_yaxes(title_text="n", row=2, col=1)
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=40, b=10), title="Reliability curve (quantile bins)",
                      legend=dict(x=0.01, y=0.99, xanchor="left", yanchor="top", bgcolor="rgba(0,0,0,0.4)"))  # fmt: skip
    return fig


def importance_figure(importance: list[dict], top: int = 20) -> go.Figure:
    """Return a horizontal bar chart of the top permutation importances (mean ± std)."""
    rows = importance[:top][::-1]  # largest at the top
    fig = go.Figure(go.Bar(
        x=[r["mean"] for r in rows], y=[r["feature"] for r in rows], orientation="h", marker_color="#26a69a",
        error_x=dict(type="data", array=[r["std"] for r in rows], color="#aaa"),
    ))  # fmt: skip
    fig.update_layout(height=max(320, 24 * len(rows) + 80), margin=dict(l=10, r=10, t=40, b=10),
                      title=f"Top {len(rows)} features: drop in ROC AUC when shuffled", xaxis_title="mean AUC drop (± std)")  # fmt: skip
    return fig


def regime_figure(tl: pd.DataFrame, symbol: str) -> go.Figure:
    """Return the close with a colour band of the regime of each bar under it."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.86, 0.14], vertical_spacing=0.02)
    fig.add_trace(go.Scatter(x=naive(tl.index), y=tl["close"], mode="lines", line=dict(color="#e0e0e0", width=1.2), name="close",
                             showlegend=False), row=1, col=1)
    names = [r for r in REGIME_COLORS if (tl["regime"] == r).any()] or sorted(tl["regime"].unique())
    code = {r: i for i, r in enumerate(names)}
    z = tl["regime"].map(code).to_numpy(dtype=float)
    n = max(len(names), 1)
    # Discrete colour scale: each regime owns an equal slice of [0, 1].
    scale = []
    for i, r in enumerate(names):
        c = REGIME_COLORS.get(r, "#9e9e9e")
        scale += [[i / n, c], [(i + 1) / n, c]]
    fig.add_trace(go.Heatmap(
        x=naive(tl.index), z=[z], zmin=-0.5, zmax=n - 0.5, colorscale=scale, showscale=False, customdata=[tl["regime"].to_numpy()],
        hovertemplate="%{x|%Y-%m-%d}: %{customdata}<extra></extra>",
    ), row=2, col=1)  # fmt: skip
    for r in names:  # legend entries for the band colours
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", marker=dict(symbol="square", size=12, color=REGIME_COLORS.get(r, "#9e9e9e")), name=r))
    fig.update_yaxes(showticklabels=False, row=2, col=1)
    # Log scale: a decade of a trending series stays readable from start to end.
    fig.update_yaxes(title_text="close (log)", type="log", dtick="D2", row=1, col=1)
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=70, b=10), title=f"{symbol}: close, with each bar's regime in the band under it",
                      legend=dict(orientation="h", y=1.0, x=0, xanchor="left", yanchor="bottom"))  # fmt: skip
    return fig


def _start_training() -> None:
    """On click, before the page reruns: start the training, so this very run shows it running."""
    from ui import auth  # callbacks run before app.py's gate: a timed-out session must not act

    if not auth.session_valid():
        return
    ss = st.session_state
    task = services.start_training(ss["models_symbols"], int(ss["models_horizon"]), preset=ss["models_preset"], members=tuple(ss["models_members"]),
                                   n_splits=int(ss["models_folds"]), sentiment=bool(ss["models_sentiment"]), actor=actor())  # fmt: skip
    ss["models_training"] = task.key


def train_panel(symbols: list[str], expanded: bool) -> bool:
    """Render the training controls and the session's training task; return True once a model from it is saved.

    Training runs in the background (``services.start_training``): the click returns at once, a
    progress bar follows the task, and the rest of the page stays usable until the new model appears.
    """
    with st.expander("Train a new model", expanded=expanded, icon=":material/model_training:"):
        c1, c2, c3 = st.columns([3, 1, 1])
        default = [s for s in ("AAPL",) if s in symbols] or symbols[:1]
        picked = c1.multiselect("Symbols (pooled)", symbols, default=default, key="models_symbols",
                                help="Bundled daily series. Pooling more symbols gives more samples and takes longer.")  # fmt: skip
        # the click's callback (_start_training) reads these from the session state
        c2.number_input("Horizon (bars)", min_value=1, max_value=60, value=5, step=1, key="models_horizon",
                        help="Label: does the close rise over the next N bars?")  # fmt: skip
        c3.selectbox("Preset", ["tiny", "fast"], key="models_preset",
                     help="tiny: a few small trees and nets, well under a minute per symbol. fast: larger models, a few minutes.")  # fmt: skip
        c4, c5 = st.columns([3, 1])
        members = c4.multiselect("Ensemble members", _members(), default=_members(), format_func=lambda m: MEMBER_NAMES.get(m, m), key="models_members")
        c5.number_input("Walk-forward folds", min_value=2, max_value=10, value=5, step=1, key="models_folds")
        st.checkbox("News-sentiment features", value=context().settings.models.features.sentiment, key="models_sentiment",
                    help="Add the causal news features (news_count, news_sentiment, news_sentiment_ewm) for symbols with "
                         "headlines; default models.features.sentiment. The ablation below shows what they change.")  # fmt: skip
        task = services.task(st.session_state.get("models_training", ""))
        busy = task is not None and task.running
        st.button("Train", type="primary", key="models_train", icon=":material/model_training:", disabled=not picked or not members or busy,
                  on_click=_start_training, help="Runs in the background: keep using the page meanwhile." if not busy else
                  "A training of this session is running.")  # fmt: skip
        if not picked or not members:
            st.caption("Pick at least one symbol and one member.")
        if task is None:
            return False
        result = task_result(task, task.label)
        if result is None:
            if task.state == "failed":
                st.caption("Try fewer folds, a shorter horizon or more symbols (each fold needs enough rows of both classes).")
            return False
        if st.session_state.get("models_training_seen") != task.key:
            # Select the new model once: the selector below is created later in this run, so its state may still be set.
            st.session_state["models_training_seen"] = task.key
            st.session_state["models_selected"] = st.session_state["models_pick"] = result["model_id"]
        auc = (result["overall"].get("roc_auc") or {}).get("value")
        st.success(f"Saved **{result['model_id']}** in {task.elapsed:.0f} s: {result['n_samples']:,} samples, {result['n_folds']} folds, "
                   f"ROC AUC {OOS} = {auc:.3f} (n = {result['overall']['n']:,})." if auc is not None else f"Saved {result['model_id']}.")  # fmt: skip
        return True


def versions_panel(models: list[dict]) -> str:
    """Render the model versions table and selector; return the chosen model id."""
    st.subheader("Model versions")
    df = pd.DataFrame(models)
    df["symbols"] = df["symbols"].str.join(", ")
    for col in ("created", "data_start", "data_end"):
        df[col] = [services.format_ts(v, with_time=col == "created") for v in df[col]]
    df = df.rename(columns={
        "data_start": "data from", "data_end": "data to",
        "roc_auc": "ROC AUC (out-of-sample)", "accuracy": "accuracy (out-of-sample)", "n": "n (out-of-sample)",
    })  # fmt: skip
    st.dataframe(df.drop(columns=["kind"]).round(4), hide_index=True, width="stretch", key="models_versions")
    ids = [m["id"] for m in models]
    wanted = st.session_state.get("models_selected")
    label = {m["id"]: f"{m['id']} · {', '.join(m['symbols'])} · h={m['horizon']}" for m in models}
    return st.selectbox("Model", ids, index=ids.index(wanted) if wanted in ids else 0, format_func=label.get, key="models_pick")


def use_for_paper_panel(model_id: str) -> None:
    """Render "Use this model for paper trading" for the chosen version: pin it, or say why the session refuses it."""
    pinned = guarded(services.pinned_model, what="reading the paper session's model") or {}
    if pinned.get("session") and pinned.get("model_id") == model_id:
        st.caption(f":material/push_pin: The paper session trades **{model_id}**.")
    if st.button("Use this model for paper trading", key="models_use_paper", icon=":material/push_pin:",
                 help="Pins this version for the paper session. Refused when its training data reaches into the session's traded bars "
                      "(it must end an embargo of 5 bars before the session's first traded bar)."):  # fmt: skip
        try:
            done = services.use_model_for_paper(model_id, actor=actor())
        except ValueError as exc:
            st.error(f"Not pinned: {exc}", icon=":material/block:")
            return
        after = done["effective_after"]
        st.success(f"Pinned **{model_id}** for paper trading"
                   + (f": it trades the bars after {services.format_ts(after)}; the bars before keep their model." if after else
                      " from the session's first traded bar." + (" A paper session was set up for it: switch paper trading on in the sidebar."
                                                                 if done["session_started"] else "")))  # fmt: skip


def _report_or_missing(model_id: str) -> tuple[dict | None, Exception | None]:
    try:
        return services.model_report(model_id), None
    except services.ModelNotFound as exc:
        return None, exc


def report_panel(model_id: str, symbols: list[str]) -> None:
    """Render the chosen model's out-of-sample report, regimes over price and the leakage audit."""
    rep, missing = guarded(_report_or_missing, model_id, what=f"loading model {model_id}") or (None, None)
    if missing is not None:  # a user situation (file deleted or moved), not a bug: say what to do
        st.error(f"{missing}. Train a new model above.")
        return
    if rep is None:
        st.caption("The model file may be missing or unreadable: train a new one above.")
        return
    overall, params = rep["overall"], rep.get("params", {})
    st.subheader("Walk-forward evaluation")
    st.caption(f"All scores are **{OOS}**: each fold is scored on later data the model never saw, with labels overlapping a test "
               f"fold purged from training and an embargo of {params.get('embargo', '?')} bars after it. "
               f"n = {overall.get('n', 0):,} test predictions; the 95% CIs use n_eff = n / horizon ≈ {overall.get('n_eff', 0):,.0f} "
               "because labels over a horizon overlap.")  # fmt: skip
    c = st.columns(4)
    auc, acc = overall.get("roc_auc"), overall.get("accuracy")
    level, verdict = services.edge_verdict(auc)
    (st.success if level == "edge" else st.warning)(verdict, icon=":material/balance:")
    # CIs are shown as plain text under the value: no arrow, no colour that reads as "good"
    c[0].metric("ROC AUC, out-of-sample", f"{auc['value']:.3f}" if auc else "—", f"95 % CI {_ci(auc)}", delta_color="off", delta_arrow="off", help=OOS)
    c[1].metric("Accuracy, out-of-sample", f"{acc['value']:.3f}" if acc else "—", f"95 % CI {_ci(acc)}", delta_color="off", delta_arrow="off", help=OOS)
    c[2].metric("n (test predictions)", f"{overall.get('n', 0):,}", f"n_eff ≈ {overall.get('n_eff', 0):,.0f}", delta_color="off", delta_arrow="off")
    c[3].metric("Folds · horizon", f"{rep.get('n_folds', '?')} · {rep['horizon']} bars", f"preset {params.get('preset', '?')}", delta_color="off",
                delta_arrow="off")
    st.markdown(f"**Overall, {OOS}, against the baselines** (majority class = always the training folds' majority; coin flip = p 0.5)")
    st.dataframe(metrics_table(overall, rep["baselines"]), hide_index=True, width="stretch", key="models_metrics")
    st.caption("'vs majority': *better* only when the ensemble's 95% CI lies entirely beyond the majority baseline's value.")
    st.markdown(f"**Per fold, {OOS}**")
    st.dataframe(folds_table(rep["folds"]), hide_index=True, width="stretch", key="models_folds_table")

    left, right = st.columns(2)
    with left:
        cal = rep.get("calibration") or {}
        if cal.get("prob_pred"):
            st.plotly_chart(calibration_figure(cal), width="stretch", key="models_calibration")
            st.caption(f"Calibration of the {OOS} predictions; hover a point for the number of predictions in its bin.")
        else:
            st.caption("No calibration curve: the test folds hold a single class.")
    with right:
        if rep.get("importance"):
            st.plotly_chart(importance_figure(rep["importance"]), width="stretch", key="models_importance")
            st.caption("Permutation importance on the last walk-forward test fold (rows the fold's model never saw).")
        else:
            st.caption("No feature importance for this model (it was trained with importance_rows=0).")

    own = [s for s in rep["symbols"] if s in symbols]
    options = own + [s for s in symbols if s not in own]
    regime_panel(model_id, options, own, params.get("regime") is not None)
    audit_panel(model_id, options)


@st.fragment
def regime_panel(model_id: str, options: list[str], own: list[str], has_regime: bool) -> None:
    """Render the close of a chosen symbol over its regime band (a fragment: switching symbols reruns only this)."""
    st.subheader("Regime timeline")
    sym = st.selectbox("Symbol", options, key="models_regime_symbol",
                       help="The model's own symbols use its fitted regime classifier; others get one fitted on their first bars.")  # fmt: skip
    if not has_regime:
        st.caption("This model was trained without a regime classifier.")
        return
    if sym in own:  # the model's fitted classifier: a filter pass, fast
        tl = guarded(_timeline, model_id, sym, what=f"classifying the regimes of {sym}")
    else:  # a Markov fit on the symbol's first bars (about a second): in a worker process, once per server
        task = services.start_task(f"regime:{model_id}:{sym}", services.regime_timeline, sym, model_id=model_id, process=True)
        tl = task_result(task, f"classifying the regimes of {sym}")
    if tl is not None and len(tl):
        st.plotly_chart(regime_figure(tl, sym), width="stretch", key="models_regimes")
        share = tl["regime"].value_counts(normalize=True).mul(100).round(1)
        st.caption("Share of bars: " + " · ".join(f"{k} {v}%" for k, v in share.items()) + ". Each bar's regime uses only bars up to it.")


@st.fragment
def audit_panel(model_id: str, options: list[str]) -> None:
    """Render the leakage audit behind a button (a fragment: running it leaves the rest of the page alone)."""
    st.subheader("Leakage audit")
    st.caption("Recomputes every feature, the ensemble's p(up), the regime and the forecast-driven exposure scale on the series cut at "
               "random bars and compares with the full series: any difference means a value used a later bar.")  # fmt: skip
    a1, a2 = st.columns([1, 3])
    audit_sym = a1.selectbox("Audit symbol", options, key="models_audit_symbol")
    if a2.button("Run leakage audit", key="models_audit", icon=":material/policy:",
                 help="Recomputes the features and predictions at each cut point (a second or two), in the background."):  # fmt: skip
        # a thread of this process (it reuses the loaded model): the click returns at once and the page stays usable
        start_in_background("models_audit_task", services.audit, audit_sym, model_id=model_id, what=f"the leakage audit of {audit_sym}")
    done = background_result("models_audit_task", f"the leakage audit of {audit_sym}")
    if done is not None:
        st.session_state["models_audit_result"] = done
    res = st.session_state.get("models_audit_result")
    if res and res.get("model_id") == model_id:
        pts = ", ".join(p[:10] for p in res["points"])
        if res.get("features_ok", res["ok"]):
            st.success(f"No leakage in {res['symbol']}: {res['columns_checked']} columns identical at {len(res['points'])} cut points ({pts}).")
        else:
            st.error(f"Leakage in {res['symbol']}: {', '.join(res['offending'])} changed when later bars were removed. "
                     "Do not trade this model; fix those features and retrain.")  # fmt: skip
            st.json(res["details"], expanded=False)
        ex = res.get("exposure")
        if ex is not None and ex.get("skipped"):
            st.caption(f"Forecast-driven exposure not audited: {ex['skipped']}.")
        elif ex is not None and ex["ok"]:
            st.success(f"Forecast-driven exposure ({ex['model']}, budget {ex['budget']:.1%}): forecast VaR, exposure scale and equity identical "
                       f"on the series cut at {len(ex['points'])} bars.")  # fmt: skip
        elif ex is not None:
            st.error(f"Leakage in forecast-driven exposure: {', '.join(ex['offending'])} changed when later bars were removed.")
        for w in res.get("session_models", []):
            window = (f"Paper session model **{w['model_id']}**: trained on {services.format_ts(w['trained_from'])} → "
                      f"{services.format_ts(w['trained_to'])}, trades from {services.format_ts(w['trades_from'])} "
                      f"({w['gap_bars']} bars between; the embargo needs 5)")
            (st.error if w["overlap"] else st.success)(window + (": it trades bars it was trained on." if w["overlap"] else ": no overlap."))


st.title("Models")
ctx = context()
symbols = guarded(services.list_symbols, "1d", ctx, what="listing the bundled daily symbols") or []
models = guarded(services.list_models, ctx=ctx, what="listing the trained models")
if models is None:
    st.stop()
empty_state = st.empty()
if not models:
    empty_state.info("No model yet — train one. Pick symbols and press **Train**: the walk-forward evaluation, the final fit and the saved "
            "model appear here (preset *tiny* takes well under a minute per symbol).", icon=":material/model_training:")  # fmt: skip
# open on an empty store, and for the rest of the session once it has started a training: the first rerun after the
# training saves its model would otherwise collapse the panel (models is no longer empty) and hide the "Saved" line
if train_panel(symbols, expanded=not models or "models_training" in st.session_state):
    empty_state.empty()
models = guarded(services.list_models, ctx=ctx, what="listing the trained models") or []
if models:
    chosen = versions_panel(models)
    use_for_paper_panel(chosen)
    report_panel(chosen, symbols)
    health_panel()
retrain_panel()
ablation_panel(symbols)
