"""The bundled set of real, dated headlines (``data/news/headlines.csv``): news with no network."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from core.clock import Clock
from core.news.fetchers.base import FetchResult
from core.news.model import NewsError, make_item

COLUMNS = ["published", "symbols", "source", "label", "title"]


def read_headlines(path: str | Path) -> list[dict]:
    """Return the rows of a bundled headline file as dicts (``symbols`` split on ``;``).

    Raises
    ------
    NewsError
        When the file is missing or lacks a column.
    """
    path = Path(path)
    if not path.exists():
        raise NewsError(f"bundled headlines not found at {path}: restore data/news/headlines.csv or set news.bundled_file")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise NewsError(f"{path} lacks column(s) {', '.join(missing)}: expected {', '.join(COLUMNS)}")
        rows = []
        for row in reader:
            row["symbols"] = [s.strip() for s in (row["symbols"] or "").split(";") if s.strip()]
            rows.append(row)
    return rows


class BundledFetcher:
    """Serve the bundled headlines; they are historical, so the time window is ignored."""

    name = "bundled"

    def __init__(self, path: str | Path, clock: Clock) -> None:
        self.path = Path(path)
        self.clock = clock

    def fetch(self, since: datetime | None = None, until: datetime | None = None) -> FetchResult:
        """Return every bundled headline (with the bundled label kept in ``extra``)."""
        result = FetchResult(self.name)
        try:
            rows = read_headlines(self.path)
        except NewsError as exc:
            result.errors.append(str(exc))
            return result
        now = self.clock.now()
        for n, row in enumerate(rows):
            try:
                published = datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
                result.items.append(make_item(row["title"], published, now, row["source"], symbols=row["symbols"], gold_label=row["label"]))
            except (NewsError, ValueError) as exc:
                result.errors.append(f"bundled {self.path.name}: row {n + 2} skipped ({exc})")
        return result
