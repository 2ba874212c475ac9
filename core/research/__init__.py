"""Research at scale: parameter sweeps, walk-forward optimisation, the deflated Sharpe ratio and the PBO, on Dask.

Pages, the CLI and notebooks reach this through :mod:`core.services.research`.
"""

from core.research.dsr import DeflatedSharpe, deflated_sharpe, expected_max_sharpe, probabilistic_sharpe
from core.research.executor import DaskExecutor, SequentialExecutor
from core.research.grid import combinations, parse_grid
from core.research.pbo import PboResult, probability_of_overfitting
from core.research.sweep import SweepResult, load_sweep, run_sweep

__all__ = ["DaskExecutor", "DeflatedSharpe", "PboResult", "SequentialExecutor", "SweepResult", "combinations", "deflated_sharpe",
           "expected_max_sharpe", "load_sweep", "parse_grid", "probabilistic_sharpe", "probability_of_overfitting", "run_sweep"]
