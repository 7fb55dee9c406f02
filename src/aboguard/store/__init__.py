"""Persistence. Services see only the Protocols in :mod:`aboguard.store.uow`; the SQLAlchemy adapter
behind them is wired by :mod:`aboguard.bootstrap`."""
