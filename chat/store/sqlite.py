"""
The state store in one SQLite file, the default (C{--state PATH}).

One connection, used by one thread (an L{adbapi.ConnectionPool} of exactly one), does every
read and write, so that the reactor thread never waits for the disk and writes never contend.
The file is in WAL mode with C{synchronous=NORMAL}: a commit is in the operating system's hands
once C{COMMIT} returns, so a killed process (C{SIGKILL}) loses no committed line; a power cut
may lose the last commits, never corrupt the file.  What a kill can lose is the lines still
queued for the writer, said within the last reactor turn or two.

The schema is versioned by C{PRAGMA user_version} and upgraded in place when the store starts:
each entry of L{UPGRADES} takes the file from one version to the next, in one transaction.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

from twisted.enterprise import adbapi
from twisted.internet import defer
from twisted.internet.interfaces import IReactorCore, IReactorTime
from twisted.logger import Logger

from chat import events
from chat.names import foldNick, foldRoom
from chat.store.interface import Account, Rule
from chat.store.queue import TurnQueue

_Cursor = sqlite3.Cursor

UPGRADES: list[tuple[str, ...]] = [
    # 1: the lines said in rooms.
    (
        "CREATE TABLE lines (id INTEGER PRIMARY KEY, room TEXT NOT NULL, roomName TEXT NOT NULL,"
        " time REAL NOT NULL, nick TEXT NOT NULL, text TEXT NOT NULL, action INTEGER NOT NULL)",
        "CREATE INDEX linesByRoom ON lines (room, id)",
        "CREATE INDEX linesByTime ON lines (time)",
    ),
    # 2: accounts.
    (
        "CREATE TABLE accounts (nick TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " passwordHash TEXT NOT NULL, created REAL NOT NULL)",
    ),
    # 3: moderation rules: bans, mutes, ops, owners, locks, server bans, ignores.
    (
        "CREATE TABLE rules (kind TEXT NOT NULL, scope TEXT NOT NULL, target TEXT NOT NULL,"
        " until REAL NOT NULL, reason TEXT NOT NULL, byNick TEXT NOT NULL, created REAL NOT NULL,"
        " PRIMARY KEY (kind, scope, target))",
    ),
]

SCHEMA_VERSION = len(UPGRADES)


def _connected(connection: sqlite3.Connection) -> None:
    """
    Set up a new connection, in the writer thread: the file readable by this user alone, as it
    holds password hashes (SQLite gives its C{-wal} and C{-shm} files the same mode).
    """
    path = connection.execute("PRAGMA database_list").fetchone()[2]
    if path:
        os.chmod(path, 0o600)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")


def upgrade(cursor: _Cursor) -> tuple[int, int]:
    """
    Bring the schema up to L{SCHEMA_VERSION}; return the (old, new) versions.
    """
    old = cursor.execute("PRAGMA user_version").fetchone()[0]
    if old > SCHEMA_VERSION:
        raise RuntimeError(
            f"The state file has schema version {old}, newer than this server's {SCHEMA_VERSION}"
        )
    if old == SCHEMA_VERSION:
        return old, old
    if not cursor.connection.in_transaction:
        cursor.execute("BEGIN")  # sqlite3 opens none for DDL: make the upgrade all or nothing
    for version in range(old, SCHEMA_VERSION):
        for statement in UPGRADES[version]:
            cursor.execute(statement)
    # PRAGMA takes no parameters; the version is an int.
    cursor.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
    return old, SCHEMA_VERSION


def _said(row: tuple[str, float, str, str, int]) -> events.Said:
    roomName, time, nick, text, action = row
    return events.Said(roomName, nick, text, time, bool(action))


class SQLiteStore(TurnQueue):
    """
    A L{chat.store.interface.Store} in the SQLite file C{path}.
    """

    shared = False
    log = Logger()

    def __init__(self, reactor: IReactorCore | IReactorTime, path: str) -> None:
        TurnQueue.__init__(self, reactor)
        self.path = path
        self._reactor = reactor
        # Made by start, not here: a service that is built but never started opens no file.
        self._pool: adbapi.ConnectionPool | None = None
        self._flushing: defer.Deferred[None] | None = None

    def _run(self, interaction: Callable[..., object], *args: object) -> defer.Deferred:
        if self._pool is None:
            return defer.fail(RuntimeError(f"The state file {self.path} is not open"))
        return self._pool.runInteraction(interaction, *args)

    def _read(self, interaction: Callable[..., object], *args: object) -> defer.Deferred:
        """
        Run C{interaction} after the lines queued so far are written: the one thread runs
        them in order, so that a reader sees every line said before it asked.
        """
        if self._queued or self._queuedRules:
            self._writeQueued()
        return self._run(interaction, *args)

    def start(self) -> defer.Deferred[None]:
        self._pool = adbapi.ConnectionPool(
            "sqlite3",
            self.path,
            check_same_thread=False,
            cp_min=1,
            cp_max=1,
            cp_openfun=_connected,
            cp_reactor=self._reactor,
            cp_noisy=False,
        )
        def upgraded(versions: tuple[int, int]) -> None:
            old, new = versions
            if old != new:
                self.log.info(
                    "State file {path}: schema upgraded from version {old} to {new}",
                    path=self.path,
                    old=old,
                    new=new,
                )

        return self._run(upgrade).addCallback(upgraded)

    def stop(self) -> defer.Deferred[None]:
        def close(result: object) -> object:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            return result

        return self._writeQueued().addBoth(close)

    # Lines

    def addLine(self, said: events.Said) -> None:
        self._queued.append(said)
        self._writeSoon()

    def _writeQueued(self) -> defer.Deferred[None]:
        """
        Hand the queued lines to the writer thread, as one transaction.
        """
        queued, rules = self._takeQueued()
        if not queued and not rules:
            return defer.succeed(None)
        rows = [
            (foldRoom(said.room), said.room, said.time, said.nick, said.text, int(said.action))
            for said in queued
        ]

        def write(cursor: _Cursor) -> None:
            if rows:
                cursor.executemany(
                    "INSERT INTO lines (room, roomName, time, nick, text, action)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
            for rule, key in rules:
                if rule is not None:
                    cursor.execute(
                        "INSERT OR REPLACE INTO rules (kind, scope, target, until, reason, byNick,"
                        " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (rule.kind, rule.scope, rule.target, rule.until, rule.reason, rule.by,
                         rule.created),
                    )
                else:
                    cursor.execute(
                        "DELETE FROM rules WHERE kind = ? AND scope = ? AND target = ?", key
                    )

        def failed(failure):
            self.log.failure(
                "Writing {count} lines and {rules} rule changes to {path}",
                failure,
                count=len(rows),
                rules=len(rules),
                path=self.path,
            )

        return self._run(write).addErrback(failed)

    def lines(self, room: str, limit: int) -> defer.Deferred[list[events.Said]]:
        def read(cursor: _Cursor) -> list[events.Said]:
            cursor.execute(
                "SELECT roomName, time, nick, text, action FROM lines WHERE room = ?"
                " ORDER BY id DESC LIMIT ?",
                (foldRoom(room), limit),
            )
            return [_said(row) for row in reversed(cursor.fetchall())]

        return self._read(read)

    def recentLines(self, limit: int) -> defer.Deferred[dict[str, list[events.Said]]]:
        def read(cursor: _Cursor) -> dict[str, list[events.Said]]:
            cursor.execute(
                "SELECT room, roomName, time, nick, text, action FROM"
                " (SELECT *, ROW_NUMBER() OVER (PARTITION BY room ORDER BY id DESC) AS age"
                "  FROM lines) WHERE age <= ? ORDER BY id",
                (limit,),
            )
            rooms: dict[str, list[events.Said]] = {}
            for key, *row in cursor.fetchall():
                rooms.setdefault(key, []).append(_said(tuple(row)))
            return rooms

        return self._read(read)

    def prune(self, before: float) -> defer.Deferred[int]:
        def delete(cursor: _Cursor) -> int:
            cursor.execute("DELETE FROM lines WHERE time < ?", (before,))
            return cursor.rowcount

        return self._read(delete)

    # Accounts

    def account(self, nick: str) -> defer.Deferred[Account | None]:
        def read(cursor: _Cursor) -> Account | None:
            cursor.execute(
                "SELECT name, passwordHash, created FROM accounts WHERE nick = ?", (foldNick(nick),)
            )
            row = cursor.fetchone()
            return None if row is None else Account(*row)

        return self._run(read)

    def registeredNicks(self) -> defer.Deferred[list[str]]:
        def read(cursor: _Cursor) -> list[str]:
            cursor.execute("SELECT name FROM accounts")
            return [name for (name,) in cursor.fetchall()]

        return self._run(read)

    def createAccount(self, account: Account) -> defer.Deferred[bool]:
        def insert(cursor: _Cursor) -> bool:
            cursor.execute(
                "INSERT OR IGNORE INTO accounts (nick, name, passwordHash, created)"
                " VALUES (?, ?, ?, ?)",
                (foldNick(account.nick), account.nick, account.passwordHash, account.created),
            )
            return cursor.rowcount == 1

        return self._run(insert)

    def setPassword(self, nick: str, passwordHash: str) -> defer.Deferred[None]:
        def update(cursor: _Cursor) -> None:
            cursor.execute(
                "UPDATE accounts SET passwordHash = ? WHERE nick = ?", (passwordHash, foldNick(nick))
            )

        return self._run(update)

    def deleteAccount(self, nick: str) -> defer.Deferred[None]:
        def delete(cursor: _Cursor) -> None:
            cursor.execute("DELETE FROM accounts WHERE nick = ?", (foldNick(nick),))

        return self._run(delete)

    # Moderation rules

    def rules(self) -> defer.Deferred[list[Rule]]:
        def read(cursor: _Cursor) -> list[Rule]:
            cursor.execute(
                "SELECT kind, scope, target, until, reason, byNick, created FROM rules"
            )
            return [Rule(*row) for row in cursor.fetchall()]

        return self._read(read)

