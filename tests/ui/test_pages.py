"""Every page renders through streamlit's AppTest on a fresh store."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app(ctx):
    at = AppTest.from_file(APP, default_timeout=60)
    return at


def test_dashboard_renders_candlestick_and_switches_symbol(app):
    app.run()
    assert not app.exception
    assert app.title[0].value == "Dashboard"
    box = app.selectbox(key="dash_symbol")
    assert "AAPL · 1d" in box.options and box.value == "AAPL · 1d"
    box.set_value("MSFT · 1d").run()
    assert not app.exception
    charts = app.get("plotly_chart")
    assert len(charts) == 1 and "MSFT" in charts[0].proto.spec
