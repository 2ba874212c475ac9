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
from bad_inputs import CSV_ONLY, FRAME_DEFECTS, good_frame, write
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
    uploads.append(("corrupt.parquet", _bytes(base, ".parquet", tmp_path)[:300]))
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
    assert tally["inputs"] >= 80

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


def test_settings_form_never_stores_a_bad_limit(ctx):
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    saved = services.risk_limits(ctx).model_dump()
    before = _snapshot(ctx)
    tally = dict.fromkeys(("inputs", "refused_by_the_form", "tracebacks", "silent_accepts"), 0)
    problems = []
    for index in range(len(at.number_input)):
        widget = at.number_input[index]
        bads = [*([widget.max * 100] if widget.max else []), -1.0]  # an unbounded widget (validation by the service): -1 is out of every range
        if not isinstance(widget.value, int):  # an integer widget cannot even carry NaN from the browser
            bads += [math.nan, math.inf]
        for bad in bads:
            tally["inputs"] += 1
            at.number_input[index].set_value(bad)
            at.button[0].click().run()
            if at.exception:
                tally["tracebacks"] += 1
                problems.append(f"{widget.label}={bad}: exception")
            elif services.risk_limits(ctx).model_dump() != saved:
                tally["silent_accepts"] += 1
                problems.append(f"{widget.label}={bad}: stored")
            else:
                tally["refused_by_the_form"] += 1
    assert services.risk_limits(ctx).model_dump() == saved
    assert {k: v for k, v in _snapshot(ctx).items() if k not in ("audit_log", "settings")} == {
        k: v for k, v in before.items() if k not in ("audit_log", "settings")}  # a save of the unchanged limits is audited
    _write_tally("settings_form", tally)
    assert not problems, "\n".join(problems)


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
