"""Tag headlines with the symbols they are about: tickers and company names via an alias map."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from core.news.model import NewsItem

# Names people write instead of the ticker. Users extend or override this with
# ``news.aliases`` in the settings (``{"AAPL": ["Apple", "iPhone maker"]}``).
DEFAULT_ALIASES: dict[str, list[str]] = {
    "AAPL": ["Apple", "iPhone", "iPad", "iPod", "iTunes", "Steve Jobs", "Tim Cook"],
    "MSFT": ["Microsoft", "Windows", "Xbox", "Ballmer", "Bill Gates", "Nadella"],
    "IBM": ["IBM", "International Business Machines", "Big Blue"],
    "GOOG": ["Google", "Alphabet", "YouTube", "Android"],
    "BTC-USD": ["Bitcoin", "BTC", "crypto", "cryptocurrency", "cryptocurrencies"],
    "SPX": ["S&P 500", "S&P", "Dow", "Nasdaq", "Wall Street", "Federal Reserve", "Fed"],
}


def _alias_pattern(alias: str) -> re.Pattern[str]:
    # Short capitalised aliases ("Fed", "Dow", "BTC") are acronyms or names: match their
    # case exactly so "fed up" or "dow" in a word never tags the index.
    flags = 0 if (len(alias) <= 4 and any(c.isupper() for c in alias)) else re.IGNORECASE
    return re.compile(r"(?<![\w$&])" + re.escape(alias) + r"(?:'s|s)?(?![\w&])", flags)


class SymbolTagger:
    """Find which symbols a headline mentions.

    Parameters
    ----------
    symbols
        The tickers to look for (``AAPL``, ``BTC-USD``...). A ticker matches as a
        whole word in upper case or with a ``$`` cashtag; for ``BASE-QUOTE`` pairs
        the base (``BTC``) matches too.
    aliases
        Extra names per ticker, merged over :data:`DEFAULT_ALIASES`.
    """

    def __init__(self, symbols: Iterable[str], aliases: Mapping[str, Iterable[str]] | None = None) -> None:
        self.symbols = [s.upper() for s in symbols]
        merged = {k: list(v) for k, v in DEFAULT_ALIASES.items()}
        for key, names in (aliases or {}).items():
            merged.setdefault(key.upper(), [])
            merged[key.upper()] = list(dict.fromkeys([*merged[key.upper()], *names]))
        self._patterns: dict[str, list[re.Pattern[str]]] = {}
        for symbol in self.symbols:
            words = [symbol, *([symbol.split("-")[0]] if "-" in symbol else [])]
            pats = [re.compile(r"(?<![\w$])\$?" + re.escape(w) + r"(?![\w-])") for w in words]
            pats += [_alias_pattern(a) for a in merged.get(symbol, [])]
            self._patterns[symbol] = pats

    def tags(self, text: str) -> tuple[str, ...]:
        """Return the symbols ``text`` mentions, in configured order."""
        return tuple(s for s, pats in self._patterns.items() if any(p.search(text) for p in pats))

    def tag(self, item: NewsItem) -> NewsItem:
        """Return ``item`` with the found symbols added to those it already carries."""
        found = self.tags(f"{item.title}\n{item.summary or ''}")
        merged = tuple(dict.fromkeys([*item.symbols, *found]))
        return item if merged == item.symbols else item.with_(symbols=merged)
