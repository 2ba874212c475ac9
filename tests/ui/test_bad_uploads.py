"""The pages under the same malformed inputs as the CLI (tests/test_bad_input.py), through AppTest.

Backtest page: every malformed file of the CLI table uploaded as CSV and as Parquet; Settings:
out-of-range and non-finite limits; Trading: malformed manual tickets. For each input: no
exception on the page, an ``st.error`` of at most a few lines (or the widget refusing the
value), and the store unchanged. The tally goes to ``test-artifacts/bad_input_counts_pages.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import sqlalchemy as sa
from bad_inputs import CSV_ONLY, FRAME_DEFECTS, PARQUET_ONLY, good_frame, parquet_bytes, write
from streamlit.testing.v1 import AppTest

from core import services

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
MAX_LINES = 3


def _snapshot(ctx) -> dict[str, int]:
    with ctx.store.engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {n: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in names}


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _check(at: AppTest, label: str, tally: dict[str, int], problems: list[str]) -> None:
    tally["inputs"] += 1
    errors = _errors(at)
    if at.exception:
        tally["tracebacks"] += 1
        problems.append(f"{label}: page exception {[e.message for e in at.exception]}")
    elif not errors:
        tally["silent_accepts"] += 1
        problems.append(f"{label}: no error shown")
    elif any(len(e.strip().splitlines()) > MAX_LINES or "Traceback" in e or "a bug: please report" in e for e in errors):
        tally["tracebacks"] += 1
        problems.append(f"{label}: unclear error {errors}")
    else:
        tally["clear_errors"] += 1


def _write_tally(name: str, tally: dict[str, int]) -> None:
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    path = out / "bad_input_counts_pages.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = tally
    path.write_text(json.dumps(data, indent=2))


def _bytes(frame, suffix: str, tmp_path: Path) -> bytes:
    return write(frame, tmp_path / f"f{suffix}").read_bytes()


def test_backtest_upload_refuses_every_malformed_file(ctx, tmp_path):
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/backtest.py").run()
    at.radio(key="bt_source").set_value("Upload file").run()
    assert not at.exception
    base = good_frame()
    uploads = [(f"{name}.{fmt}", _bytes(mutate(base), f".{fmt}", tmp_path)) for name, (mutate, _) in FRAME_DEFECTS.items() for fmt in ("csv", "parquet")]
    uploads += [(f"{name}.csv", content) for name, content in CSV_ONLY.items() if content]  # the uploader itself refuses empty files
    uploads += [(f"{name}.parquet", parquet_bytes(mutate(base))) for name, mutate in PARQUET_ONLY.items()]
    uploads.append(("corrupt.parquet", _bytes(base, ".parquet", tmp_path)[:300]))
    uploads.append(("csv_text.parquet", _bytes(base, ".csv", tmp_path)))
    tally = dict.fromkeys(("inputs", "clear_errors", "tracebacks", "silent_accepts"), 0)
    problems: list[str] = []
    before = _snapshot(ctx)
    for name, content in uploads:
        mime = "text/csv" if name.endswith(".csv") else "application/octet-stream"
        at.file_uploader(key="bt_upload").set_value((name, content, mime))
        at.button(key="bt_run").click().run()
        _check(at, name, tally, problems)
        if "bt_result" in at.session_state:
            problems.append(f"{name}: a result was kept")
    assert _snapshot(ctx) == before, "nothing may be stored"
    _write_tally("backtest_upload", tally)
    assert not problems, "\n".join(problems)
    assert tally["inputs"] >= 130

    # The control: the good frame runs, and --repair's twin on the page drops and lists a bad tick.
    at.file_uploader(key="bt_upload").set_value(("good.parquet", _bytes(base, ".parquet", tmp_path), "application/octet-stream"))
    at.button(key="bt_run").click().run()
    assert not at.exception and not _errors(at) and at.session_state["bt_result"][0].report["bars"] == 120
    at.file_uploader(key="bt_upload").set_value(("tick.csv", _bytes(FRAME_DEFECTS["bad_tick_up_1000x"][0](base), ".csv", tmp_path), "text/csv"))
    at.checkbox(key="bt_repair").check()
    at.button(key="bt_run").click().run()
    assert not at.exception and not _errors(at)
    assert any("dropped 1 likely bad tick" in w.value for w in at.warning)
    assert at.session_state["bt_result"][0].report["bars"] == 119


def _bounds(key: str) -> tuple[dict[str, float], bool]:
    """Return the bounds (gt/ge/lt/le) of the setting behind a Settings widget key, and whether it is a whole number."""
    from core.config import RiskSettings, StopSettings, TradingSettings

    model, name = ((TradingSettings, key.removeprefix("set_fill_")) if key.startswith("set_fill_")
                   else (StopSettings, key.removeprefix("set_stop_")) if key.startswith("set_stop_") else (RiskSettings, key.removeprefix("set_")))
    field = model.model_fields[name]
    bounds = {k: float(getattr(m, k)) for m in field.metadata for k in ("gt", "ge", "lt", "le") if getattr(m, k, None) is not None}
    return bounds, field.annotation is int


def _bad_values(key: str, scale: float) -> list[tuple[float, str]]:
    """Values just outside the setting's bounds, in the widget's units, with the bound the message must state."""
    bounds, whole = _bounds(key)
    out = []
    for k, bound in bounds.items():
        shown = bound * scale
        outside = {"gt": shown, "ge": shown - (1 if whole else 0.5 * max(abs(shown), 1)), "lt": shown,
                   "le": shown + (1 if whole else 0.5 * max(abs(shown), 1))}[k]
        out.append((outside, f"{shown:g}"))
    if whole:
        out.append((2.5, "whole number"))
    return out


def test_settings_forms_refuse_each_bad_value_by_name(ctx):
    """Each number of the risk-limit and fill-model forms, alone outside its bounds: an error naming the field, nothing stored."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    saved = (services.risk_limits(ctx).model_dump(), services.fill_defaults(ctx))
    tally = dict.fromkeys(("inputs", "clear_errors", "tracebacks", "silent_accepts"), 0)
    problems: list[str] = []
    before = _snapshot(ctx)
    keys = [w.key for w in at.number_input if w.key.startswith("set_")]
    assert len(keys) >= 17  # ten limits, four stop values, three fill costs
    for key in keys:
        widget = at.number_input(key=key)
        label, original = widget.label, widget.value
        scale = 100 if "%" in label else 1
        submit = "Save fill model" if key.startswith("set_fill_") else "Save risk limits"
        for bad, bound in _bad_values(key, scale):
            tally["inputs"] += 1
            at.number_input(key=key).set_value(bad)
            next(b for b in at.button if b.label == submit).click().run()
            errors = _errors(at)
            name = label.split(" (")[0]
            if at.exception:
                tally["tracebacks"] += 1
                problems.append(f"{label}={bad}: exception")
            elif not errors or any(s.value.startswith(("Risk limits saved", "Fill model saved")) for s in at.success):
                tally["silent_accepts"] += 1
                problems.append(f"{label}={bad}: no error")
            elif not (len(errors) == 1 and len(errors[0].splitlines()) <= MAX_LINES and name in errors[0] and f"{bad:g}" in errors[0]
                      and bound in errors[0]):
                tally["tracebacks"] += 1
                problems.append(f"{label}={bad}: unclear error {errors} (wanted {name!r}, {bad:g} and {bound!r})")
            else:
                tally["clear_errors"] += 1
            at.number_input(key=key).set_value(original)
    assert (services.risk_limits(ctx).model_dump(), services.fill_defaults(ctx)) == saved
    assert _snapshot(ctx) == before, "a refused form stores and audits nothing"
    _write_tally("settings_forms", tally)
    assert not problems, "\n".join(problems)
    assert tally["inputs"] >= 30


