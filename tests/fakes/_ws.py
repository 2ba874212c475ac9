"""A small threaded WebSocket server on 127.0.0.1 that stream fakes build on (websockets' sync server), with faults.

A fake subclasses :class:`WsFake` and implements :meth:`WsFake.on_open` (greet a new
connection) and :meth:`WsFake.on_message` (answer one client frame); it keeps per-connection
state in ``self.subs[conn]`` and pushes with :meth:`WsFake.send`. Faults:

- :meth:`WsFake.drop`: cut every connection without a close frame (the network went
  away) and refuse new handshakes with HTTP 503 until :meth:`WsFake.resume`;
- :meth:`WsFake.silence`: keep the sockets open but push nothing.
"""

from __future__ import annotations

import socket
import threading
from http import HTTPStatus
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class WsFake:
    """Base of the stream fakes: server lifecycle, per-connection subscriptions, faults."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.subs: dict[ServerConnection, list[Any]] = {}
        self.down = False
        self.silent = False
        self.connections = 0  # handshakes accepted
        self.refused = 0  # handshakes refused while down
        self.sent: list[Any] = []  # every market-data message pushed (any connection)
        self._server: Server | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> WsFake:
        """Start serving on a free port of 127.0.0.1."""
        self._server = serve(self._handle, "127.0.0.1", 0, process_request=self._gate, compression=None, ping_interval=None)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every connection."""
        self._cut()
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Return ``ws://127.0.0.1:PORT`` (an origin: the client keeps the real service's path)."""
        assert self._server is not None, "start() the fake first"
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}"

    # -- faults ----------------------------------------------------------------
    def drop(self) -> None:
        """Cut every connection without a close frame and refuse new ones until :meth:`resume`."""
        with self.lock:
            self.down = True
        self._cut()

    def resume(self) -> None:
        """Accept connections again."""
        with self.lock:
            self.down = False

    def silence(self, on: bool = True) -> None:
        """Keep the sockets open but push nothing (a stalled stream) while ``on``."""
        with self.lock:
            self.silent = on

    def subscribers(self) -> int:
        """Return how many open connections have a subscription."""
        with self.lock:
            return sum(1 for subs in self.subs.values() if subs)

    # -- to implement ------------------------------------------------------------
    def on_open(self, conn: ServerConnection) -> None:
        """Greet a new connection (called under ``self.lock``)."""

    def on_message(self, conn: ServerConnection, raw: str | bytes, subs: list[Any]) -> None:
        """Answer one frame from the client (called under ``self.lock``)."""
        raise NotImplementedError

    # -- plumbing ----------------------------------------------------------------
    def send(self, conn: ServerConnection, data: str | bytes) -> bool:
        """Send one frame; False when the connection is gone."""
        try:
            conn.send(data)
        except (ConnectionClosed, OSError):
            return False
        return True

    def _gate(self, conn: ServerConnection, request: Any) -> Any:
        with self.lock:
            if self.down:
                self.refused += 1
                return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "stream down\n")
            self.connections += 1
        return None

    def _handle(self, conn: ServerConnection) -> None:
        with self.lock:
            self.subs[conn] = []
            self.on_open(conn)
        try:
            for raw in conn:
                with self.lock:
                    subs = self.subs.get(conn)
                    if subs is not None:  # else cut meanwhile
                        self.on_message(conn, raw, subs)
        except (ConnectionClosed, OSError, ValueError):
            pass
        finally:
            with self.lock:
                self.subs.pop(conn, None)

    def _cut(self) -> None:
        with self.lock:
            conns = list(self.subs)
            self.subs = {}
        for conn in conns:
            try:
                conn.socket.shutdown(socket.SHUT_RDWR)  # no close frame: the network went away
            except OSError:
                pass
