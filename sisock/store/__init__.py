"""A live node's recorded history: an in-memory buffer per timeline in front of a SQLite log."""

from sisock.store.sqlite import StoreError
from sisock.store.store import Store

__all__ = ["Store", "StoreError"]