def test_settings_widgets_drop_non_finite_values(ctx):
    """NaN and infinity cannot be typed into a number box: the widget keeps its value, so nothing odd is stored."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/settings.py").run()
    saved = (services.risk_limits(ctx).model_dump(), services.fill_defaults(ctx))
    tally = dict.fromkeys(("inputs", "refused_by_the_widget", "tracebacks", "silent_accepts"), 0)
    for key in ("set_max_position_pct", "set_kelly_fraction", "set_stop_percent", "set_fill_commission"):
        for bad in (math.nan, math.inf, -math.inf):
            tally["inputs"] += 1
            at.number_input(key=key).set_value(bad)
            submit = "Save fill model" if key.startswith("set_fill_") else "Save risk limits"
            next(b for b in at.button if b.label == submit).click().run()
            kept = at.number_input(key=key).value
            assert not at.exception and math.isfinite(kept), (key, bad, kept)
            tally["refused_by_the_widget"] += 1
    assert (services.risk_limits(ctx).model_dump(), services.fill_defaults(ctx)) == saved
    _write_tally("settings_widgets", tally)


@pytest.mark.parametrize("values", [{"max_drawdown_pct": 0.5}, {"kelly_fraction": math.nan}, {"max_order_notional": math.inf},
                                    {"max_position_pct": "five"}, {"max_orders_per_minute": 2.5}, {"max_positon_pct": 0.1}])
def test_save_risk_limits_behind_the_form_refuses_and_stores_nothing(ctx, values):
    from core.config import ConfigError

    before = _snapshot(ctx)
    with pytest.raises(ConfigError) as err:
        services.save_risk_limits(values, ctx=ctx)
    assert len(str(err.value).splitlines()) == 1 and "risk" in str(err.value)
    assert _snapshot(ctx) == before


TICKETS = [
    {"tk_qty": 0.0},
    {"tk_type": "limit", "tk_limit": 0.0},
    {"tk_type": "stop", "tk_stop": 0.0},
    {"tk_type": "stop_limit", "tk_stop": 0.0},
    {"tk_type": "stop_limit", "tk_limit": 0.0},
    {"tk_type": "trailing_stop", "tk_trail": 0.0},
    {"tk_class": "bracket", "tk_tp": 0.0, "tk_sl": 0.0},
    {"tk_class": "oco", "tk_oco_limit": 0.0},
    # added by a later audit: both were queued silently
    {"tk_type": "trailing_stop", "tk_trail": 150.0},
    {"tk_type": "trailing_stop", "tk_trail": 100.0},
    {"tk_class": "bracket", "tk_tp": 10.0, "tk_sl": 1000.0},
    {"tk_class": "bracket", "tk_type": "limit", "tk_limit": 50.0, "tk_tp": 100.0, "tk_sl": 60.0},
]


def test_manual_ticket_refuses_malformed_orders(ctx):
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/trading.py").run()
    assert not at.exception
    tally = dict.fromkeys(("inputs", "clear_errors", "tracebacks", "silent_accepts"), 0)
    problems: list[str] = []
    before = _snapshot(ctx)
    for ticket in TICKETS:
        for button in ("tk_preview", "tk_submit"):
            fields = {"tk_class": "simple", "tk_type": "market", **ticket}
            at.radio(key="tk_class").set_value(fields.pop("tk_class")).run()
            at.selectbox(key="tk_type").set_value(fields.pop("tk_type")).run()
            at.number_input(key="tk_qty").set_value(fields.pop("tk_qty", 10.0))
            for key, value in fields.items():
                at.number_input(key=key).set_value(value)
            at.button(key=button).click().run()
            _check(at, f"{ticket} via {button}", tally, problems)
    assert _snapshot(ctx) == before, "a malformed ticket must not be audited or queued"
    assert services.pending_manual_orders(ctx) == []
    _write_tally("manual_ticket", tally)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("setup", "must"), [
    (lambda at: at.multiselect(key="bt_symbols").set_value([]), "symbol"),
    (lambda at: at.number_input(key="bt_p_sma_cross_fast").set_value(30), "fast < slow"),
    (lambda at: at.number_input(key="bt_p_sma_cross_slow").set_value(5000), "needs at least"),
    (lambda at: at.number_input(key="bt_p_sma_cross_fast").set_value(20), "fast < slow"),
], ids=["no_symbol", "fast_above_slow", "slow_longer_than_the_data", "equal_windows"])
def test_backtest_page_refuses_bad_parameters_without_a_result(ctx, setup, must):
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/backtest.py").run()
    before = _snapshot(ctx)
    setup(at)
    at.button(key="bt_run").click().run()
    tally = dict.fromkeys(("inputs", "clear_errors", "tracebacks", "silent_accepts"), 0)
    problems: list[str] = []
    _check(at, must, tally, problems)
    assert not problems, problems
    assert any(must in e for e in _errors(at)), _errors(at)
    assert "bt_result" not in at.session_state and _snapshot(ctx) == before
