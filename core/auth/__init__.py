"""Authentication rules without any UI: who must sign in, password hashes, back-off, session timeout.

The Streamlit gate (``ui/auth.py``) and the CLI (``python -m core auth``) use these
through :mod:`core.services.auth`; nothing here imports Streamlit.
"""

from core.auth.exposure import client_key, is_loopback, login_required
from core.auth.password import PasswordError, check_new_password, check_user_name, hash_password, needs_rehash, verify_password
from core.auth.policy import FAILURE_MEMORY, backoff_seconds, session_expired

__all__ = [
    "FAILURE_MEMORY",
    "PasswordError",
    "backoff_seconds",
    "check_new_password",
    "check_user_name",
    "client_key",
    "hash_password",
    "is_loopback",
    "login_required",
    "needs_rehash",
    "session_expired",
    "verify_password",
]
