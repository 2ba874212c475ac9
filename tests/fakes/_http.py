"""A small threaded HTTP server on 127.0.0.1 that venue fakes build on, with fault injection.

A fake subclasses :class:`FakeVenue` and implements :meth:`FakeVenue.route`.
Faults are queued with :meth:`FakeVenue.inject` and consumed by the next
matching request:

- ``timeout``: handle the request (state changes happen), then sleep ``delay``
  seconds before answering, so the client times out with the order placed;
  ``process=False`` sleeps without handling it.
- ``429``: answer 429 with ``Retry-After`` without handling it.
- ``500``: answer 500 without handling it.
- ``401``: answer 401 with a gateway's body (``{"error": "unauthorized"}``, no venue fields), as a
  proxy or an expired-session front end does.
- ``drop``: handle the request (``process=True``, default) or not, then close the
  connection without any answer.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Request:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    json: Any
    headers: dict[str, str]
    raw_query: str = ""
    raw_body: str = ""


@dataclass
class Reply:
    """What the fake answers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Fault:
    kind: str
    method: str | None
    path: str | None
    params: dict[str, Any]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that went away mid-request (a killed process, a timeout): what the venue sees, not a fault of the fake
        super().handle_error(request, client_address)


class FakeVenue:
    """Base of the venue fakes: server lifecycle, request log, fault queue."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults: deque[Fault] = deque()
        self.log: list[tuple[str, str]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.latency = 0.0  # seconds added to every request, to give venues different speeds
        self._conns: set = set()

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> FakeVenue:
        """Start serving on a free port of 127.0.0.1."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def setup(self) -> None:
                super().setup()
                with fake.lock:
                    fake._conns.add(self.connection)

            def finish(self) -> None:
                with fake.lock:
                    fake._conns.discard(self.connection)
                super().finish()

            def _any(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any  # noqa: N815 (http.server naming)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: close kept-alive connections too, so the port then refuses every request."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(2)
            except OSError:
                pass

    def __enter__(self) -> FakeVenue:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Return ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    # -- faults ------------------------------------------------------------------
    def inject(self, kind: str, method: str | None = None, path: str | None = None, times: int = 1, **params: Any) -> None:
        """Queue a fault for the next ``times`` requests matching ``method`` and the ``path`` prefix.

        ``skip=n`` lets the first ``n`` matching requests through before the fault applies.
        """
        if kind not in {"timeout", "429", "500", "401", "drop"}:
            raise ValueError(f"unknown fault {kind!r}")
        with self.lock:
            for _ in range(times):
                self.faults.append(Fault(kind, method, path, params))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in list(self.faults):
                if (fault.method is None or fault.method == method) and (fault.path is None or path.startswith(fault.path)):
                    if fault.params.get("skip", 0) > 0:
                        # All queued copies of this fault share the skip count.
                        for f in self.faults:
                            if f.kind == fault.kind and f.method == fault.method and f.path == fault.path:
                                f.params = {**f.params, "skip": f.params["skip"] - 1}
                        return None
                    self.faults.remove(fault)
                    return fault
        return None

    def count(self, method: str, path: str) -> int:
        """Return how many requests ``method path`` the fake received (faulted ones included)."""
        with self.lock:
            return sum(1 for m, p in self.log if m == method and p == path)

    # -- to implement ----------------------------------------------------------
    def route(self, req: Request) -> Reply:
        """Answer one request (called under ``self.lock``)."""
        raise NotImplementedError

    def error_reply(self, status: int, retry_after: float | None = None) -> Reply:
        """Return the venue's own body for an injected 429 or 500."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return Reply(status, {"error": "injected", "status": status}, headers)

    # -- plumbing ----------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw_body = h.rfile.read(length).decode() if length else ""
        ctype = h.headers.get("Content-Type") or ""
        form: dict[str, str] = {}
        body_json: Any = None
        if raw_body:
            if "json" in ctype:
                body_json = json.loads(raw_body)
            else:
                form = {k: v[-1] for k, v in parse_qs(raw_body, keep_blank_values=True).items()}
        req = Request(
            method=h.command,
            path=parsed.path,
            query={k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()},
            form=form,
            json=body_json,
            headers={k: v for k, v in h.headers.items()},
            raw_query=parsed.query,
            raw_body=raw_body,
        )
        with self.lock:
            self.log.append((req.method, req.path))
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(req.method, req.path)
        reply: Reply | None = None
        if fault is None or (fault.kind in {"timeout", "drop"} and fault.params.get("process", True)):
            with self.lock:
                reply = self.route(req)
        if fault is not None:
            if fault.kind == "timeout":
                time.sleep(float(fault.params.get("delay", 1.0)))
            elif fault.kind == "drop":
                h.close_connection = True
                try:
                    h.connection.shutdown(2)
                except OSError:
                    pass
                return
            elif fault.kind == "429":
                reply = self.error_reply(429, fault.params.get("retry_after", 1))
            elif fault.kind == "500":
                reply = self.error_reply(500)
            elif fault.kind == "401":
                reply = Reply(401, {"error": "unauthorized", "status": 401})
        if reply is None:
            reply = Reply(504, {"error": "no reply"})
        self._write(h, reply)

    @staticmethod
    def _write(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            data = reply.body
        elif isinstance(reply.body, str):
            data = reply.body.encode()
        else:
            data = json.dumps(reply.body).encode()
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.content_type)
            h.send_header("Content-Length", str(len(data)))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client gave up (timeout): exactly what a timeout looks like
