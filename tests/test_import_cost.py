"""What a page's first load imports: the facade and the risk engine must not pull in scikit-learn, scipy.stats or arch.

Each of those cost a cold page load 1-5 s (issue 18: first load < 2 s); they are imported
where a model is trained or scored, or a GARCH model is fitted, not on import.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sklearn", "scipy.stats", "arch", "statsmodels", "catboost", "torch")


def _imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_the_facade_and_the_risk_engine_import_no_heavy_library():
    assert _imported_after("from core import services\nimport core.risk.limits, core.strategies, core.services.risk_views") == []


def test_the_facade_still_resolves_every_name_and_keeps_functions_named_like_submodules():
    code = ("from core import services\nimport core.services.backtest, core.services.dashboard, core.services.alerts\n"
            "assert callable(services.backtest) and callable(services.dashboard) and callable(services.alerts)\n"
            "missing = [n for n in services.__all__ if getattr(services, n, None) is None]\nassert not missing, missing")
    _imported_after(code)  # check=True: an assertion in the child fails the test
