"""Local fakes of the venues' REST APIs (Binance, Alpaca, Kite) for tests; see docs/brokers.md.

Import them as ``from fakes.binance_fake import BinanceFake`` (pytest puts ``tests/`` on
``sys.path``; the name ``tests`` itself is taken by a package installed in the venv).
"""
