"""One asyncio event loop in a daemon thread, for code that is not async.

The WSGI adapter (and Django in sync mode) run each request in a thread of
their own, but providers are coroutines. They are scheduled on this loop
and the request thread waits for their results with a timeout.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

logger = logging.getLogger("edge_personalize.loop")

T = TypeVar("T")

# Seconds past a plan's deadline that a request thread waits for the loop
# thread before it gives up on the fragments: a margin for a busy loop.
LOOP_MARGIN = 1.0


class LoopThread:
    """An event loop in a daemon thread, started on first use in each process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        """Return the running loop, starting it (again, after a fork) if needed."""
        pid = os.getpid()
        loop = self._loop
        if loop is not None and self._pid == pid:
            return loop
        with self._lock:
            if self._loop is None or self._pid != pid:
                self._loop = asyncio.new_event_loop()
                self._pid = pid
                thread = threading.Thread(
                    target=self._loop.run_forever,
                    name="edge-personalize-loop",
                    daemon=True,
                )
                thread.start()
            return self._loop

    def call_soon(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` in the loop thread."""
        self.loop().call_soon_threadsafe(callback)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T | None:
        """Run ``coro`` in the loop; return its result, or ``None`` on timeout."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop())
        try:
            return future.result(max(timeout, 0.0))
        except concurrent.futures.TimeoutError:
            future.cancel()
            logger.warning(
                "Waiting for the personalization loop timed out after %.2f s", timeout
            )
            return None


_SHARED = LoopThread()
_SHUTDOWN_CALLBACKS: list[Callable[[], Coroutine[Any, Any, None]]] = []


def shared_loop_thread() -> LoopThread:
    """Return the loop thread shared by every adapter in this process.

    The slot tasks are small, so one thread serves every middleware
    instance; one thread per instance would only add threads.
    """
    return _SHARED


def on_shutdown(callback: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``callback()`` on the shared loop when the interpreter exits.

    Personalizers register their ``aclose`` here when a sync adapter uses
    them, so that provider connections are closed on shutdown.
    """
    if callback not in _SHUTDOWN_CALLBACKS:
        _SHUTDOWN_CALLBACKS.append(callback)


@atexit.register
def _close_at_exit() -> None:
    if _SHARED._loop is None or _SHARED._pid != os.getpid():
        return
    for callback in _SHUTDOWN_CALLBACKS:
        _SHARED.run(callback(), timeout=5.0)
