"""Servers on 127.0.0.1 for the emulators: uvicorn, a resetter, a refuser."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

HOST = "127.0.0.1"

# Seconds a server may take to start, and a condition to come true.
STARTUP_TIMEOUT = 30.0
WAIT_TIMEOUT = 10.0


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_TIMEOUT) -> bool:
    """Poll ``condition`` until it is true; return False after ``timeout`` s."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@contextmanager
def serve_asgi(app: Any, *, lifespan: str = "on") -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread; yield its base URL.

    With ``lifespan="on"`` the app gets its shutdown event when the
    context ends, so that it can close its connections in its own loop.
    """
    # With proto=0, asyncio does not set TCP_NODELAY on the accepted
    # connections. Nagle's algorithm then delays each response body until
    # the client's delayed ACK arrives, about 40 ms per request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    # log_config=None leaves pytest's logging setup alone.
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        log_config=None,
        access_log=False,
        http="h11",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    thread.start()
    try:
        if not wait_until(lambda: server.started, STARTUP_TIMEOUT):
            raise RuntimeError(f"uvicorn did not start within {STARTUP_TIMEOUT} s")
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def refused_url() -> str:
    """Return a loopback URL whose port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    return f"http://{HOST}:{port}"


class ResetServer:
    """Accept connections, read the request and reset the connection (RST).

    Setting SO_LINGER to zero makes close() send a reset instead of the
    orderly FIN, which is what a crashing server or a middlebox does.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((HOST, 0))
        self._sock.listen()
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="resetter")
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._sock.getsockname()[1]}"

    def __enter__(self) -> ResetServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2.0)
                try:
                    conn.recv(65536)
                except OSError:
                    pass
                conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connections += 1
