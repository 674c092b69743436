"""A forwarder between the API and the project's own test server that passes a `COMMIT` on and cuts the
connection before PostgreSQL's answer comes back: the server keeps the transaction, the API never hears so."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

COMMIT_MESSAGE = b"Q\x00\x00\x00\x0bCOMMIT\x00"
"""The simple-protocol query psycopg sends to commit: 'Q', its length (4 + 7) and the text, NUL-ended."""


class CommitCutter:
    """A TCP forwarder to the real server. Once `arm()`ed, the next `COMMIT` a client sends reaches the server
    whole, and the client's connection is then cut before any answer: the server commits, the client never
    hears so (a crash, a network fault or a failover at that instant)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.armed = threading.Event()
        self.cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self) -> None:
        self.cut.clear()
        self.armed.set()

    def close(self) -> None:
        with suppress(OSError):
            self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _pipe(self, client: socket.socket, server: socket.socket) -> None:
        try:
            while True:
                readable, _, _ = select.select([client, server], [], [], 1.0)
                if server in readable:
                    data = server.recv(65536)
                    if not data:
                        return
                    client.sendall(data)
                if client in readable:
                    data = client.recv(65536)
                    if not data:
                        return
                    server.sendall(data)
                    if COMMIT_MESSAGE in data and self.armed.is_set():
                        self.armed.clear()
                        # The server has the whole COMMIT; the client is cut before its answer, the server is
                        # left to finish (its answer is read and dropped), as after a crash of the link.
                        client.shutdown(socket.SHUT_RDWR)
                        client.close()
                        self.cut.set()
                        server.shutdown(socket.SHUT_WR)
                        while server.recv(65536):
                            pass
                        return
        except (OSError, ValueError):
            return
        finally:
            for sock in (client, server):
                sock.close()


@contextmanager
def commit_cutter(database_url: str) -> Iterator[tuple[CommitCutter, str]]:
    """A cutter in front of the server of `database_url`, and the URL that goes through it."""
    given = conninfo_to_dict(database_url)
    made = CommitCutter((str(given.get("host") or "127.0.0.1"), int(given.get("port") or 5432)))
    try:
        parts = urlsplit(database_url)
        user = f"{parts.netloc.rpartition('@')[0]}@" if "@" in parts.netloc else ""
        yield made, urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{made.port}"))
    finally:
        made.close()


def redemptions(db: ConnectionPool) -> int:
    """Store credit taken at the till, as the ledger has it."""
    with db.connection() as connection:
        row = connection.execute("SELECT count(*) FROM ledger_transactions WHERE kind = 'store_credit_redemption'")
        found = row.fetchone()
    assert found is not None
    return int(found[0])


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
