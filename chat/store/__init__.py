"""
What the server keeps across restarts: the lines said in rooms and the accounts of registered
nicks, behind one interface (L{chat.store.interface.Store}): in SQLite (L{chat.store.sqlite}), in
the Redis of a cluster (L{chat.store.redis}), shared by its nodes, or, for C{--state ''} and
tests, in memory (L{chat.store.memory}).
"""

from chat.store.interface import Account, Store
from chat.store.memory import MemoryStore
from chat.store.redis import RedisStore
from chat.store.sqlite import SQLiteStore

__all__ = ["Account", "MemoryStore", "RedisStore", "SQLiteStore", "Store"]
