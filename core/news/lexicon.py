"""Finance terms for the VADER scorer, in VADER's valence scale (-4 .. +4).

The word list follows the idea of Loughran and McDonald (2011): general-purpose
lexicons misread financial text, both by missing its polar words ("plunge",
"downgrade", "beats") and by scoring words that are neutral in finance ("share",
"interest", "credit", "crude", "gross", "liability"). The entries below are our
own, written for headlines; they are not the Loughran–McDonald dictionary.
"""

from __future__ import annotations

# Neutral in finance although general lexicons give them a polarity.
NEUTRALISED: dict[
    str, float] = {w: 0.0 for w in ["share", "shares", "credit", "interest", "interests", "gross", "crude",
    "liability", "liabilities", "capital", "vice", "tax", "taxes", "fine", "funds", "fund", "top", "leave", "leaves",
    "board", "cost", "costs", "security", "securities", "bull", "bear",
]}

POSITIVE: dict[str, float] = {
    # Price moves up.
    "soar": 2.6, "soars": 2.6, "soared": 2.6, "soaring": 2.6, "surge": 2.4, "surges": 2.4, "surged": 2.4, "surging": 2.4,
    "jump": 1.9, "jumps": 1.9, "jumped": 1.9, "rally": 2.0, "rallies": 2.0, "rallied": 2.0, "rebound": 1.6, "rebounds": 1.6,
    "rise": 1.4, "rises": 1.4, "rose": 1.4, "climb": 1.4, "climbs": 1.4, "climbed": 1.4, "gain": 1.8, "gains": 1.8, "gained": 1.8,
    "advance": 1.2, "advances": 1.2, "tops": 1.6, "topped": 1.6, "skyrocket": 2.8, "skyrockets": 2.8, "rockets": 2.4,
    "recover": 1.4, "recovers": 1.4, "recovery": 1.4, "upturn": 1.6, "highs": 1.4, "peak": 1.0, "milestone": 1.6,
    # Results and guidance.
    "beat": 1.8, "beats": 1.8, "exceed": 1.8, "exceeds": 1.8, "exceeded": 1.8, "outperform": 2.0, "outperforms": 2.0,
    "profitable": 2.2, "profitability": 1.6, "record": 1.3, "robust": 1.8, "upbeat": 2.0, "bullish": 2.2, "upgrade": 2.2,
    "upgrades": 2.2, "upgraded": 2.2, "raises": 1.2, "raised": 1.2, "lifts": 1.4, "boosted": 1.6, "expands": 1.2, "expand": 1.0,
    "strengthen": 1.6, "strengthens": 1.6, "dividend": 0.8, "buyback": 1.4, "repurchase": 1.0, "accepts": 1.0, "adopts": 1.0,
    "approves": 1.6, "approved": 1.6, "breakthrough": 2.4, "launch": 0.8, "launches": 0.8, "unveils": 0.9, "unveiled": 0.9,
    "introduces": 0.8, "debut": 1.0, "debuts": 1.0, "popular": 1.6, "demand": 0.6, "wins": 2.0, "won": 2.0, "triumph": 2.8,
    "overturn": 1.0, "overturns": 1.0, "overturned": 1.0, "embraces": 1.6, "invests": 1.2, "invest": 1.0, "backs": 1.0,
}

