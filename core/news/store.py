"""Read and write news items in the ``news_items`` table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import select

from core.news.dedupe import merge
from core.news.model import NewsItem
from core.store.repo import Store
from core.store.tables import NewsItemRow


def _to_row(item: NewsItem) -> NewsItemRow:
    return NewsItemRow(
        id=item.id, published=item.published, fetched=item.fetched, source=item.source[:128], title=item.title,
        url=item.url, summary=item.summary, symbols=",".join(item.symbols), sentiment=item.sentiment, label=item.label,
    )


def _from_row(row: NewsItemRow) -> NewsItem:
    return NewsItem(
        id=row.id, title=row.title, published=row.published, fetched=row.fetched, source=row.source, url=row.url,
        summary=row.summary, symbols=tuple(s for s in (row.symbols or "").split(",") if s),
        sentiment=row.sentiment, label=row.label,
    )


class NewsRepo:
    """News items in ``store``; saving the same story twice merges it, never duplicates or drops it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, items: Iterable[NewsItem]) -> tuple[int, int]:
        """Insert new items and merge known ones (symbols, sources, earliest time); return (inserted, updated)."""
        items = list(items)
        inserted = updated = 0
        with self.store.session() as s:
            existing = {}
            ids = [i.id for i in items]
            for chunk in range(0, len(ids), 500):
                for row in s.exec(select(NewsItemRow).where(NewsItemRow.id.in_(ids[chunk : chunk + 500]))):
                    existing[row.id] = row
            for item in items:
                row = existing.get(item.id)
                if row is None:
                    row = _to_row(item)
                    s.add(row)
                    existing[item.id] = row
                    inserted += 1
                    continue
                merged = merge(_from_row(row), item)
                new = _to_row(merged)
                changed = False
                for col in ("published", "fetched", "source", "url", "summary", "symbols", "sentiment", "label"):
                    if getattr(row, col) != getattr(new, col):
                        setattr(row, col, getattr(new, col))
                        changed = True
                if changed:
                    s.add(row)
                    updated += 1
        return inserted, updated

    def list(
        self, symbol: str | None = None, limit: int | None = 100, since: datetime | None = None, until: datetime | None = None, newest_first: bool = True
    ) -> list[NewsItem]:
        """Return stored items, optionally only those tagged ``symbol`` and published in [since, until]."""
        q = select(NewsItemRow)
        if symbol:
            sym = symbol.upper()
            lit = sym.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")  # a literal inside LIKE
            col = NewsItemRow.symbols
            q = q.where(sa.or_(col == sym, *(col.like(p, escape="\\") for p in (f"{lit},%", f"%,{lit}", f"%,{lit},%"))))
        if since is not None:
            q = q.where(NewsItemRow.published >= since)
        if until is not None:
            q = q.where(NewsItemRow.published <= until)
        order = NewsItemRow.published.desc() if newest_first else NewsItemRow.published.asc()
        q = q.order_by(order, NewsItemRow.id)
        if limit:
            q = q.limit(limit)
        with self.store.session() as s:
            return [_from_row(r) for r in s.exec(q)]

    def count(self) -> int:
        """Return how many items are stored."""
        with self.store.session() as s:
            return int(s.exec(select(sa.func.count()).select_from(NewsItemRow)).one())
