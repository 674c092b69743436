"""A pool whose server was away for a while connects again within seconds of its return, however long the outage
lasted: psycopg's pool doubles the wait between its attempts without a bound (1, 2, 4 ... 128 s), so after a
minute away the API and the dispatcher went on answering 503 for about another minute. The server is reached
through a gate this test opens and closes (its own connections only: the suite's server never goes down)."""

from __future__ import annotations

import select
import socket
import threading
import time
from contextlib import suppress

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from crowdship.db import open_pool

OUTAGE_S = 20.0
"""Long enough for psycopg's pool to wait 8 s, then 16 s, between its attempts: one comes 14 to 17 s after the
crash, the next 28 to 34 s after it, 8 s or more after the server's return."""
TRIED_WITHIN_S = 4.0
"""The pool tries the server again within this of its return (README, "Faults": "within about two seconds").
While the server is away the pool tries at once, about 1 s and 3 s later, gives up at 5 s
(`crowdship.db.RECONNECT_WINDOW_S`) and the next borrower starts again: no gap over about 2.2 s, plus this test's
0.5 s between borrowers; psycopg's own schedule tries next 8 s or more after the return. Timed where the pool's
connection arrives, so what is pinned is when the pool tries, which a busy machine barely moves (the rest is
margin for its timers), not the handshake and first query after it, which it can slow by seconds."""
USABLE_WITHIN_S = 40.0
"""...and a connection it made is handed out and answers: that part is the machine's, however busy."""


class Gate:
    """A TCP forwarder to the real server: closing it refuses new connections and cuts the ones it carries, as a
    server crash does; opening it lets them through again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._carried: list[socket.socket] = []
        self.arrivals: list[float] = []
        """When each connection came through (`time.monotonic`)."""
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            carried, self._carried = self._carried, []
        for sock in [listener, *carried]:
            if sock is not None:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self.arrivals.append(time.monotonic())
            server = socket.create_connection(self.target)
            with self._lock:
                self._carried += [client, server]
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    @staticmethod
    def _pipe(one: socket.socket, other: socket.socket) -> None:
        ends = {one: other, other: one}
        try:
            while True:
                readable, _, _ = select.select(list(ends), [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    ends[sock].sendall(data)
        except (OSError, ValueError):  # cut by `close`: a socket closed under select
            return
        finally:
            for sock in ends:
                sock.close()


def _borrows(pool: ConnectionPool, timeout: float) -> bool:
    try:
        with pool.connection(timeout=timeout) as connection:
            connection.execute("SELECT 1")
    except (psycopg.Error, PoolTimeout):
        return False
    return True


def test_a_pool_connects_again_within_seconds_after_a_long_outage(database_url: str) -> None:
    given = conninfo_to_dict(database_url)
    gate = Gate((str(given.get("host") or "127.0.0.1"), int(given.get("port") or 5432)))
    gate.open()
    through_gate = make_conninfo(database_url, host="127.0.0.1", port=str(gate.port))
    try:
        with open_pool(through_gate, min_size=1, max_size=2, name="gate", timeout_s=0.3, connect_timeout_s=1) as pool:
            assert _borrows(pool, timeout=5)
            gate.close()
            crashed = time.monotonic()
            while time.monotonic() - crashed < OUTAGE_S:  # requests go on meanwhile, each answered 503 at once
                assert not _borrows(pool, timeout=0.3)
                time.sleep(0.2)
            back = time.monotonic()
            gate.open()
            while not _borrows(pool, timeout=0.3):
                assert time.monotonic() - back < USABLE_WITHIN_S, "the pool never connected again"
                time.sleep(0.2)
    finally:
        gate.close()
    tried = min(arrival for arrival in gate.arrivals if arrival >= back) - back
    assert tried < TRIED_WITHIN_S, f"tried the server again {tried:.1f} s after it came back"
