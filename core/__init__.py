"""Core of the AI trading platform: data, features, models, risk, execution, storage.

``core`` never imports Streamlit; pages, jobs, notebooks and the CLI call
:mod:`core.services`.
"""

__version__ = "0.1.0"
