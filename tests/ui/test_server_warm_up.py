"""The server's start-up warm-up runs cleanly: a failure there is only logged by the server (a speed-up, not a start
condition), so without this test a broken import or chart helper in it would pass unnoticed and cold loads would slow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_warm_up_runs_to_the_end_and_fills_plotly_s_validator_cache(tmp_path: Path) -> None:
    code = ("import server, plotly.validator_cache as vc; "
            "before = len(vc.ValidatorCache._cache); server.warm_up(); after = len(vc.ValidatorCache._cache); "
            "print(before, after)")
    env = {"APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "APP__LOG__DIR": str(tmp_path / "logs"),
           "APP__DATA__MODELS_DIR": str(tmp_path / "models"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = (int(x) for x in out.stdout.split()[-2:])
    # the candlestick, heatmap, scatter, pie, bar and indicator properties the pages set are validated once, here
    assert after > before + 50, (before, after)
