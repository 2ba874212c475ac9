"""Persistence: sqlmodel tables, Alembic migrations, repositories."""

from core.store.db import StoreError, dispose_all, get_engine, migrate, safe_url
from core.store.repo import Store

__all__ = ["Store", "StoreError", "dispose_all", "get_engine", "migrate", "safe_url"]
