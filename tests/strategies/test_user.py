"""The strategies folder: files found by name, broken files reported with file and line, never raised."""

import os
import textwrap

import pandas as pd
import pytest

from core.strategies import user
from core.strategies.catalog import merged
from core.strategies.vectorised import SignalStrategy, Strategy
from tests.conftest import ROOT

GOOD = '''\
"""Trend: long above the 50-bar average."""
PARAMS = {"window": 50}
WARMUP = 60


def signals(bars, window=50):
    return (bars["close"] > bars["close"].rolling(window).mean()).astype(float)
'''

EVENT = '''\
from core.engine import Strategy


class FirstBar(Strategy):
    """Buy on the first bar."""

    name = "first_bar"
    defaults = {"side": 1}

    def on_bar(self, ctx):
        for s in ctx.symbols:
            if len(ctx.history(s)) == 1:
                ctx.target(s, self.params["side"])
'''


def write(folder, name, text):
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_signals_file_and_a_strategy_subclass_are_found_by_name(tmp_path):
    write(tmp_path, "trend", GOOD)
    write(tmp_path, "events", EVENT)
    write(tmp_path, "_helper", "raise SystemExit('never imported')")
    found, broken = user.user_strategies(tmp_path)
    assert not broken and sorted(found) == ["first_bar", "trend"]
    trend = found["trend"]
    assert issubclass(trend, SignalStrategy) and trend.defaults == {"window": 50} and trend().warmup_bars() == 60
    assert trend.source == str(tmp_path / "trend.py") and "long above" in trend.__doc__
    assert issubclass(found["first_bar"], Strategy) and found["first_bar"]().get_params() == {"side": 1}
    bars = pd.read_parquet(ROOT / "data/sample/AAPL__1d.parquet")
    assert trend().check(bars).ok


@pytest.mark.parametrize(("text", "line", "words"), [
    ("import numpy\n\ndef signals(bars):\n    return bars.close *\n", 4, "syntax error"),
    ("import not_a_module_anywhere\n", 1, "ModuleNotFoundError"),
    ("X = 1\n\nY = 1 / 0\n", 3, "ZeroDivisionError"),
    ("PARAMS = [1, 2]\n\ndef signals(bars):\n    return bars.close * 0\n", 1, "PARAMS must be a dict"),
    ("PARAMS = {'n': 5}\n\n\ndef signals(bars):\n    return bars.close * 0\n", 1, "takes no such argument"),
    ("WARMUP = 0\n\ndef signals(bars):\n    return bars.close * 0\n", 1, "WARMUP must be a positive"),
    ("STOP = {'stop_pct': 5}\n\ndef signals(bars):\n    return bars.close * 0\n", 1, "fraction in (0, 1)"),
    ("def signals():\n    return 0\n", 1, "first argument"),
    ("VALUE = 3\n", 1, "defines neither signals"),
])  # fmt: skip
def test_broken_files_get_one_line_with_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, "bad", text)
    found, broken = user.user_strategies(tmp_path)
    assert found == {}
    assert len(broken) == 1 and broken[0].error.startswith(f"{path}:{line}:") and words in broken[0].error
    assert "\n" not in broken[0].error


def test_a_user_file_cannot_take_a_library_name_and_a_changed_file_is_reloaded(tmp_path):
    write(tmp_path, "macd_trend", GOOD)
    mine = write(tmp_path, "mine", GOOD)
    known, origin, errors = merged({}, tmp_path)
    assert origin["macd_trend"] == "library" and origin["mine"] == "user"
    assert any("taken by a library strategy" in e for e in errors)
    first = known["mine"]
    assert merged({}, tmp_path)[0]["mine"] is first  # cached while the file is unchanged
    mine.write_text(GOOD.replace('"window": 50', '"window": 30'))
    os.utime(mine, ns=(mine.stat().st_atime_ns, mine.stat().st_mtime_ns + 10**9))
    assert merged({}, tmp_path)[0]["mine"].defaults == {"window": 30}


def test_the_folder_comes_from_the_strategies_dir_setting(tmp_path, monkeypatch):
    from core.config import load_settings
    from core.services import Context

    monkeypatch.setenv("APP__STRATEGIES__DIR", str(tmp_path / "mine"))
    settings = load_settings(config_file=None, env_file=str(tmp_path / "none.env"), store={"database_url": f"sqlite:///{tmp_path}/x.db"},
                             log={"dir": str(tmp_path)})
    assert settings.strategies.dir == str(tmp_path / "mine")
    try:
        Context.create(settings)
        assert user.strategies_dir() == tmp_path / "mine"
    finally:
        user.configure(None)
    assert user.strategies_dir() == ROOT / "strategies"