NEGATIVE: dict[str, float] = {
    # Price moves down.
    "plunge": -2.8, "plunges": -2.8, "plunged": -2.8, "plummet": -3.0, "plummets": -3.0, "tumble": -2.4, "tumbles": -2.4,
    "tumbled": -2.4, "slump": -2.4, "slumps": -2.4, "slumped": -2.4, "sink": -2.0, "sinks": -2.0, "sank": -2.0, "slide": -1.8,
    "slides": -1.8, "slid": -1.8, "fall": -1.6, "falls": -1.6, "fell": -1.6, "falling": -1.6, "drop": -1.6, "drops": -1.6,
    "dropped": -1.6, "decline": -1.6, "declines": -1.6, "declined": -1.6, "dip": -1.0, "dips": -1.0, "slip": -1.2, "slips": -1.2,
    "crashes": -3.0, "crashed": -3.0, "selloff": -2.4, "sell-off": -2.4, "rout": -2.6, "lows": -1.6, "lowest": -1.6,
    "bearish": -2.2, "volatile": -1.0, "turmoil": -2.6, "panic": -3.0, "meltdown": -3.2, "collapse": -3.0, "collapses": -3.0,
    "wipes": -2.0, "erases": -1.8, "sheds": -1.6, "retreat": -1.2, "retreats": -1.2,
    # Results, guidance and corporate trouble.
    "misses": -2.0, "missed": -2.0, "shortfall": -2.2, "warns": -2.0, "warned": -2.0, "writedown": -2.4, "write-down": -2.4,
    "writeoff": -2.4, "charge": -1.0, "downgrade": -2.2, "downgrades": -2.2, "downgraded": -2.2, "underperform": -2.0,
    "unprofitable": -2.2, "layoffs": -2.4, "lays": -1.0, "cutting": -1.2, "slowdown": -2.0, "slowing": -1.4, "weaker": -1.8,
    "weakens": -1.8, "losses": -2.0, "deficit": -1.6, "bankruptcy": -3.4, "insolvent": -3.2, "default": -2.6, "defaults": -2.6,
    "delisted": -2.8, "recall": -1.6, "recalls": -1.6, "halt": -1.6, "halts": -1.6, "halted": -1.6, "suspends": -1.8,
    "suspended": -1.8, "scrapped": -1.6, "abandons": -1.6, "withdraws": -1.2, "delay": -1.2, "delays": -1.2, "delayed": -1.2,
    # Legal and regulatory.
    "antitrust": -1.2, "probe": -1.6, "probes": -1.6, "investigation": -1.6, "sues": -1.8, "sued": -1.8, "lawsuit": -1.8,
    "fined": -2.2, "penalty": -2.0, "infringed": -1.6, "infringes": -1.6, "breakup": -2.2, "break-up": -2.2, "crackdown": -2.4,
    "bans": -2.4, "banned": -2.4, "illegal": -2.6, "fraud": -3.2, "violated": -2.4, "violates": -2.4, "subpoena": -1.8,
    "hack": -2.6, "hacked": -2.6, "breach": -2.2, "stolen": -2.6, "theft": -2.6, "scam": -2.8, "exploit": -2.0,
    "resigns": -1.4, "ousted": -2.2, "dies": -2.6, "died": -2.6, "illness": -2.0, "surgery": -1.2, "downgrading": -2.2,
}

# Multi-word expressions VADER cannot see word by word; they are joined into one
# token (spaces become underscores) before scoring and carry these valences.
PHRASES: dict[str, float] = {
    "beats estimates": 2.4, "beat estimates": 2.4, "tops estimates": 2.4, "tops forecasts": 2.4, "beats forecasts": 2.4,
    "beats expectations": 2.4, "above estimates": 2.0, "better than expected": 2.2, "record high": 2.2, "all-time high": 2.4,
    "record profit": 2.6, "record revenue": 2.4, "record sales": 2.4, "raises dividend": 2.0, "raises outlook": 2.2,
    "raises forecast": 2.2, "first-ever dividend": 2.0, "most valuable": 2.2, "price target raised": 2.0,
    "misses estimates": -2.4, "miss estimates": -2.4, "misses forecasts": -2.4, "below estimates": -2.0, "falls short": -2.2,
    "fall short": -2.2, "worse than expected": -2.2, "short of estimates": -2.2, "lowest since": -2.0, "record low": -2.4,
    "profit warning": -2.6, "cuts forecast": -2.2, "cuts outlook": -2.2, "lowers outlook": -2.2, "job cuts": -2.4,
    "cut jobs": -2.4, "cuts jobs": -2.4, "lay off": -2.4, "lays off": -2.4, "files for bankruptcy": -3.4, "first loss": -2.6, "record loss": -2.6,
    "quarterly loss": -2.4, "net loss": -2.2, "bear market": -2.6, "bull market": 2.2, "price cut": -0.8, "medical leave": -2.2,
    "steps down": -1.2, "step down": -1.2, "legal tender": 1.6, "rate cut": 1.2, "cuts rates": 1.2,
    "cuts rate": 1.2, "raises rates": -1.0, "raises rate": -1.0, "near zero": 0.6, "sell off": -2.4,
}


def finance_lexicon() -> dict[str, float]:
    """Return every single-word and phrase entry (phrases keyed with underscores)."""
    out = {**NEUTRALISED, **POSITIVE, **NEGATIVE}
    out.update({p.replace(" ", "_"): v for p, v in PHRASES.items()})
    return out
